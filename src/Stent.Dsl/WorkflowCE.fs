/// The `workflow { }` computation expression: let!, do!, and!, return, return!, for, try/with, try/finally, match!.
namespace Stent.Dsl

open Stent

/// Builder of `workflow { }`. Code inside must be pure: it runs again on every replay.
type WorkflowBuilder() =
    member _.Return(value: 'T) : Workflow<'T> = Workflow.ret value
    member _.ReturnFrom(w: Workflow<'T>) : Workflow<'T> = w
    member _.Zero() : Workflow<unit> = Workflow.unit
    member _.Bind(w: Workflow<'T>, f: 'T -> Workflow<'U>) : Workflow<'U> = Workflow.bind f w
    member _.MergeSources(a: Workflow<'A>, b: Workflow<'B>) : Workflow<'A * 'B> =
        Stent.Workflow.WhenAll([ Workflow.map box a; Workflow.map box b ])
        |> Workflow.map (fun vs -> unbox<'A> vs[0], unbox<'B> vs[1])
    member _.BindReturn(w: Workflow<'T>, f: 'T -> 'U) : Workflow<'U> = Workflow.map f w
    member _.Delay(f: unit -> Workflow<'T>) : Workflow<'T> = Workflow.delay f
    member _.Combine(first: Workflow<unit>, second: Workflow<'T>) : Workflow<'T> = first.Then second
    member _.For(items: 'T seq, body: 'T -> Workflow<unit>) : Workflow<unit> =
        let items = List.ofSeq items
        let rec go rest =
            match rest with
            | [] -> Workflow.unit
            | x :: tail -> body x |> Workflow.bind (fun () -> go tail)
        Workflow.delay (fun () -> go items)
    member _.TryWith(body: Workflow<'T>, handler: exn -> Workflow<'T>) : Workflow<'T> =
        body |> Workflow.catch (fun e -> handler (WorkflowErrorException e))
    /// The `finally` block is workflow code (pure, runs on replay); for a durable cleanup step use `Workflow.tryFinally`.
    member _.TryFinally(body: Workflow<'T>, cleanup: unit -> unit) : Workflow<'T> =
        body.Finally(Workflow.delay (fun () -> cleanup (); Workflow.unit))

/// The `workflow` builder instance.
[<AutoOpen>]
module WorkflowBuilderInstance =
    /// Builds a workflow: `workflow { let! x = step.Call 1 in return x }`.
    let workflow = WorkflowBuilder()
