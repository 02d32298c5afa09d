// The main job: the seed's batch patterns on the embedded SQLite store (stent.db), or PostgreSQL with --postgres.
// Running it again resumes the same executions (they are dispatched with idempotency keys) instead of starting over.
using Stent.Examples.CSharp;
using Stent.Execution;
using Stent.Marten;
using Stent.Sqlite;
using Stent.Storage;

var items = 200;
var workers = 2;
string? postgres = null;
var db = "stent.db";
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--items": items = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        case "--workers": workers = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        case "--postgres": postgres = args[++i]; break;
        case "--db": db = args[++i]; break;
        default: Console.Error.WriteLine($"Unknown option '{args[i]}'. Options: --items N, --workers N, --postgres CONNECTION, --db FILE"); return 2;
    }
}

IWorkStore store = postgres is null ? new SqliteWorkStore(db) : new PostgresWorkStore(postgres);
Console.WriteLine(postgres is null ? $"store: SQLite file {Path.GetFullPath(db)}" : "store: PostgreSQL");
using var stop = new CancellationTokenSource();
var serving = Enumerable.Range(1, workers).Select(i =>
    new Worker(store, new WorkerOptions { WorkerId = $"main-{i}", MaxConcurrency = 16 })
        .Register(Patterns.Batch).Register(Patterns.ImagePipeline).Register(Patterns.Chunked)
        .ServeAsync(stop.Token)).ToList();
var client = new StentClient(store);
var ids = Enumerable.Range(1, items).ToArray();

var watch = System.Diagnostics.Stopwatch.StartNew();
var batchId = await client.DispatchAsync(Patterns.Batch, ids, new DispatchOptions { IdempotencyKey = $"main-batch-{items}" });
var batch = (await client.WaitAsync(Patterns.Batch, batchId)).Value;
Console.WriteLine($"basic batch: {batch.Total} items, {batch.Succeeded} succeeded, {batch.Failed} failed in {watch.ElapsedMilliseconds} ms");
foreach (var e in batch.Errors.Take(3)) Console.WriteLine($"  error: {e}");

var galleryId = await client.DispatchAsync(Patterns.ImagePipeline, ids, new DispatchOptions { IdempotencyKey = $"main-images-{items}" });
Console.WriteLine($"image pipeline: {await client.WaitAsync(Patterns.ImagePipeline, galleryId)}");

var chunkedId = await client.DispatchAsync(Patterns.Chunked, ids, new DispatchOptions { IdempotencyKey = $"main-chunked-{items}" });
var chunked = (await client.WaitAsync(Patterns.Chunked, chunkedId)).Value;
var details = await client.GetAsync(chunkedId);
Console.WriteLine($"chunked: {chunked.Succeeded}/{chunked.Total} succeeded, {details.Counters["timers"]} pauses, last progress: {details.Progress?.Message}");
Console.WriteLine($"store round trips: {store.RoundTrips}");

stop.Cancel();
await Task.WhenAll(serving);
return 0;
