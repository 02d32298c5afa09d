// The README's C# samples that run things: a worker and a client, the hosted setup, and a test of the workflow.
using Microsoft.Extensions.DependencyInjection;
using Stent;
using Stent.Examples.Readme;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Stent.Diagnostics;
using Stent.Execution;
using FsCheck;
using FsCheck.Fluent;
using Stent.Hosting;
using Stent.Replay;
using Stent.Scheduling;
using Stent.Sqlite;
using Stent.Testing;

var ids = Enumerable.Range(1, 20).ToArray();
using var stop = new CancellationTokenSource();
var stoppingToken = stop.Token;

// <readme:run>
using var store = new SqliteWorkStore("stent.db");            // or new PostgresWorkStore(connectionString)
var worker = new Worker(store, new WorkerOptions { MaxConcurrency = 10 }).Register(Nightly.Batch);
var serving = worker.ServeAsync(stoppingToken);               // any number of processes, on any machines
var client = new StentClient(store);
var id = await client.DispatchAsync(Nightly.Batch, ids,
    new DispatchOptions { MaxDuration = "2h", IdempotencyKey = $"nightly-{DateTime.UtcNow:yyyy-MM-dd}" });
Result<Summary> summary = await client.WaitAsync(Nightly.Batch, id);
// </readme:run>
Console.WriteLine(summary.IsOk ? $"{summary.Value.Succeeded}/{summary.Value.Total} processed" : summary.Error!.Message);

// <readme:schedules>
await client.ScheduleAsync("nightly", "0 2 * * *", Nightly.Batch, ids, timeZone: "Europe/Paris",
    options: new ScheduleOptions { Missed = MissedTicks.RunOnce, MaxDuration = "2h" });  // one execution per tick
await client.PauseScheduleAsync("nightly");                  // and ResumeScheduleAsync, DeleteScheduleAsync, List…
// </readme:schedules>
await client.DeleteScheduleAsync("nightly");
stop.Cancel();
await serving;

var services = new ServiceCollection();
// <readme:host>
services.AddStent(o => o.UseSqlite("stent.db").AddWorkflow(Nightly.Batch));   // or o.UseMarten(conn), o.UseInMemory()
// </readme:host>

// <readme:tracing>
services.AddOpenTelemetry()                                   // OpenTelemetry.Extensions.Hosting and an exporter
    .WithTracing(t => t.AddSource(StentTelemetry.Name).AddOtlpExporter())
    .WithMetrics(m => m.AddMeter(StentTelemetry.Name).AddOtlpExporter());
// </readme:tracing>

// <readme:servicehost>
services.AddHttpClient<ImageClient>(c => c.BaseAddress = new Uri("https://images.example.com/"));
services.AddStent(o => o.UseSqlite("stent.db").AddWorkflow(Images.TotalBytes));  // steps resolve ImageClient
// </readme:servicehost>

// <readme:test>
using var env = TestEnvironment.InMemory();                   // the real worker, an in-memory store, a fake clock
var result = await env.RunAsync(Nightly.Batch, [1, 2, 3]);    // sleeps, retries and timeouts take no real time
if (result.Value.Succeeded != 3) throw new InvalidOperationException("expected every item to succeed");

for (var write = 1; write <= 12; write++)                     // crash at each store write, before it commits
{
    using var crashed = TestEnvironment.InMemory();
    var run = await crashed.DispatchAsync(Nightly.Batch, [1, 2, 3]);
    crashed.CrashAt(write);                                   // the worker "dies" there; a new one takes over
    await crashed.RunUntilIdleAsync();
    if ((await crashed.ResultAsync<Summary>(run)).Value != result.Value) throw new InvalidOperationException($"crash at {write}");
}
// </readme:test>
Console.WriteLine("the workflow survives a crash at each of its first 12 store writes");
await using (var file = File.CreateText("nightly.jsonl")) await HistoryFile.WriteAsync(file, await store.ReadAsync(id));

// <readme:checks>
await WorkflowChecks.CrashAtEveryWriteAsync(Nightly.Batch, [1, 2, 3]);   // a crash anywhere changes nothing
Check.QuickThrowOnFailure(WorkflowProperties.SurvivesCrashes(Nightly.Batch, ArbMap.Default.ArbFor<int[]>()));
var report = Replayer.ReplayFile(Nightly.Batch, "nightly.jsonl");  // `stent export ID --out nightly.jsonl`
// </readme:checks>
Console.WriteLine($"the recorded history replays on this code: {report.State}");
