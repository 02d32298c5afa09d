// Allocation per fan-out item, by type: a worker in this process on a fresh SQLite file or PostgreSQL schema,
// sampled by the runtime's allocation ticks (about one per 100 kB allocated, with the type that crossed it).
using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;
using Stent.Execution;

namespace Stent.Bench;

/// <summary>Runs a fan-out in process and prints the bytes allocated per item, in all and by type.</summary>
public static class Allocations
{
    /// <summary>Maps the trivial step over <paramref name="n"/> items (after a warm-up) on <paramref name="kind"/>
    /// (sqlite, or postgres on <c>STENT_PG</c>) and prints the top types.</summary>
    public static async Task<int> RunAsync(int n, string kind)
    {
        var byType = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        using var listener = new AllocationTicks(byType);
        var target = kind switch
        {
            "sqlite" => Target.Sqlite(),
            "postgres" => Target.Postgres(Environment.GetEnvironmentVariable("STENT_PG") is { Length: > 0 } pg ? pg
                : throw new ArgumentException("alloc on postgres needs STENT_PG (a connection string).")),
            _ => throw new ArgumentException($"Unknown store '{kind}': sqlite or postgres.", nameof(kind)),
        };
        var store = Target.Open(target.Spec);
        var client = new StentClient(store);
        using var stop = new CancellationTokenSource();
        var serving = new Worker(store, Processes.Options("alloc")).Register(Workflows.FanOut).ServeAsync(stop.Token);
        await client.WaitAsync(Workflows.FanOut, await client.DispatchAsync(Workflows.FanOut, 100),
            TimeSpan.FromMinutes(1));
        byType.Clear();
        var before = GC.GetTotalAllocatedBytes(true);
        var id = await client.DispatchAsync(Workflows.FanOut, n);
        var r = await client.WaitAsync(Workflows.FanOut, id, TimeSpan.FromMinutes(30));
        var total = GC.GetTotalAllocatedBytes(true) - before;
        stop.Cancel();
        await serving;
        if (!r.IsOk || r.Value != n) throw new InvalidOperationException($"fan-out of {n} gave {r}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fan-out {kind} n={n}, worker in process: {(double)total / n:F0} B allocated per item; sampled by type:"));
        foreach (var (type, bytes) in byType.OrderByDescending(kv => kv.Value).Take(25))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(double)bytes / n,8:F0} B/item  {type}"));
        return 0;
    }

    /// <summary>Sums the runtime's allocation ticks by type.</summary>
    private sealed class AllocationTicks(ConcurrentDictionary<string, long> byType) : EventListener
    {
        protected override void OnEventSourceCreated(EventSource source)
        {
            // The GC keyword at verbose level carries the allocation ticks.
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
                EnableEvents(source, EventLevel.Verbose, (EventKeywords)1);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || e.PayloadNames is null
                || e.Payload is null) return;
            var type = e.Payload[e.PayloadNames.IndexOf("TypeName")] as string ?? "?";
            var amount = Convert.ToInt64(e.Payload[e.PayloadNames.IndexOf("AllocationAmount64")],
                CultureInfo.InvariantCulture);
            byType.AddOrUpdate(type, amount, (_, sum) => sum + amount);
        }
    }
}
