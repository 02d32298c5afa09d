/// Pattern 9: log records from workflow and step code carry the execution id, step and worker id without plumbing,
/// and replay never writes a line twice.
module LoggingTests

open System
open System.Collections.Concurrent
open System.Collections.Generic
open System.Threading
open Expecto
open Microsoft.Extensions.Logging
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Storage
open Support

open LoggingCapture

let tests =
    testList "Structured logging" [
        test "9. workflow and step log lines carry execution, step and worker ids, and replay never writes one twice" {
            let logs = new CaptureLogs()
            let step = Durable.createSync "logged_item" (fun (id: int) ctx -> ctx.Logger.LogInformation("processing {Id}", id); id)
            let wf = Workflow.define "logged_batch" (fun (ids: int list) -> workflow {
                do! Workflow.Log(LogLevel.Information, "Starting batch of {Count}", ids.Length) |> Workflow.ignore
                let! rs = ids |> Workflow.chunk 2 (Some "50ms") (Workflow.traverse step.Call)
                do! Workflow.Log(LogLevel.Information, "Batch completed with {Total}", List.sum rs) |> Workflow.ignore
                return List.sum rs })
            let store = Stent.Sqlite.SqliteWorkStore.InMemory()
            let options id = WorkerOptions(WorkerId = id, Serializer = Json.serializer, PollMax = TimeSpan.FromMilliseconds 50.0, LoggerFactory = logs)
            let id, r = withWorkers 1 store options (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, [ 1..6 ])
                let! r = c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0)
                return id, r })
            Expect.equal (value r) 21 "result"
            let lines = logs.Records
            let starting = lines |> List.filter (fun l -> l.Message = "Starting batch of 6")
            Expect.equal starting.Length 1 "the workflow's first line once, though the workflow replayed at every decision"
            Expect.equal (lines |> List.filter (fun l -> l.Message = "Batch completed with 21")).Length 1 "the last line once"
            Expect.equal starting[0].Scope["ExecutionId"] id "execution id in scope"
            Expect.equal starting[0].Scope["WorkerId"] "w1" "worker id in scope"
            Expect.equal starting[0].Scope["Workflow"] "logged_batch" "the workflow in scope"
            let steps = lines |> List.filter (fun l -> l.Message.StartsWith "processing")
            Expect.equal steps.Length 6 "one line per step"
            for l in steps do
                Expect.equal l.Scope["ExecutionId"] id "step lines carry the execution id"
                Expect.equal l.Scope["Step"] "logged_item" "and the step"
                Expect.equal l.Scope["WorkerId"] "w1" "and the worker"
                let position = l.Scope["Position"]
                let text = $"ExecutionId={id} Step=logged_item Position={position} Attempt=1 WorkerId=w1"
                Expect.contains l.ScopeText text
                    "the scope reads as key=value text (the console logger prints a scope's text)"
            Expect.equal (lines |> List.filter (fun l -> l.Message.Contains "progress: chunk")).Length 3 "progress per chunk, once each"
        }
        test "9. the C# example writes each of its log lines once, also when crashed at any event boundary and recovered" {
            let wf = Stent.Examples.CSharp.PracticePatterns.Monitored
            let count (logs: CaptureLogs) text = logs.Records |> List.filter (fun l -> l.Message = text) |> List.length
            for k in 0 .. 3 .. 24 do
                let logs = new CaptureLogs()
                use e = new Stent.Testing.TestEnvironment(Func<_, _>(inMemory.Open), WorkerOptions(Seed = 42, LoggerFactory = logs))
                e.DispatchAsync(wf, [| 1..120 |], "x").Wait()
                if k > 0 then e.CrashAt((k + 1) / 2, (k % 2 = 0), "decision")
                e.RunUntilIdleAsync().Wait()
                let r = e.ResultAsync<int>("x").Result
                Expect.equal (value r) 120 $"crash at {k}: result"
                Expect.equal (count logs "Starting batch processing of 120") 1 $"crash at {k}: the first line once"
                Expect.equal (count logs "Batch completed: 120/120") 1 $"crash at {k}: the last line once"
                let progress = logs.Records |> List.filter (fun l -> l.Message.Contains "progress: chunk") |> List.map (fun l -> l.Message)
                Expect.equal progress (List.distinct progress) $"crash at {k}: each chunk's progress once"
        }
    ]
