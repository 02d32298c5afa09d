/// Durable functions from F# functions: task-, async- or plain-returning, with options.
namespace Stent.Dsl

open System
open System.Threading.Tasks
open Stent

/// Creates durable functions and calls them.
[<RequireQualifiedAccess>]
[<CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module Durable =
    /// A durable function from a Task-returning F# function.
    let createWith (options: DurableOptions) (name: string) (run: 'In -> StepContext -> Task<'Out>) : Durable<'In, 'Out> =
        Durable.Create(name, Func<_, _, _>(fun i c -> run i c), options)

    /// A durable function from a Task-returning F# function, default options.
    let create name run = createWith DurableOptions.Default name run

    /// A durable function that uses one of the app's services: each attempt resolves 'Service from its own scope of
    /// the worker's services (the host's under AddStent, WorkerOptions.Services otherwise).
    let createUsingWith (options: DurableOptions) (name: string) (run: 'Service -> 'In -> StepContext -> Task<'Out>)
        : Durable<'In, 'Out> =
        Durable.Create<'Service, 'In, 'Out>(name, Func<_, _, _, _>(fun s i c -> run s i c), options)

    /// A durable function that uses one of the app's services, default options.
    let createUsing name run = createUsingWith DurableOptions.Default name run

    /// A durable function from an Async-returning F# function.
    let createAsyncWith (options: DurableOptions) (name: string) (run: 'In -> StepContext -> Async<'Out>) : Durable<'In, 'Out> =
        Durable.Create(name, Func<_, _, _>(fun i c -> Async.StartAsTask(run i c, cancellationToken = c.CancellationToken)), options)

    /// A durable function from an Async-returning F# function, default options.
    let createAsync name run = createAsyncWith DurableOptions.Default name run

    /// A durable function from a plain F# function.
    let createSyncWith (options: DurableOptions) (name: string) (run: 'In -> StepContext -> 'Out) : Durable<'In, 'Out> =
        Durable.CreateSync(name, Func<_, _, _>(fun i c -> run i c), options)

    /// A durable function from a plain F# function, default options.
    let createSync name run = createSyncWith DurableOptions.Default name run

    /// A workflow that runs the durable function once.
    let call (d: Durable<'In, 'Out>) (input: 'In) : Workflow<'Out> = d.Call input
