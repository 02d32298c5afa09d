/// Stent.Testing for users' workflows: the replayer catches code that no longer matches a recorded history (a clock
/// read in a lambda included), and the crash checks and FsCheck properties pass for pure workflows and fail for others.
module TestingTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Replay
open Stent.Testing
open Support

let private twice = Durable.createSync "testing_twice" (fun (x: int64) _ -> x * 2L)

/// A pure workflow: a fan-out and a sleep.
let private pure' = Workflow.define "testing_pure" (fun (xs: int list) -> workflow {
    let! ys = xs |> Workflow.traverse (int64 >> twice.Call)
    do! Workflow.sleep "1m"
    return List.sum ys })

/// A workflow that reads the clock in workflow code: its step's input differs on every replay.
let private stamped = Workflow.define "testing_stamped" (fun (xs: int list) -> workflow {
    let! y = twice.Call (DateTime.UtcNow.Ticks + int64 xs.Length)
    return y })

let private options = WorkerOptions(Serializer = Json.serializer)

/// Records an execution of `def` on `input` and exports its history to a file, as `stent export` does.
let private exported (def: WorkflowDef<'I, 'O>) (input: 'I) =
    use e = new TestEnvironment(Func<_, _>(inMemory.Open), options)
    e.RunAsync(def, input, "recorded").Result |> ignore
    let path = Path.Combine(Path.GetTempPath(), $"stent-history-{Guid.NewGuid():N}.jsonl")
    using (File.CreateText path) (fun w -> HistoryFile.WriteAsync(w, e.Store.ReadAsync("recorded").Result).Wait())
    path

/// Version 1 of a workflow, and code deployed later under the same name and version that schedules another step first.
let private add = Durable.createSync "testing_add" (fun (x: int) _ -> x + 1)
let private times = Durable.createSync "testing_times" (fun (x: int) _ -> x * 10)
let private original = Workflow.define "testing_changed" (fun (x: int) -> workflow {
    let! y = add.Call x
    let! go = Workflow.waitForSignal<int> "go"
    return! times.Call (y + go) })
let private changed = Workflow.define "testing_changed" (fun (x: int) -> workflow {
    let! y = times.Call x
    let! go = Workflow.waitForSignal<int> "go"
    return! times.Call (y + go) })

/// An execution that code no longer matching its history picks up is parked as blocked; the environment's run ends
/// there (it moves on only with other code), and once the matching code is back, the next run carries it on.
let private blockedLeavesTheRunIdle (kind: StoreKind) =
    use e = new TestEnvironment(Func<_, _>(kind.Open), options)
    e.Register(original) |> ignore
    let id = e.DispatchAsync(original, 1).Result
    e.RunUntilIdleAsync().Wait()
    e.Register(changed).RestartWorker()
    e.Client.SignalAsync(id, "go", 5).Result |> ignore
    e.RunUntilIdleAsync().Wait()
    Expect.equal (e.Store.GetExecutionAsync(id).Result.State) ExecutionState.Blocked "left blocked"
    e.Register(original).RestartWorker()
    e.RunUntilIdleAsync().Wait()
    Expect.equal (value (e.ResultAsync<int>(id).Result)) 70 "matching code carries it on: (1 + 1 + 5) * 10"

let tests =
    testList "Testing kit" [
        testList "a run leaves an execution its code no longer matches blocked, and matching code carries it on"
            (storeKinds |> List.map (fun kind -> testCase kind.Name (fun () -> blockedLeavesTheRunIdle kind)))
        test "the replayer replays an exported history on today's code to the same end" {
            let report = Replayer.ReplayFile(pure', exported pure' [ 1; 2; 3 ], Json.serializer)
            Expect.equal report.State ExecutionState.Completed "ended as recorded"
            Expect.equal report.Output "12" "with the recorded result"
            Expect.isEmpty report.NextCommands "nothing more to do"
        }
        test "the replayer catches a clock read in workflow code: the step's input is not the recorded one" {
            let path = exported stamped [ 1 ]
            let e = throws<NonDeterminismException> (fun () ->
                Replayer.ReplayFile(stamped, path, Json.serializer) |> ignore)
            Expect.equal e.Position "0" "at the step"
            Expect.stringContains e.Message "testing_twice" "naming the step"
        }
        test "the replayer refuses the history of another workflow, naming both" {
            let e = throws<ArgumentException> (fun () ->
                Replayer.ReplayFile(stamped, exported pure' [ 1 ], Json.serializer) |> ignore)
            Expect.stringContains e.Message "'testing_pure', not 'testing_stamped'" "names both"
        }
        test "the crash check passes for a pure workflow and fails, saying why, for one that reads the clock" {
            WorkflowChecks.CrashAtEveryWriteAsync(pure', [ 1; 2; 3 ], options).Wait()
            let e = throws<AggregateException> (fun () ->
                WorkflowChecks.CrashAtEveryWriteAsync(stamped, [ 1 ], options).Wait())
            Expect.isTrue (e.InnerException :? WorkflowCheckException) "a check failure"
            Expect.stringContains e.InnerException.Message "does not replay" "the history does not replay"
            Expect.stringContains e.InnerException.Message "Workflow.Now()" "and the fix is named"
        }
        test "the FsCheck property holds for a pure workflow on generated inputs, fails for one that reads the clock" {
            let config = Config.QuickThrowOnFailure.WithMaxTest(5)
            let inputs = ArbMap.defaults |> ArbMap.arbitrary<int list>
            Check.One(config, WorkflowProperties.SurvivesCrashes(pure', inputs, options, maxCrashes = 8))
            let e = throws<Exception> (fun () ->
                Check.One(config, WorkflowProperties.SurvivesCrashes(stamped, inputs, options, maxCrashes = 4)))
            Expect.stringContains e.Message "does not replay" "the failing check's reason is reported"
        }
    ]
