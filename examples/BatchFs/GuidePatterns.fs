/// More of the batch guide's patterns in F#: Map, manual rate limiting, continue-on-error with a threshold,
/// retrying failed items in rounds, and a multi-stage ETL.
module Stent.Examples.GuidePatterns

open System
open System.IO
open Stent
open Stent.Dsl
open Stent.Examples.Patterns

type FailedItem = { Id: int; Error: string }
type ResilientSummary = { Succeeded: Item list; Failed: FailedItem list; SuccessRate: float }
type RoundsSummary = { Done: int list; LastErrors: FailedItem list; Rounds: int }
type EtlSummary = { OriginalCount: int; Extracted: int; Transformed: int; Loaded: int }

let enrich = Durable.createSync "fs_enrich_item" (fun (id: int) _ -> { Id = id; Status = "enriched" })

/// Pattern 4: one function over a large list; results in input order.
let mapBatch = Workflow.define "fs_map_batch" (fun (ids: int list) -> ids |> Workflow.traverse enrich.Call)

/// Pattern 6: fixed batches with a durable pause between them.
let manualRateLimited =
    Workflow.define "fs_manual_rate_limited" (fun (ids: int list, batchSize: int, pause: string) ->
        ids |> Workflow.chunk batchSize (Some pause) (Workflow.traverse enrich.Call))

let fragile =
    Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.Fixed(2, Duration.Parse "100ms"))) "fs_fragile_item" (fun (id: int) _ ->
        if id % 4 = 0 then raise (InvalidDataException $"item {id} is malformed")
        { Id = id; Status = "processed" })

let private failures ids results =
    List.zip ids results |> List.choose (fun (id, r) -> match r with Error (e: WorkflowError) -> Some { Id = id; Error = e.Message } | Ok _ -> None)

/// Pattern 7: process everything; fewer than half succeeding is a business error; an empty batch succeeds with rate 1.
let resilient = Workflow.define "fs_resilient_batch" (fun (ids: int list) -> workflow {
    let! results = ids |> Workflow.traverseAll fragile.Call
    let ok = results |> List.choose Result.toOption
    let failed = failures ids results
    let rate = if ids.IsEmpty then 1.0 else float ok.Length / float ids.Length
    if rate < 0.5 then return! Workflow.fail $"Too many failures: {failed.Length}/{ids.Length}"
    else return { Succeeded = ok; Failed = failed; SuccessRate = rate } })

let flaky =
    Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.None)) "fs_flaky_item" (fun (id: int, round: int) _ ->
        if round < id % 4 then raise (TimeoutException $"item {id} timed out in round {round}")
        id)

/// Pattern 8: retry failed items in rounds with a durable pause; the last real error is kept.
let retryInRounds = Workflow.define "fs_batch_with_retry" (fun (ids: int list) ->
    let rec rounds pending round done' lastErrors = workflow {
        if List.isEmpty pending || round > 2 then return { Done = done'; LastErrors = lastErrors; Rounds = round }
        else
            if round > 0 then do! Workflow.sleep "5s"
            let! results = pending |> List.map (fun id -> id, round) |> Workflow.traverseAll flaky.Call
            let ok = results |> List.choose Result.toOption
            let failed = failures pending results
            return! rounds (failed |> List.map (fun f -> f.Id)) (round + 1) (done' @ ok) failed }
    rounds ids 0 [] [])

let extract =
    Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.Fixed(2, Duration.Parse "100ms"))) "fs_extract_data" (fun (source: string) _ ->
        if source.EndsWith "x" then raise (IOException $"source {source} is unreachable")
        $"raw:{source}")
let transform =
    Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.None)) "fs_transform_data" (fun (raw: string) _ ->
        if raw.Contains "bad" then raise (FormatException $"{raw} does not parse")
        raw.ToUpperInvariant())
let load = Durable.createSync "fs_load_data" (fun (record: string) _ -> $"warehouse/{record}")

/// Pattern 11: Extract → Transform → Load, each stage on the previous stage's successes.
let etl = Workflow.define "fs_etl_pipeline" (fun (sources: string list) -> workflow {
    let! extracted = sources |> Workflow.traverseAll extract.Call
    let valid = extracted |> List.choose Result.toOption
    if valid.IsEmpty then return! Workflow.fail "All extractions failed"
    else
        let! transformed = valid |> Workflow.traverseAll transform.Call
        let ready = transformed |> List.choose Result.toOption
        let! loaded = ready |> Workflow.traverseAll load.Call
        return { OriginalCount = sources.Length; Extracted = valid.Length; Transformed = ready.Length; Loaded = (loaded |> List.choose Result.toOption).Length } })

/// Pattern 5: an external API that allows 5 calls at once, across every worker.
let rateLimitedApi =
    Durable.createWith (DurableOptions(MaxConcurrent = Nullable 5)) "fs_rate_limited_api_call" (fun (id: int) ctx -> task {
        do! Threading.Tasks.Task.Delay(2, ctx.CancellationToken)
        return id * 10 })

