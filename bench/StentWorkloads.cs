// Stent's workloads: fan-out over worker processes, a chain of sequential steps, and replay of a recorded history.
using System.Diagnostics;
using Stent.Execution;
using Stent.Replay;
using Stent.Serialization;

namespace Stent.Bench;

/// <summary>One fan-out measurement.</summary>
public sealed record FanOutResult(string Store, int N, int Workers, double Seconds, double ItemsPerSecond, long
    RoundTrips,
    double RoundTripsPerItem, double BytesPerItem, IReadOnlyList<double> PeakMiB, int Decisions, string ExecutionId,
    [property: System.Text.Json.Serialization.JsonIgnore] Target Target);

/// <summary>Stent workloads.</summary>
public static class StentWorkloads
{
    /// <summary>Maps a trivial step over <paramref name="n"/> items with <paramref name="workers"/> worker
    /// processes.</summary>
    public static async Task<FanOutResult> FanOutAsync(Target t, int n, int workers)
    {
        var store = t.Open();
        var client = new StentClient(store);
        var processes = Processes.Start(t.Spec, workers);
        var bytes = t.Bytes();
        var clientTrips = store.RoundTrips;
        var watch = Stopwatch.StartNew();
        var id = await client.DispatchAsync(Workflows.FanOut, n);
        var r = await client.WaitAsync(Workflows.FanOut, id, TimeSpan.FromMinutes(30));
        watch.Stop();
        clientTrips = store.RoundTrips - clientTrips;
        var written = t.Bytes() - bytes;
        var peaks = Processes.Stop(processes, out var workerTrips);
        if (!r.IsOk || r.Value != n) throw new InvalidOperationException($"fan-out of {n} gave {r}");
        var decisions = (await store.ReadAsync(id)).Count(e => e is DecisionCompleted);
        var trips = clientTrips + workerTrips;
        return new FanOutResult(t.Kind, n, workers, watch.Elapsed.TotalSeconds, n / watch.Elapsed.TotalSeconds, trips,
            (double)trips / n,
            (double)written / n, peaks, decisions, id, t);
    }

    /// <summary>Seconds per step of a chain of <paramref name="n"/> sequential trivial steps (one worker
    /// process).</summary>
    public static async Task<double> ChainAsync(Target t, int n)
    {
        var store = t.Open();
        var client = new StentClient(store);
        var processes = Processes.Start(t.Spec, 1);
        var watch = Stopwatch.StartNew();
        var id = await client.DispatchAsync(Workflows.Chain, n);
        var r = await client.WaitAsync(Workflows.Chain, id, TimeSpan.FromMinutes(30));
        watch.Stop();
        Processes.Stop(processes, out _);
        if (!r.IsOk || r.Value != n) throw new InvalidOperationException($"chain of {n} gave {r}");
        return watch.Elapsed.TotalSeconds / n;
    }

    /// <summary>Seconds to read and deserialize an execution's stream, and to read it and replay it through its
    /// workflow (best of 3).</summary>
    public static async Task<(double Read, double Replay, int Events)> ReplayAsync(Target t, string executionId)
    {
        var store = t.Open();
        double read = double.MaxValue, replay = double.MaxValue;
        var events = 0;
        for (var i = 0; i < 3; i++)
        {
            var w = Stopwatch.StartNew();
            var history = await store.ReadAsync(executionId);
            read = Math.Min(read, w.Elapsed.TotalSeconds);
            events = history.Count;
            w.Restart();
            history = await store.ReadAsync(executionId);
            var d = Interpreter.Decide(Workflows.FanOut, history, PayloadSerializer.Default, DateTimeOffset.UtcNow, new
                Random(1));
            replay = Math.Min(replay, w.Elapsed.TotalSeconds);
            if (d.State != ExecutionState.Completed) throw new InvalidOperationException($"replay ended {d.State}");
        }
        return (read, replay, events);
    }
}
