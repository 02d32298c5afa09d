// The fan-out workload: one workflow maps a trivial step over N items on a store, run by in-process workers.
using System.Diagnostics;
using Stent.Execution;
using Stent.Storage;

namespace Stent.Bench;

/// <summary>A small record the trivial step returns.</summary>
public sealed record Echo(int Id, bool Ok);

/// <summary>Fan-out of N trivial steps.</summary>
public static class FanOut
{
    public static readonly Durable<int, Echo> Trivial = Durable.CreateSync("bench_trivial", (int i, StepContext _) => new Echo(i, true),
        new DurableOptions { Retry = RetryPolicy.None });

    public static readonly WorkflowDef<int, int> Workflow = Stent.Workflow.Define("bench_fanout", (int n) =>
        from results in Enumerable.Range(0, n).Map(Trivial)
        select results.Count(r => r.Ok));

    /// <summary>Runs one fan-out of <paramref name="n"/> items with <paramref name="workers"/> workers; wall time and round trips.</summary>
    public static async Task<(TimeSpan Wall, long RoundTrips, int Decisions)> RunAsync(IWorkStore store, int n, int workers)
    {
        using var stop = new CancellationTokenSource();
        var serving = Enumerable.Range(0, workers).Select(i =>
            new Worker(store, new WorkerOptions { WorkerId = $"bench-{i}", MaxConcurrency = 64, PollMax = TimeSpan.FromMilliseconds(20) })
                .Register(Workflow).ServeAsync(stop.Token)).ToList();
        var client = new StentClient(store);
        var before = store.RoundTrips;
        var watch = Stopwatch.StartNew();
        var id = await client.DispatchAsync(Workflow, n);
        var r = await client.WaitAsync(Workflow, id, TimeSpan.FromMinutes(30));
        watch.Stop();
        var trips = store.RoundTrips - before;
        stop.Cancel();
        await Task.WhenAll(serving);
        if (!r.IsOk || r.Value != n) throw new InvalidOperationException($"fan-out of {n} gave {r}");
        var decisions = (await store.ReadAsync(id)).Count(e => e is Stent.Replay.DecisionCompleted);
        return (watch.Elapsed, trips, decisions);
    }
}
