// The workflow the crash tests run in several worker processes: a fan-out whose steps log every start and finish.
using Stent;
using Stent.Marten;
using Stent.Sqlite;
using Stent.Storage;

namespace Stent.TestWorker;

/// <summary>A fan-out of logged steps, and how a process opens the store it is told to use.</summary>
public static class CrashBatch
{
    /// <summary>The step log prefix: each process appends "start|done pid execution position" lines to PREFIX.PID.</summary>
    public static string? LogPath { get; set; }

    private static readonly Lock Gate = new();

    private static void Log(string what, StepContext ctx)
    {
        if (LogPath is null) return;
        lock (Gate) File.AppendAllText($"{LogPath}.{Environment.ProcessId}", $"{what} {Environment.ProcessId} {ctx.ExecutionId} {ctx.Position}\n");
    }

    /// <summary>Doubles an item, logging its start and finish, taking a few milliseconds.</summary>
    public static readonly Durable<int, int> Double = Durable.Create("crash_double", async (int x, StepContext ctx) =>
    {
        Log("start", ctx);
        await Task.Delay(3 + x % 7, ctx.CancellationToken);
        Log("done", ctx);
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
