/// The event-store contract the in-process runtime uses (IEventStore), tested on the in-memory store.
module StoreConformance

open System
open System.Threading.Tasks
open Expecto
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Replay
open Stent.Storage
open Support

/// A fresh, isolated store of each kind (the database stores are tested through IWorkStore in WorkStoreConformance).
let private stores : (string * (unit -> IEventStore)) list =
    [ "in-memory", (fun () -> InMemoryStore() :> IEventStore) ]

let private sample : HistoryEvent list =
    [ ExecutionStarted("wf", 1, "[1,2]", DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
      StepScheduled("0.1/0", "process_item", "2")
      TimerStarted("1", DateTimeOffset(2026, 1, 1, 0, 0, 1, TimeSpan.Zero), "sleep")
      ValueRecorded("2", "guid", "\"6f1c\"")
      ProgressReported("3", ProgressReport("chunk 1/2", 5L, 10L))
      DecisionCompleted 1
      StepAttemptFailed("0.1/0", 1, Failure.FromException(TimeoutException "slow", "process_item", "0.1/0"), DateTimeOffset(2026, 1, 1, 0, 0, 2, TimeSpan.Zero))
      StepCompleted("0.1/0", "{\"id\":2}", null, 2)
      StepFailed("0.0/0", Failure.FromException(InvalidOperationException "bad", "process_item", "0.0/0"), 3)
      TimerFired "1"
      ExecutionFailed(BusinessError "nothing succeeded")
      ExecutionCompleted "42" ]

let private read (store: IEventStore) id : HistoryEvent list = store.ReadAsync(id).Result |> List.ofSeq

/// Appends, returning the exception instead of throwing it.
let private tryAppend (store: IEventStore) id version (events: HistoryEvent list) : Result<int64, exn> =
    try Ok(store.AppendAsync(id, version, events).GetAwaiter().GetResult()) with e -> Error e

let private conformance (name, make: unit -> IEventStore) =
    testList name [
        test "events of every kind round-trip in order" {
            let store = make ()
            Expect.equal (tryAppend store "a" 0L sample) (Ok(int64 sample.Length)) "version"
            let back = read store "a"
            Expect.equal (back |> List.map string) (sample |> List.map string) "same events"
            match back[6] with
            | :? StepAttemptFailed as f -> Expect.equal f.Error.TypeChain[0] "System.TimeoutException" "failure type chain kept"
            | e -> failtestf "unexpected %O" e
        }
        test "an append at a stale version is rejected and writes nothing" {
            let store = make ()
            tryAppend store "b" 0L (List.take 2 sample) |> ignore
            let isConflict (r: Result<int64, exn>) = match r with Error (:? ConcurrencyConflictException) -> true | _ -> false
            Expect.isTrue (isConflict (tryAppend store "b" 1L [ DecisionCompleted 1 ])) "stale version conflicts"
            Expect.isTrue (isConflict (tryAppend store "b" 0L [ DecisionCompleted 1 ])) "creating an existing stream conflicts"
            Expect.equal (read store "b").Length 2 "nothing written"
        }
        test "of eight writers racing at one version exactly one wins" {
            let store = make ()
            tryAppend store "race" 0L (List.take 1 sample) |> ignore
            let wins =
                [| for i in 1..8 -> Task.Run(fun () -> tryAppend store "race" 1L [ ProgressReported($"{i}", ProgressReport($"writer {i}")) ]) |]
                |> Task.WhenAll |> fun t -> t.Result
                |> Array.filter (function Ok _ -> true | _ -> false)
            Expect.equal wins.Length 1 "one winner"
            Expect.equal (read store "race").Length 2 "one event appended"
        }
        test "an empty append is refused, a missing stream reads empty, streams list oldest first" {
            let store = make ()
            Expect.isTrue (match tryAppend store "c" 0L [] with Error (:? ArgumentException) -> true | _ -> false) "empty refused"
            Expect.isEmpty (read store "missing") "empty"
            for id in [ "s1"; "s2"; "s3" ] do tryAppend store id 0L (List.take 1 sample) |> ignore
            Expect.equal (store.ListStreamsAsync().Result |> List.ofSeq) [ "s1"; "s2"; "s3" ] "order"
        }
        test "idempotent results: the first stored result for a key wins" {
            let store = make () :?> IIdempotencyStore
            store.PutAsync("k", "1").Wait()
            store.PutAsync("k", "2").Wait()
            Expect.equal (store.TryGetAsync("k").Result) "1" "first wins"
            Expect.isNull (store.TryGetAsync("other").Result) "missing"
        }
        test "a workflow crashed mid-run resumes on the store without re-running completed steps" {
            let inner = make ()
            let calls = Calls()
            let step = Durable.createSync "item" (fun (x: int) ctx -> calls.Hit ctx; x * 2)
            let wf = Workflow.define "batch" (fun (xs: int list) -> xs |> Workflow.chunk 10 (Some "1s") (Workflow.traverse step.Call) |> Workflow.map List.sum)
            let clock = ManualClock()
            let crashed = try LocalRuntime(CrashingStore(inner, 6), deterministic clock).RunAsync(wf, [ 1..40 ], "e").Wait(); false with :? AggregateException -> true
            Expect.isTrue crashed "crashed"
            let completedBefore = read inner "e" |> List.choose (function :? StepCompleted as c -> Some c.Position | _ -> None)
            let callsBefore = completedBefore |> List.map (fun p -> calls.For $"e/{p}")
            let r = LocalRuntime(inner, deterministic clock).Register(wf).RunAsync(wf, [ 1..40 ], "e").Result
            Expect.equal (value r) (List.sum [ 2..2..80 ]) "result"
            Expect.equal (completedBefore |> List.map (fun p -> calls.For $"e/{p}")) callsBefore "completed steps not run again"
            let completed = read inner "e" |> List.filter (fun e -> e :? StepCompleted) |> List.length
            Expect.equal completed 40 "every item completed exactly once in the history"
        }
    ]

let tests = testList "Store conformance" (stores |> List.map conformance)
