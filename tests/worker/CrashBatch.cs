// The workflow the crash tests run in several worker processes (a fan-out), and how a process opens its store.
using Stent;
using Stent.Marten;
using Stent.Sqlite;
using Stent.Storage;

namespace Stent.TestWorker;

/// <summary>A fan-out of short steps, and how a process opens the store it is told to use.</summary>
public static class CrashBatch
{
    /// <summary>Doubles an item, taking a few milliseconds.</summary>
    public static readonly Durable<int, int> Double = Durable.Create("crash_double", async (int x, StepContext ctx) =>
    {
        await Task.Delay(3 + x % 7, ctx.CancellationToken);
        return x * 2;
    }, new DurableOptions { Retry = RetryPolicy.Fixed(5, "100ms") });

    /// <summary>Every item through <see cref="Double"/>, summed.</summary>
    public static readonly WorkflowDef<int[], long> Workflow = Stent.Workflow.Define("crash_batch", (int[] items) =>
        from results in items.TraverseAll(Double)
        select results.Successes().Sum(v => (long)v));

    /// <summary>Opens a store from "sqlite:PATH" or "postgres:SCHEMA:CONNECTION".</summary>
    public static IWorkStore Open(string spec)
    {
        if (spec.StartsWith("sqlite:", StringComparison.Ordinal)) return new SqliteWorkStore(spec["sqlite:".Length..]);
        if (spec.StartsWith("postgres:", StringComparison.Ordinal))
        {
            var rest = spec["postgres:".Length..];
            var colon = rest.IndexOf(':');
            return new PostgresWorkStore(rest[(colon + 1)..], rest[..colon]);
        }
        throw new ArgumentException($"Unknown store '{spec}': expected sqlite:PATH or postgres:SCHEMA:CONNECTION.", nameof(spec));
    }
}
