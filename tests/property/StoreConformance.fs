/// The history side of every store: events of every kind round-trip through a decision, results are kept by key, and
/// a workflow crashed mid-run resumes on the store — the same tests on in-memory SQLite, a SQLite file and PostgreSQL.
module StoreConformance

open System
open Expecto
open Stent
open Stent.Dsl
open Stent.Replay
open Stent.Storage
open Stent.Testing
open Support

let private sample : HistoryEvent list =
    [ StepScheduled("0.1/0", "process_item", "2")
      TimerStarted("1", DateTimeOffset(2026, 1, 1, 0, 0, 1, TimeSpan.Zero), TimerPurpose.Sleep)
      ValueRecorded("2", "guid", "\"6f1c\"")
      ProgressReported("3", ProgressReport("chunk 1/2", 5L, 10L))
      DecisionCompleted 1
      StepAttemptFailed("0.1/0", 1, Failure.FromException(TimeoutException "slow", "process_item", "0.1/0"), DateTimeOffset(2026, 1, 1, 0, 0, 2, TimeSpan.Zero))
      StepCompleted("0.1/0", "{\"id\":2}", null, 2)
      StepFailed("0.0/0", Failure.FromException(InvalidOperationException "bad", "process_item", "0.0/0"), 3)
      TimerFired "1"
      ExecutionFailed(BusinessError "nothing succeeded")
      ExecutionCompleted "42" ]

let private conformance (kind: StoreKind) =
    testList kind.Name [
        test "events of every kind round-trip in order, and a stream is read from any version" {
            use store = kind.Open TimeProvider.System
            store.CreateExecutionAsync(NewExecution("a", "wf", 1, "[1,2]", null, TimeSpan.Zero, Nullable(), null, [], 0)).Wait()
            let d = store.ClaimAsync(ClaimRequest("w", 1, 0, TimeSpan.FromMinutes 1.0)).Result.Decisions[0]
            let commit = DecisionCommit("a", d.LeaseToken, 1L, sample, ExecutionState.Running)
            Expect.isTrue (store.CommitDecisionAsync(commit).Result.Accepted) "appended"
            let back = store.ReadAsync("a").Result |> List.ofSeq
            Expect.equal (back |> List.tail |> List.map string) (sample |> List.map string) "same events"
            Expect.equal (back[0] :?> ExecutionStarted).Input "[1,2]" "the first event is the start"
            match back[6] with
            | :? StepAttemptFailed as f -> Expect.equal f.Error.TypeChain[0] "System.TimeoutException" "failure type chain kept"
            | e -> failtestf "unexpected %O" e
            Expect.equal (store.ReadAfterAsync("a", 10L).Result |> List.ofSeq |> List.map string) (sample |> List.skip 9 |> List.map string) "a tail"
            Expect.isEmpty (store.ReadAsync("missing").Result) "a missing stream reads empty"
        }
        test "idempotent results: the first stored result for a key wins" {
            use store = kind.Open TimeProvider.System
            let results = store :> IIdempotencyStore
            results.PutAsync("k", "1").Wait()
            results.PutAsync("k", "2").Wait()
            Expect.equal (results.TryGetAsync("k").Result) "1" "first wins"
            Expect.isNull (results.TryGetAsync("other").Result) "missing"
        }
        test "a workflow crashed mid-run resumes on the store without re-running completed steps" {
            let calls = Calls()
            let step = Durable.createSync "item" (fun (x: int) ctx -> calls.Hit ctx; x * 2)
            let wf = Workflow.define "batch" (fun (xs: int list) -> xs |> Workflow.chunk 10 (Some "1s") (Workflow.traverse step.Call) |> Workflow.map List.sum)
            use e = envOn kind
            e.DispatchAsync(wf, [ 1..40 ], "e").Wait()
            e.CrashAt(3, false, "decision")
            e.RestartAfterCrash <- false
            let crashed = try e.RunUntilIdleAsync().Wait(); false with :? AggregateException -> true
            Expect.isTrue crashed "crashed"
            let completedBefore = e.Store.ReadAsync("e").Result |> Seq.choose (function :? StepCompleted as c -> Some c.Position | _ -> None) |> List.ofSeq
            let callsBefore = completedBefore |> List.map (fun p -> calls.For $"e/{p}")
            e.RunUntilIdleAsync().Wait()
            Expect.equal (value (e.ResultAsync<int>("e").Result)) (List.sum [ 2..2..80 ]) "result"
            Expect.equal (completedBefore |> List.map (fun p -> calls.For $"e/{p}")) callsBefore "completed steps not run again"
            let completed = e.Store.ReadAsync("e").Result |> Seq.filter (fun e -> e :? StepCompleted) |> Seq.length
            Expect.equal completed 40 "every item completed exactly once in the history"
        }
    ]

let tests = testList "Store conformance" (storeKinds |> List.map conformance)
