// Every pattern of the batch guide in F#, run on two in-process workers: dotnet fsi examples/patterns.fsx [N]
// Build once first: dotnet build examples/BatchFs -c Release (the test command does it too).
#load "BatchFs/bin/Release/net10.0/references.fsx"

open System
open System.Threading
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Storage
open Stent.Examples.Patterns
module G = Stent.Examples.GuidePatterns

let idemTwice = Workflow.define "fs_idem_twice" (fun (id: int) -> G.idempotentProcess.Call id)
let store = Stent.Sqlite.SqliteWorkStore.InMemory()
let register (w: Worker) =
    w.Register(batch).Register(imagePipeline).Register(chunked).Register(G.mapBatch).Register(G.rateLimitedBatch)
     .Register(G.manualRateLimited).Register(G.resilient).Register(G.retryInRounds).Register(G.monitored)
     .Register(G.resumableBatch).Register(G.etl).Register(idemTwice).Register(G.slowWithCleanup)
     .Register(G.bookTrip).Register(G.awaitApproval).Register(G.importAll).Register(G.importRegion)
let stop = new CancellationTokenSource()
let serving = [ for i in 1..2 -> (register (Worker(store, WorkerOptions(WorkerId = $"fsx-{i}", Serializer = Json.serializer)))).ServeAsync(stop.Token) ]
let client = StentClient(store, Json.serializer)

let runWith (options: DispatchOptions) (def: WorkflowDef<'I, 'O>) (input: 'I) =
    let id = client.DispatchAsync(def, input, options).Result
    id, client.WaitAsync(def, id, TimeSpan.FromSeconds 120.0).Result
let run def input = snd (runWith (DispatchOptions()) def input)
let show (r: Stent.Result<'T>) (f: 'T -> string) = if r.IsOk then f r.Value else $"error: {r.Error.Message}"

let only = fsi.CommandLineArgs |> Array.tryItem 1 |> Option.map int
let pattern n title (f: unit -> string) = if only.IsNone || only = Some n then printfn "%2d. %s: %s" n title (f ())

pattern 1 "basic batch" (fun () -> show (run batch [ 1..100 ]) (fun s -> $"{s.Succeeded}/{s.Total} succeeded, {s.Failed} failed"))
pattern 2 "image pipeline" (fun () -> show (run imagePipeline [ 1..20 ]) id)
pattern 3 "chunked with progress" (fun () -> show (run chunked [ 1..1001 ]) (fun s -> $"{s.Succeeded}/{s.Total} in 11 chunks"))
pattern 4 "map" (fun () -> show (run G.mapBatch [ 1..500 ]) (fun items -> $"{items.Length} items in input order: {items.Head.Id}..{(List.last items).Id}"))
pattern 5 "rate limited (MaxConcurrent = 5)" (fun () -> show (run G.rateLimitedBatch [ 1..40 ]) (fun r -> $"{r.Length} calls"))
pattern 6 "manual rate limiting" (fun () -> show (run G.manualRateLimited ([ 1..30 ], 10, "200ms")) (fun r -> $"{r.Length} items in 3 batches, 200 ms apart"))
pattern 7 "continue on error" (fun () -> show (run G.resilient [ 1..10 ]) (fun s -> $"{s.Succeeded.Length} ok, {s.Failed.Length} failed, rate {s.SuccessRate}"))
pattern 8 "retry failed items in rounds" (fun () -> show (run G.retryInRounds [ 1..8 ]) (fun s -> $"{s.Done.Length} done after {s.Rounds} rounds, last errors: {s.LastErrors.Length}"))
pattern 9 "structured logging" (fun () -> show (run G.monitored [ 1..120 ]) (fun n -> $"{n} processed (logged once each, never on replay)"))
pattern 10 "checkpoint/resume" (fun () ->
    let key = DispatchOptions(IdempotencyKey = $"nightly-{Guid.NewGuid():N}")
    G.unavailable[150] <- true
    let first, r1 = runWith key G.resumableBatch [ 1..300 ]
    G.unavailable.Clear()
    let second, r2 = runWith key G.resumableBatch [ 1..300 ]
    let reused = client.GetAsync(second).Result.Counters["reused"]
    $"first run: {r1.Error.Message}; dispatched again: {show r2 string}, {reused} steps reused from {first}")
pattern 11 "multi-stage ETL" (fun () -> show (run G.etl [ "a"; "bx"; "bad1"; "c" ]) (fun s -> $"{s.OriginalCount} → {s.Extracted} → {s.Transformed} → {s.Loaded}"))
pattern 12 "best practices" (fun () ->
    let a, b = run idemTwice 7, run idemTwice 7
    let slow, timedOut = runWith (DispatchOptions(MaxDuration = Duration.Parse "200ms")) G.slowWithCleanup "/tmp/batch-42"
    let cleanups = client.GetAsync(slow).Result.Counters["completed"]
    $"idempotent result reused: {a.Value = b.Value}; MaxDuration: {timedOut.Error.Message}, cleanup steps run: {cleanups}")
pattern 13 "neighbours" (fun () ->
    let saga = run G.bookTrip ("bob", true)
    let approvalId = client.DispatchAsync(G.awaitApproval, "30s").Result
    client.SignalAsync(approvalId, "approval", "carol").Wait()
    let approval = client.WaitAsync(G.awaitApproval, approvalId).Result
    let rows = show (run G.importAll [ "north"; "south" ]) string
    $"saga: {saga.Error.Message} (compensated); children: {rows} rows; {show approval id}")

stop.Cancel()
Tasks.Task.WaitAll(serving |> Array.ofList)
