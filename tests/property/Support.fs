/// Test helpers: a deterministic runtime on the in-memory store with a manual clock, and a store that crashes on cue.
module Support

open System
open System.Collections.Concurrent
open System.Threading.Tasks
open Expecto
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Replay
open Stent.Storage

/// Thrown by a CrashingStore to simulate the process dying at an event boundary.
exception SimulatedCrash of int

/// Wraps a store and throws SimulatedCrash instead of performing the append number `crashAt` (1-based); 0 = never.
type CrashingStore(inner: IEventStore, crashAt: int) =
    let mutable appends = 0
    member _.Appends = appends
    interface IEventStore with
        member _.ReadAsync(id, ct) = inner.ReadAsync(id, ct)
        member _.ListStreamsAsync ct = inner.ListStreamsAsync ct
        member _.AppendAsync(id, expected, events, ct) =
            appends <- appends + 1
            if appends = crashAt then raise (SimulatedCrash appends)
            inner.AppendAsync(id, expected, events, ct)
    interface IIdempotencyStore with
        member _.TryGetAsync(key, ct) = (inner :?> IIdempotencyStore).TryGetAsync(key, ct)
        member _.PutAsync(key, v, ct) = (inner :?> IIdempotencyStore).PutAsync(key, v, ct)

/// Options of a deterministic runtime on a manual clock.
let deterministic (clock: ManualClock) =
    LocalRuntimeOptions(Clock = clock, Deterministic = true, Seed = 42, Serializer = Json.serializer)

/// Runs a workflow definition to its end on a fresh in-memory store; returns the result and the history.
let runFresh (def: WorkflowDef<'I, 'O>) (input: 'I) =
    let store = InMemoryStore()
    let rt = LocalRuntime(store, deterministic (ManualClock()))
    let r = rt.RunAsync(def, input, "exec").Result
    r, store.ReadAsync("exec").Result

/// Crashes the run at (up to 12 spread) append boundaries; each recovery gives the uncrashed result, records every
/// step and pause once, keeps the due time of every pause recorded before the crash, and never records again a step
/// that had completed before it.
let crashEverywhere (def: WorkflowDef<'I, 'O>) (input: 'I) =
    let expected, history = runFresh def input
    let history = List.ofSeq history
    let appends = history |> List.filter (fun e -> e :? DecisionCompleted) |> List.length
    let timers (h: HistoryEvent list) = h |> List.choose (function :? TimerStarted as t -> Some(t.Position, t.DueAt) | _ -> None)
    for k in List.distinct [ for i in 1..12 -> max 1 (i * (appends * 2) / 12) ] do
        let inner = InMemoryStore()
        let clock = ManualClock()
        let crashed = try LocalRuntime(CrashingStore(inner, k), deterministic clock).RunAsync(def, input, "x").Wait(); false with :? AggregateException -> true
        let before = List.ofSeq (inner.ReadAsync("x").Result)
        let r = LocalRuntime(inner, deterministic clock).Register(def).RunAsync(def, input, "x").Result
        let after = List.ofSeq (inner.ReadAsync("x").Result)
        Expect.equal (string r) (string expected) $"crash at append {k} (crashed={crashed}): same result"
        let completed = after |> List.choose (function :? StepCompleted as c -> Some c.Position | :? StepFailed as f -> Some f.Position | _ -> None)
        Expect.equal completed (List.distinct completed) $"crash at {k}: every step recorded once"
        // A pause recorded before the crash keeps its due time; one decided after it is due after its own decision.
        Expect.equal (timers after |> List.map fst) (timers history |> List.map fst) $"crash at {k}: every pause once"
        for position, due in timers before do
            Expect.equal (timers after |> List.find (fun (p, _) -> p = position) |> snd) due $"crash at {k}: the pause at {position} keeps its original due time"
        let doneBefore = before |> List.choose (function :? StepCompleted as c -> Some c.Position | _ -> None) |> set
        let attemptsAfter = after |> List.choose (function :? StepCompleted as c when doneBefore.Contains c.Position -> Some c.Position | _ -> None)
        Expect.equal attemptsAfter.Length doneBefore.Count $"crash at {k}: steps completed before the crash were not recorded again"

/// Runs a workflow (no input) to its end; returns its result.
let run (w: Workflow<'T>) : Stent.Result<'T> =
    fst (runFresh (Workflow.define "test" (fun () -> w)) ())

/// The value of a successful run, or a test failure naming the error.
let value (r: Stent.Result<'T>) = if r.IsOk then r.Value else failwithf "expected a value, got %O" r.Error

/// The error of a failed run.
let error (r: Stent.Result<'T>) = match r.Error with null -> failwithf "expected an error, got %O" r | e -> e

/// Counts invocations of step implementations by idempotency key (execution/position).
type Calls() =
    let calls = ConcurrentDictionary<string, int>()
    member _.Hit(ctx: StepContext) = calls.AddOrUpdate(ctx.IdempotencyKey, 1, fun _ n -> n + 1) |> ignore
    member _.Total = calls.Values |> Seq.sum
    member _.For key = match calls.TryGetValue key with | true, n -> n | _ -> 0
    member _.Keys = calls.Keys |> List.ofSeq
    member _.Clear() = calls.Clear()

/// A durable function that adds one, counting its calls.
let counted (calls: Calls) name =
    Durable.createSync name (fun (x: int) ctx -> calls.Hit ctx; x + 1)

/// Step-kind events of a history, as comparable text (position, kind, name).
let shape (events: HistoryEvent seq) =
    events |> Seq.map (fun e -> e.ToString()) |> List.ofSeq

/// Runs `f`, expecting it to throw 'E; returns the exception.
let throws<'E when 'E :> exn> (f: unit -> unit) : 'E =
    try
        f ()
        failwithf "expected %s" typeof<'E>.Name
    with
    | :? 'E as e -> e
    | :? AggregateException as a when (a.InnerException :? 'E) -> a.InnerException :?> 'E
