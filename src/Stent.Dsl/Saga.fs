/// Sagas from F#: steps paired with compensations, `saga { }` (runs itself: no extra call), pipeable functions.
namespace Stent.Dsl

open System
open Stent

/// Builds and runs sagas: when a step fails, the compensations of the steps that finished run in reverse order.
[<RequireQualifiedAccess>]
[<CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module Saga =
    /// A saga step: `action`, undone by `compensate` of its value if a later step fails.
    let step (compensate: 'T -> Workflow<unit>) (action: Workflow<'T>) : Saga<'T> =
        Saga.Step(action, Func<_, _>(fun v -> (compensate v).Ignore()))

    /// Continues with the saga built from the value.
    let bind (f: 'T -> Saga<'U>) (s: Saga<'T>) : Saga<'U> = s.SelectMany(Func<_, _> f)

    /// Transforms the value.
    let map (f: 'T -> 'U) (s: Saga<'T>) : Saga<'U> = s.Select(Func<_, _> f)

    /// Runs the saga as a workflow: its value, or (after compensating) the error of the step that failed.
    let run (s: Saga<'T>) : Workflow<'T> = s.Run()

/// Builder of `saga { }`: `let!` binds saga steps (`action |> Saga.step compensate`); the result is a workflow.
type SagaBuilder() =
    member _.Return(value: 'T) : Saga<'T> = Saga.Pure value
    member _.ReturnFrom(s: Saga<'T>) : Saga<'T> = s
    member _.Bind(s: Saga<'T>, f: 'T -> Saga<'U>) : Saga<'U> = Saga.bind f s
    member _.BindReturn(s: Saga<'T>, f: 'T -> 'U) : Saga<'U> = Saga.map f s
    member _.Delay(f: unit -> Saga<'T>) : unit -> Saga<'T> = f
    member _.Run(f: unit -> Saga<'T>) : Workflow<'T> = Workflow.Defer(Func<_>(fun () -> (f ()).Run()))

/// The `saga` builder instance.
[<AutoOpen>]
module SagaBuilderInstance =
    /// Builds a saga and gives the workflow that runs it:
    /// `saga { let! f = bookFlight.Call trip |> Saga.step cancel in return f }`.
    let saga = SagaBuilder()
