// A worker process for the crash tests: serves the crash batch and the guide's patterns 3, 6 and 10 on the given store until killed.
using Stent.Examples.CSharp;
using Stent.Execution;
using Stent.TestWorker;

if (args.Length < 2) { Console.Error.WriteLine("usage: Stent.TestWorker <store spec> <log prefix> [concurrency]"); return 2; }
var store = CrashBatch.Open(args[0]);
// Pattern 10's outage: records listed in STENT_UNAVAILABLE fail in this process.
foreach (var id in (Environment.GetEnvironmentVariable("STENT_UNAVAILABLE") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
    ResumePattern.Unavailable[int.Parse(id, System.Globalization.CultureInfo.InvariantCulture)] = true;
var worker = new Worker(store, new WorkerOptions
{
    MaxConcurrency = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 8,
    LeaseDuration = TimeSpan.FromSeconds(2),
    HeartbeatInterval = TimeSpan.FromMilliseconds(400),
    PollMax = TimeSpan.FromMilliseconds(50),
    LoggerFactory = new StepLog(args[1]),
}).Register(CrashBatch.Workflow).Register(PoisonBatch.Workflow).Register(Patterns.Chunked)
    .Register(GuidePatterns.ManualRateLimited).Register(ResumePattern.ResumableBatch);
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
Console.WriteLine("ready");
await worker.ServeAsync(stop.Token);
return 0;
