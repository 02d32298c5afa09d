// A worker process for the multi-process tests: serves the crash batch and chain, the guide's patterns 3, 6 and 10 and
// the traced batch on the given store until killed.
using Stent.Examples.CSharp;
using Stent.Execution;
using Stent.TestWorker;

if (args.Length < 2) { Console.Error.WriteLine("usage: Stent.TestWorker <store spec> <log prefix> [concurrency]"); return 2; }
var store = CrashBatch.Open(args[0]);
// Pattern 10's outage: records listed in STENT_UNAVAILABLE fail in this process.
foreach (var id in (Environment.GetEnvironmentVariable("STENT_UNAVAILABLE") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
    ResumePattern.Unavailable[int.Parse(id, System.Globalization.CultureInfo.InvariantCulture)] = true;
// The trace test: this process's Stent activities go to a file.
using var traces = Environment.GetEnvironmentVariable("STENT_TRACE_FILE") is { } traceFile
    ? TracedBatch.Record(traceFile) : null;
var worker = new Worker(store, new WorkerOptions
{
    MaxConcurrency = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 8,
    LeaseDuration = TimeSpan.FromSeconds(2),
    HeartbeatInterval = TimeSpan.FromMilliseconds(400),
    PollMax = TimeSpan.FromMilliseconds(50),
    LoggerFactory = new StepLog(args[1]),
}).Register(CrashBatch.Workflow).Register(CrashChain.Workflow).Register(PoisonBatch.Workflow).Register(Patterns.Chunked)
    .Register(GuidePatterns.ManualRateLimited).Register(ResumePattern.ResumableBatch).Register(TracedBatch.Parent);
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
Console.WriteLine("ready");
await worker.ServeAsync(stop.Token);
return 0;
