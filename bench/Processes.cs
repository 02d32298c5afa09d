// Worker processes for the benchmarks: started as "Stent.Bench worker SPEC", measured (peak RSS) and stopped.
using System.Diagnostics;
using Stent.Execution;

namespace Stent.Bench;

/// <summary>Starts and stops benchmark worker processes.</summary>
public static class Processes
{
    /// <summary>Runs a worker in this process until stdin closes (the child side).</summary>
    public static async Task<int> ServeAsync(string spec)
    {
        var store = Target.Open(spec);
        using var stop = new CancellationTokenSource();
        var serving = new Worker(store, Options($"proc-{Environment.ProcessId}")).Register(Workflows.FanOut)
            .Register(Workflows.Chain).Register(Workflows.Capped).Register(Workflows.Chunked).ServeAsync(stop.Token);
        Console.WriteLine("ready");
        if (Environment.GetEnvironmentVariable("STENT_BENCH_MEMLOG") is { } memlog)
            _ = MemoryLog.RunAsync(memlog, stop.Token);
        var relational = (Stent.Storage.Relational.RelationalWorkStore)store;
        async Task<string> CountsAsync() => $"trips {store.RoundTrips} commits {relational.Commits} statements " +
            $"{relational.Statements} rows {await relational.RowsWrittenAsync() ?? -1} jit_ms " +
            $"{(long)System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds} gc_ms " +
            $"{(long)GC.GetTotalPauseDuration().TotalMilliseconds} db_us " +
            $"{(long)relational.DatabaseTime.TotalMicroseconds}";
        // "counts" asks for the counters so far (before a timed run); the end of stdin stops the worker.
        while (await Console.In.ReadLineAsync() is { } line)
            if (line == "counts") Console.WriteLine(await CountsAsync());
        stop.Cancel();
        await serving;
        Console.WriteLine(await CountsAsync());
        return 0;
    }

    /// <summary>The worker options every benchmark uses.</summary>
    public static WorkerOptions Options(string id) => new() { WorkerId = id, MaxConcurrency = Concurrency, PollMax = TimeSpan.FromMilliseconds(20) };

    /// <summary>Steps (or Hangfire jobs) one worker process runs at once.</summary>
    public const int Concurrency = 256;

    /// <summary>Starts <paramref name="count"/> worker processes on <paramref name="spec"/> and waits until they are ready.</summary>
    public static List<Process> Start(string spec, int count)
    {
        var self = typeof(Processes).Assembly.Location;
        var list = new List<Process>();
        for (var i = 0; i < count; i++)
        {
            var p = Process.Start(new ProcessStartInfo("dotnet", $"\"{self}\" worker \"{spec}\"")
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false,
            })!;
            if (p.StandardOutput.ReadLine() != "ready") throw new InvalidOperationException("A benchmark worker did not start.");
            list.Add(p);
        }
        return list;
    }

    /// <summary>Peak resident memory of a live process, in MiB (Linux VmHWM).</summary>
    public static double PeakMiB(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
    }

    /// <summary>What worker processes did, summed: store round trips, committed write transactions, statements sent,
    /// rows written (-1 where the database does not count them per connection), milliseconds spent compiling code
    /// (JIT) and with threads paused for garbage collection, and microseconds spent in calls to the database (see
    /// <see cref="Stent.Storage.Relational.RelationalWorkStore.DatabaseTime"/>).</summary>
    public readonly record struct Counts(long RoundTrips, long Commits, long Statements, long Rows, long JitMs,
        long GcPauseMs, long DatabaseUs)
    {
        /// <summary>These less <paramref name="other"/>.</summary>
        public Counts Less(Counts other) => new(RoundTrips - other.RoundTrips, Commits - other.Commits,
            Statements - other.Statements, Rows < 0 || other.Rows < 0 ? -1 : Rows - other.Rows, JitMs - other.JitMs,
            GcPauseMs - other.GcPauseMs, DatabaseUs - other.DatabaseUs);
    }

    /// <summary>What the live <paramref name="processes"/> did so far, summed; then their peak memory starts again
    /// from what they hold now (Linux clear_refs), so a timed run's peak is its own, not the warm-up's.</summary>
    public static Counts Mark(List<Process> processes)
    {
        foreach (var p in processes) p.StandardInput.WriteLine("counts");
        var counts = Sum(processes);
        foreach (var p in processes)
        {
            // Where the process may not be reset, its peak includes the warm-up's.
            try { File.WriteAllText($"/proc/{p.Id}/clear_refs", "5"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return counts;
    }

    /// <summary>Reads each process's peak memory, then stops them (drain) and sums what they report.</summary>
    public static List<double> Stop(List<Process> processes, out Counts counts)
    {
        var peaks = processes.Select(p => PeakMiB(p.Id)).ToList();
        foreach (var p in processes) p.StandardInput.Close();
        counts = Sum(processes);
        foreach (var p in processes)
            if (!p.WaitForExit(30_000)) p.Kill();
        return peaks;
    }

    /// <summary>Reads one line of counters from each process and sums them.</summary>
    private static Counts Sum(List<Process> processes)
    {
        var counts = default(Counts);
        foreach (var p in processes)
        {
            if (p.StandardOutput.ReadLine()?.Split(' ') is not ["trips", var trips, "commits", var done, "statements",
                var statements, "rows", var rows, "jit_ms", var jit, "gc_ms", var gc, "db_us", var db])
                throw new InvalidOperationException("A benchmark worker did not report its counters.");
            static long L(string s) => long.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
            counts = new Counts(counts.RoundTrips + L(trips), counts.Commits + L(done),
                counts.Statements + L(statements), counts.Rows < 0 || L(rows) < 0 ? -1 : counts.Rows + L(rows),
                counts.JitMs + L(jit), counts.GcPauseMs + L(gc), counts.DatabaseUs + L(db));
        }
        return counts;
    }
}
