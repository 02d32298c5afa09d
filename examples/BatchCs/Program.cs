// The main job: the guide's image pipeline on the embedded SQLite store (stent.db) with a live progress bar, or on
// PostgreSQL with --postgres. Running it again after Ctrl-C or a kill resumes the same execution instead of starting over.
using Stent.Examples.CSharp;
using Stent.Execution;
using Stent.Marten;
using Stent.Sqlite;
using Stent.Storage;

if (args is ["--patterns", ..])
{
    // A tour of the guide's patterns 1–13 (all, or the one given) on in-process workers.
    await PatternTour.RunAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : null, Console.Out);
    return 0;
}

var items = 200;
var workers = 2;
var failureRate = 0.1;
string? postgres = null;
var db = "stent.db";
try
{
    for (var i = 0; i < args.Length; i++)
    {
        switch (args[i])
        {
            case "--items": items = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
            case "--workers": workers = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
            case "--failure-rate": failureRate = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
            case "--postgres": postgres = args[++i]; break;
            case "--db": db = args[++i]; break;
            default: throw new ArgumentException($"Unknown option '{args[i]}'.");
        }
    }
    if (items <= 0) throw new ArgumentException($"--items must be positive, got {items}.");
    if (workers <= 0) throw new ArgumentException($"--workers must be positive, got {workers}.");
    if (failureRate is < 0 or > 1) throw new ArgumentException($"--failure-rate must be within 0..1, got {failureRate}.");
}
catch (Exception e) when (e is ArgumentException or FormatException or IndexOutOfRangeException)
{
    Console.Error.WriteLine($"{e.Message}\nOptions: --items N (200), --workers N (2), --failure-rate 0..1 (0.1), --db FILE (stent.db), --postgres CONNECTION; or --patterns [N]");
    return 2;
}

IWorkStore store = postgres is null ? new SqliteWorkStore(db) : new PostgresWorkStore(postgres);
Console.WriteLine(postgres is null ? $"store: SQLite file {Path.GetFullPath(db)}" : "store: PostgreSQL");
using var stop = new CancellationTokenSource();
var serving = Enumerable.Range(1, workers).Select(i =>
    new Worker(store, new WorkerOptions { WorkerId = $"main-{i}", MaxConcurrency = 32, LeaseDuration = TimeSpan.FromSeconds(5) })
        .Register(ImageGallery.Workflow).ServeAsync(stop.Token)).ToList();
var client = new StentClient(store);

// The same batch always gets the same idempotency key, so a second run finds the first execution and continues it
// (one that failed or was cancelled is resumed by a new execution that reuses every step it completed).
var batch = new ImageBatch(items, failureRate);
var id = await client.DispatchAsync(ImageGallery.Workflow, batch, new DispatchOptions { IdempotencyKey = $"image-gallery-{items}-{failureRate}" });
var before = await client.GetAsync(id);
if (before.ResumedFrom is { } from)
{
    var old = await client.GetAsync(from);
    Console.WriteLine($"execution {from} ended {old.Info.State} ({old.Info.Error?.Message}); execution {id} resumes it: " +
        $"its {old.Counters["completed"] + old.Counters["reused"]} completed steps are reused, the rest runs");
}
else if (before.Counters["completed"] + before.Counters["failed"] > 0)
    Console.WriteLine($"resuming execution {id}: {before.Counters["completed"]} steps already done, they will not run again");

var watch = System.Diagnostics.Stopwatch.StartNew();
var waiting = client.WaitAsync(ImageGallery.Workflow, id);
while (!waiting.IsCompleted)
{
    await Task.WhenAny(waiting, Task.Delay(200));
    var d = await client.GetAsync(id);
    var done = d.Counters["completed"] + d.Counters["reused"] + d.Counters["failed"];
    var total = Math.Max(d.Counters["scheduled"], 1);
    var width = 30;
    var filled = (int)(width * done / total);
    Console.Write($"\r  [{new string('#', filled)}{new string('.', width - filled)}] {done}/{total} steps, {d.Counters["retried"]} retries, {d.Info.State}   ");
}
Console.WriteLine();
var result = await waiting;
var details = await client.GetAsync(id);
if (result.IsOk)
{
    var g = result.Value;
    Console.WriteLine($"image pipeline: {g.Url} — {g.Downloaded}/{items} downloaded, {g.Images} processed, {g.Failures.Count} failed for good, {details.Counters["retried"]} retries, in {watch.ElapsedMilliseconds} ms");
    foreach (var f in g.Failures.Take(3)) Console.WriteLine($"  failure: {f}");
}
else Console.WriteLine($"image pipeline ended with {(result.Error!.IsBusiness ? "a business error" : "a failure")}: {result.Error.Message}");
Console.WriteLine($"execution {id}: {details.Info.State}, {details.Events} events, {store.RoundTrips} store round trips from this process");

stop.Cancel();
await Task.WhenAll(serving);
return 0;
