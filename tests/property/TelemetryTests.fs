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
    ]
