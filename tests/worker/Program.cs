// A worker process for the crash tests: serves the crash batch on the given store until killed or told to stop.
using Stent.Execution;
using Stent.TestWorker;

if (args.Length < 2) { Console.Error.WriteLine("usage: Stent.TestWorker <store spec> <log file> [concurrency]"); return 2; }
CrashBatch.LogPath = args[1];
var store = CrashBatch.Open(args[0]);
var worker = new Worker(store, new WorkerOptions
{
    MaxConcurrency = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 8,
    LeaseDuration = TimeSpan.FromSeconds(2),
    HeartbeatInterval = TimeSpan.FromMilliseconds(400),
    PollMax = TimeSpan.FromMilliseconds(50),
}).Register(CrashBatch.Workflow);
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
Console.WriteLine("ready");
await worker.ServeAsync(stop.Token);
return 0;