/// Pattern 5: every item through the capped API.
let rateLimitedBatch = Workflow.define "fs_rate_limited_batch" (fun (ids: int list) -> workflow {
    let! results = ids |> Workflow.traverseAll rateLimitedApi.Call
    return results |> List.choose Result.toOption })

/// Pattern 9: progress through structured logging, written once though the workflow replays.
let monitored = Workflow.define "fs_monitored_batch" (fun (ids: int list) -> workflow {
    do! Workflow.Log(Microsoft.Extensions.Logging.LogLevel.Information, "Starting batch processing of {BatchSize}", ids.Length) |> Workflow.ignore
    let! results = ids |> Workflow.chunk 50 None (Workflow.traverseAll enrich.Call)
    let ok = results |> List.choose Result.toOption
    do! Workflow.Log(Microsoft.Extensions.Logging.LogLevel.Information, "Batch completed: {Succeeded}/{Total}", ok.Length, ids.Length) |> Workflow.ignore
    return ok.Length })

/// Pattern 12: an idempotent function whose result is reused by key across executions.
let idempotentProcess =
    Durable.createSyncWith (DurableOptions(Idempotent = true, IdempotencyKey = (fun input -> $"fs-item-{input}"))) "fs_idempotent_process"
        (fun (id: int) (ctx: StepContext) -> $"processed {id} by {ctx.ExecutionId}")

let private book kind =
    Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.None)) $"fs_book_{kind}" (fun (traveller: string, carFails: bool) _ ->
        if kind = "car" && carFails then invalidOp "no cars left"
        $"{kind}-{traveller}")

let private cancel kind = Durable.createSync $"fs_cancel_{kind}" (fun (reference: string) _ -> reference)

let private bookFlight, bookHotel, bookCar = book "flight", book "hotel", book "car"
let private cancelFlight, cancelHotel, cancelCar = cancel "flight", cancel "hotel", cancel "car"

/// Pattern 13: a saga — flight, hotel, car; when a booking fails, the earlier ones are cancelled in reverse order.
let bookTrip = Workflow.define "fs_book_trip" (fun (traveller: string, carFails: bool) ->
    let trip = traveller, carFails
    let undo (d: Durable<string, string>) = d.Call >> Workflow.ignore
    saga {
        let! flight = bookFlight.Call trip |> Saga.step (undo cancelFlight)
        let! hotel = bookHotel.Call trip |> Saga.step (undo cancelHotel)
        let! car = bookCar.Call trip |> Saga.step (undo cancelCar)
        return [ flight; hotel; car ] })

/// Pattern 13: wait up to `timeout` for an "approval" signal.
let awaitApproval = Workflow.define "fs_await_approval" (fun (timeout: string) ->
    Workflow.signal<string> "approval" |> Workflow.waitForTimeout timeout
    |> Workflow.map (function Some who -> $"approved by {who}" | None -> "no approval in time"))

/// Records whose service is down (a stand-in for the outage that makes the first run fail).
let unavailable = System.Collections.Concurrent.ConcurrentDictionary<int, bool>()

/// How many times each record was processed (shows that nothing finished runs twice).
let processed = System.Collections.Concurrent.ConcurrentDictionary<int, int>()

let processRecord =
    Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.Fixed(2, Duration.Parse "10ms"))) "fs_process_record" (fun (id: int) _ ->
        processed.AddOrUpdate(id, 1, fun _ n -> n + 1) |> ignore
        if unavailable.ContainsKey id then raise (TimeoutException $"record {id}: service unavailable")
        int64 id * 2L)

/// Pattern 10: no hand-written checkpoints. A crashed run continues where it stopped; a failed run is resumed by
/// dispatching it again with the same idempotency key — completed steps are reused and only the rest runs.
let resumableBatch = Workflow.define "fs_resumable_batch" (fun (ids: int list) ->
    ids |> Workflow.chunk 100 (Some "100ms") (Workflow.traverse processRecord.Call) |> Workflow.map List.sum)

let loadRow = Durable.createSync "fs_load_row" (fun (_region: string, row: int) _ -> row)

/// Pattern 13: the rows of one region; run as a child it is an execution of its own.
let importRegion = Workflow.define "fs_import_region" (fun (region: string) ->
    [ 1..5 ] |> Workflow.traverse (fun row -> loadRow.Call((region, row))) |> Workflow.map List.sum)

/// Pattern 13: one child execution per region, concurrently; the parent waits for all without holding a worker.
let importAll = Workflow.define "fs_import_all" (fun (regions: string list) ->
    regions |> List.map (Workflow.child importRegion) |> Workflow.whenAll |> Workflow.map List.sum)

let cleanupTemp = Durable.createSync "fs_cleanup_temp" (fun (dir: string) _ -> $"removed {dir}")

/// Pattern 12: a long batch whose cleanup runs however it ends (dispatch it with a MaxDuration to see a timeout).
let slowWithCleanup = Workflow.define "fs_slow_with_cleanup" (fun (dir: string) ->
    Workflow.sleep "1h" |> Workflow.tryFinally (cleanupTemp.Call dir))
