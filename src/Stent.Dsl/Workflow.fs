/// Pipeable functions over Workflow<'T>: map, bind, traverse, traverseAll, chunk, retry, sleep and friends.
namespace Stent.Dsl

open System
open Stent

/// Raised inside `try … with` of a `workflow { }` for a workflow error; carries the error.
exception WorkflowErrorException of WorkflowError

/// Functions that build and combine workflows; pipe them (`ids |> Workflow.traverseAll processItem`).
[<RequireQualifiedAccess>]
[<CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module Workflow =
    /// A workflow that produces a value and records nothing.
    let ret (value: 'T) : Workflow<'T> = Workflow.Pure value

    /// A workflow that produces unit.
    let unit: Workflow<unit> = Workflow.Pure ()

    /// Stops with a business error.
    let fail<'T> (error: string) : Workflow<'T> = Workflow.Fail<'T>(error)

    /// Continues when the condition holds, else stops with a business error.
    let ensure (condition: bool) (error: string) : Workflow<unit> = Workflow.Ensure(condition, error).Select(fun _ -> ())

    /// Transforms the value.
    let map (f: 'T -> 'U) (w: Workflow<'T>) : Workflow<'U> = w.Select(Func<_, _> f)

    /// Continues with the workflow built from the value.
    let bind (f: 'T -> Workflow<'U>) (w: Workflow<'T>) : Workflow<'U> = w.SelectMany(Func<_, _> f)

    /// Discards the value.
    let ignore (w: Workflow<'T>) : Workflow<unit> = map (fun _ -> ()) w

    /// Builds the workflow only when it runs (must be pure: it runs again on replay).
    let delay (f: unit -> Workflow<'T>) : Workflow<'T> = Workflow.Defer(Func<_> f)

    /// The C# facade's name for `delay` (`Workflow.Defer`).
    let defer (f: unit -> Workflow<'T>) : Workflow<'T> = delay f

    /// A durable sleep ("100ms", "30s", "1.5h", "2d8h").
    let sleep (duration: string) : Workflow<unit> = Workflow.Sleep(Duration.Parse duration) |> ignore

    /// A durable sleep of a TimeSpan.
    let sleepFor (duration: TimeSpan) : Workflow<unit> = Workflow.Sleep(Duration.From duration) |> ignore

    /// True where the workflow takes the changed path marked `id`, false for an execution that went past this point
    /// on the code from before the change (see `Workflow.Patched`).
    let patched (id: string) : Workflow<bool> = Workflow.Patched id

    /// A signal declared once, by name and payload type: wait for it with `waitFor` / `waitForTimeout`, send it with
    /// `client.SignalAsync(id, signal, payload)`.
    let signal<'T> (name: string) : Signal<'T> = Signal<'T>(name)

    /// Waits (durably) for the next signal declared as `signal`, typed as declared.
    let waitFor (signal: Signal<'T>) : Workflow<'T> = signal.Wait()

    /// Waits (durably) for the next signal named `name` and returns its payload.
    let waitForSignal<'T> (name: string) : Workflow<'T> = Workflow.WaitForSignal<'T>(name)

    /// Waits for the next signal declared as `signal` for at most `timeout` ("30s", "2d"): `Some` payload, or `None`
    /// when the wait timed out.
    let waitForTimeout (timeout: string) (signal: Signal<'T>) : Workflow<'T option> =
        signal.Wait(Duration.Parse timeout) |> map (fun o -> if o.HasValue then Some o.Value else None)

    /// Logs from workflow code: recorded, and written to the worker's logger once, never again on replay.
    let log (level: Microsoft.Extensions.Logging.LogLevel) (template: string) (args: obj list) : Workflow<unit> =
        Workflow.Log(level, template, Array.ofList args) |> ignore

    /// Records a value of the execution's custom state under `key` (shown by `client.GetAsync` and `stent show`).
    let setState (key: string) (value: 'T) : Workflow<unit> = Workflow.SetState(key, value) |> ignore

    /// The current time, recorded.
    let now: Workflow<DateTimeOffset> = Workflow.Now()

    /// A new GUID, recorded.
    let newGuid: Workflow<Guid> = Workflow.NewGuid()

    /// A random integer in [lo, hi), recorded.
    let random lo hi : Workflow<int> = Workflow.Random(lo, hi)

    /// Records a progress report.
    let progress (message: string) (done': int64) (total: int64) : Workflow<unit> =
        Workflow.Progress(message, done', total) |> ignore

    let private toResult (r: Stent.Result<'T>) : Result<'T, WorkflowError> =
        match r.Error with
        | null -> Ok r.Value
        | e -> Error e

    /// Runs another workflow as a child execution with its own stream and continues with its result
    /// (`Workflow.child importCustomers batch`). Ending or cancelling the parent cancels a child still running.
    let child (definition: WorkflowDef<'In, 'Out>) (input: 'In) : Workflow<'Out> = Workflow.Child(definition, input)

    /// Every workflow's value, concurrently, in order; the first error ends it.
    let whenAll (ws: Workflow<'T> seq) : Workflow<'T list> = Workflow.WhenAll ws |> map List.ofSeq

    /// The first workflow to finish.
    let whenAny (ws: Workflow<'T> seq) : Workflow<'T> = Workflow.WhenAny ws

    /// Runs `f` on every item concurrently; values in input order; fails fast.
    let traverse (f: 'T -> Workflow<'U>) (items: 'T seq) : Workflow<'U list> =
        items.Traverse(Func<_, _> f) |> map List.ofSeq

    /// Runs `f` on every item concurrently and waits for all: an F# Result per item, input order.
    let traverseAll (f: 'T -> Workflow<'U>) (items: 'T seq) : Workflow<Result<'U, WorkflowError> list> =
        items.TraverseAll(Func<_, _> f) |> map (Seq.map toResult >> List.ofSeq)

    /// The outcome as a value.
    let attempt (w: Workflow<'T>) : Workflow<Result<'T, WorkflowError>> = w.Attempt() |> map toResult

    /// Sequential chunks of `size` through `perChunk`, a progress report after each, and a durable pause between chunks.
    let chunk (size: int) (pause: string option) (perChunk: 'T list -> Workflow<'U list>) (items: 'T seq) : Workflow<'U list> =
        let pause = pause |> Option.map Duration.Parse |> Option.defaultValue Duration.Zero
        let perChunk = Func<Collections.Generic.IReadOnlyList<'T>, _>(fun c ->
            perChunk (List.ofSeq c) |> map (fun l -> l :> Collections.Generic.IReadOnlyList<'U>))
        items.Chunk(size, perChunk, pause)
        |> map List.ofSeq

    /// Runs the whole workflow again after a failure, as the policy says (durable back-off timers).
    let retry (policy: RetryPolicy) (w: Workflow<'T>) : Workflow<'T> = w.Retry policy

    /// On any error, continues with the handler's workflow.
    let catch (handler: WorkflowError -> Workflow<'T>) (w: Workflow<'T>) : Workflow<'T> = w.Catch(Func<_, _> handler)

    /// On any error, produces the handler's value.
    let recover (handler: WorkflowError -> 'T) (w: Workflow<'T>) : Workflow<'T> = w.Recover(Func<_, _> handler)

    /// Runs the cleanup workflow after `w`, whatever its outcome.
    let tryFinally (cleanup: Workflow<'C>) (w: Workflow<'T>) : Workflow<'T> = w.Finally cleanup

    /// Defines a named workflow.
    let define (name: string) (body: 'In -> Workflow<'Out>) : WorkflowDef<'In, 'Out> = Workflow.Define(name, Func<_, _> body)
