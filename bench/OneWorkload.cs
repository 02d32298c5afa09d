// One workload on one store, printed: for profiling ("one fanout postgres 1000 2", "one capped sqlite 300 1",
// "one chunked sqlite 100000 1").
using System.Globalization;

namespace Stent.Bench;

/// <summary>Runs a single workload.</summary>
public static class OneWorkload
{
    /// <summary>Runs <paramref name="which"/> (fanout, chunked, capped or chain) on <paramref name="store"/> (sqlite,
    /// sqlite-process: durable through a crash of the process only, or postgres) with <paramref name="n"/> items and
    /// <paramref name="workers"/> worker processes.</summary>
    public static async Task<int> RunAsync(string which, string store, int n, int workers)
    {
        Target Make() => store.StartsWith("sqlite", StringComparison.Ordinal) ? Target.Sqlite(store == "sqlite")
            : Target.Postgres(Environment.GetEnvironmentVariable("STENT_PG")
                ?? throw new InvalidOperationException("STENT_PG is not set."));
        var target = Make();
        if (which == "chain")
        {
            var c = await StentWorkloads.ChainAsync(target, Make(), n, "as configured");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"chain {store} n={n}: {c.SecondsPerStep * 1000:F2} ms/step, {c.CommitsPerStep:F2} commits/step, " +
                $"{c.RoundTripsPerStep:F1} trips/step, {c.StatementsPerStep:F1} statements/step, " +
                $"{c.RowsPerStep:F1} rows/step, {c.BytesPerStep:F0} B/step, " +
                $"{c.DatabaseSecondsPerStep * 1000:F3} ms/step in database calls; single-row commit " +
                $"{c.SingleRowCommitSeconds * 1000:F3} ms, step/commit {c.StepVsCommit:F2}"));
            return 0;
        }
        var r = await StentWorkloads.FanOutAsync(target, n, workers, "as configured", which switch
        {
            "capped" => Workflows.Capped,
            "chunked" => Workflows.Chunked,
            _ => Workflows.FanOut,
        });
        if (which == "capped")
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"capped (MaxConcurrent 1) {store} n={n} workers={workers}: {1000 / r.ItemsPerSecond:F2} ms per " +
                $"hand-off, {r.RoundTripsPerItem:F2} trips/item"));
        else Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{which} {store} n={n} workers={workers}: {r.ItemsPerSecond:F0} items/s (store's clock to the final " +
            $"decision: {n / r.StoreSeconds:F0}), {r.CommitsPerItem:F3} " +
            $"commits/item, {r.RoundTripsPerItem:F2} trips/item, {r.StatementsPerItem:F3} statements/item, " +
            $"{r.RowsPerItem:F3} rows/item, {r.BytesPerItem:F0} B/item, " +
            $"{r.Decisions} decisions, worker JIT {r.WorkerJitMs} ms, GC pauses {r.WorkerGcPauseMs} ms, " +
            $"peak " +
            $"{string.Join("/", r.PeakMiB)} MiB"));
        return 0;
    }
}
