/// Traces and metrics: a listener on the "Stent" activity source and meter sees every step attempt and decision.
module TelemetryTests

open System
open System.Collections.Concurrent
open System.Diagnostics
open System.Diagnostics.Metrics
open Expecto
open Stent
open Stent.Diagnostics
open Stent.Dsl
open Stent.Storage
open Support
open System.IO
open Stent.Execution
open Stent.TestWorker

let tests =
    testList "Telemetry" [
        test "steps and decisions are traced and counted under the name Stent, tagged with execution, step and outcome" {
            let activities = ConcurrentQueue<Activity>()
            use listener = new ActivityListener(
                ShouldListenTo = (fun s -> s.Name = StentTelemetry.Name),
                Sample = (fun _ -> ActivitySamplingResult.AllDataAndRecorded),
                ActivityStopped = (fun a -> activities.Enqueue a))
            ActivitySource.AddActivityListener listener
            let measurements = ConcurrentQueue<string * int64 * Map<string, string>>()
            use meters = new MeterListener()
            meters.InstrumentPublished <- fun instrument l -> if instrument.Meter.Name = StentTelemetry.Name then l.EnableMeasurementEvents instrument
            meters.SetMeasurementEventCallback<int64>(fun instrument value tags _ ->
                let tags = tags.ToArray() |> Array.map (fun kv -> kv.Key, string kv.Value) |> Map.ofArray
                measurements.Enqueue((instrument.Name, value, tags)))
            meters.Start()
            let step = Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.Fixed(2, Duration.Parse "10ms"))) "telemetry_step" (fun (x: int) ctx ->
                if x = 3 && ctx.Attempt = 1 then invalidOp "once"
                x)
            let wf = Workflow.define "telemetry_batch" (fun (xs: int list) -> xs |> Workflow.traverse step.Call |> Workflow.map List.sum)
            let id = withWorkers 1 (Stent.Sqlite.SqliteWorkStore.InMemory()) opts (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, [ 1..4 ])
                let! _ = c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0)
                return id })
            let mine = activities |> Seq.filter (fun a -> string (a.GetTagItem "stent.execution_id") = id) |> List.ofSeq
            let steps = mine |> List.filter (fun a -> a.OperationName = "stent.step")
            Expect.equal steps.Length 5 "an activity per attempt: four steps, one retried"
            Expect.isTrue (steps |> List.exists (fun a -> a.Status = ActivityStatusCode.Error)) "the failed attempt is marked"
            Expect.isTrue (steps |> List.forall (fun a -> string (a.GetTagItem "stent.step") = "telemetry_step")) "tagged with the step"
            Expect.isNonEmpty (mine |> List.filter (fun a -> a.OperationName = "stent.decision")) "decisions are traced"
            let counted outcome =
                measurements |> Seq.filter (fun (n, _, t) -> n = "stent.steps" && t.TryFind "stent.step" = Some "telemetry_step" && t.TryFind "stent.outcome" = Some outcome) |> Seq.sumBy (fun (_, v, _) -> v)
            Expect.equal (counted "completed") 4L "completed steps counted"
            Expect.equal (counted "retrying") 1L "the retried attempt counted"
            let ended = measurements |> Seq.filter (fun (n, _, t) -> n = "stent.executions.ended" && t.TryFind "stent.workflow" = Some "telemetry_batch") |> List.ofSeq
            Expect.equal (ended |> List.map (fun (_, _, t) -> t["stent.state"])) [ "Completed" ] "the execution's end counted"
        }
        test "an execution is one trace across processes: decisions, steps and the child descend from the dispatch" {
            let path = Path.Combine(Path.GetTempPath(), $"stent-trace-{Guid.NewGuid():N}.db")
            let traceFile = path + ".traces"
            use requests = new ActivitySource("Stent.Tests.Requests")
            let here = ConcurrentQueue<Activity>()
            use listener = new ActivityListener(
                ShouldListenTo = (fun s -> s.Name = StentTelemetry.Name || s.Name = requests.Name),
                Sample = (fun _ -> ActivitySamplingResult.AllDataAndRecorded),
                ActivityStopped = (fun a -> here.Enqueue a))
            ActivitySource.AddActivityListener listener
            use store = new Stent.Sqlite.SqliteWorkStore(path)
            let client = StentClient(store)
            // The dispatch happens in this process, inside a request's activity; a worker process runs everything.
            let request = requests.StartActivity("request")
            let id = client.DispatchAsync(TracedBatch.Parent, 5).Result
            request.Stop()
            let p = startWorker $"sqlite:{path}" (path + ".log") [ "STENT_TRACE_FILE", traceFile ]
            try
                let r = client.WaitAsync(TracedBatch.Parent, id, TimeSpan.FromSeconds 60.0).Result
                Expect.equal (value r) 30 "5 doubled is 10, the child doubles it to 20, 10 + 20"
            finally
                // SIGTERM: the worker drains, so every activity it started has ended (and is written) when it exits.
                Process.Start("kill", $"-TERM {p.Id}").WaitForExit()
                if not (p.WaitForExit 20_000) then stopAll [ p ]
            let dispatch = here |> Seq.find (fun a ->
                a.OperationName = "stent.dispatch" && string (a.GetTagItem "stent.execution_id") = id)
            Expect.equal dispatch.ParentSpanId request.SpanId "the dispatch is a child of the request"
            let lines = File.ReadAllLines traceFile |> Array.map (fun l -> l.Split ' ') |> List.ofArray
            let name (l: string[]) = l[0]
            let decisions exec = lines |> List.filter (fun l -> name l = "stent.decision" && l[4] = exec)
            let child = lines |> List.map (fun l -> l[4]) |> List.distinct |> List.filter (fun e -> e <> id)
            Expect.equal child.Length 1 "the worker ran the parent and one child"
            Expect.isNonEmpty (decisions id) "the parent's decisions were traced"
            Expect.isNonEmpty (decisions child[0]) "the child's decisions were traced"
            Expect.equal (lines |> List.filter (fun l -> name l = "stent.step")).Length 2 "both steps were traced"
            for l in lines do
                Expect.equal l[1] (string request.TraceId) $"{name l} of {l[4]} is in the request's trace"
            let span (l: string[]) = l[2]
            let parentSpans exec = decisions exec |> List.map span |> Set.ofList
            for l in decisions id do
                Expect.equal l[3] (string dispatch.SpanId) "the parent's decisions are children of the dispatch"
            for l in decisions child[0] do
                Expect.isTrue ((parentSpans id).Contains l[3])
                    "the child's decisions are children of a parent's decision"
            for l in lines |> List.filter (fun l -> name l = "stent.step") do
                Expect.isTrue ((parentSpans l[4]).Contains l[3]) "a step is a child of the decision that scheduled it"
        }
    ]
