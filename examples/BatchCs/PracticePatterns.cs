// The guide's rate-limited batch (pattern 5), progress through structured logging (9) and best practices (12) in C#.
using Microsoft.Extensions.Logging;
using Stent;

namespace Stent.Examples.CSharp;

/// <summary>Patterns 5, 9 and 12.</summary>
public static class PracticePatterns
{
    private static int _running, _peak;

    /// <summary>The most calls of <see cref="ExternalApi"/> that ran at once in this process.</summary>
    public static int PeakConcurrentCalls => Volatile.Read(ref _peak);

    /// <summary>Resets <see cref="PeakConcurrentCalls"/>.</summary>
    public static void ResetPeak() => Interlocked.Exchange(ref _peak, 0);

    /// <summary>Pattern 5: an external API that allows 5 calls at once; the cap holds across every worker and process.</summary>
    public static readonly Durable<int, int> ExternalApi = Durable.Create("rate_limited_api_call", async (int id, StepContext ctx) =>
    {
        var now = Interlocked.Increment(ref _running);
        int seen;
        while ((seen = Volatile.Read(ref _peak)) < now && Interlocked.CompareExchange(ref _peak, now, seen) != seen) { }
        try
        {
            await Task.Delay(5, ctx.CancellationToken);
            return id * 10;
        }
        finally { Interlocked.Decrement(ref _running); }
    }, new DurableOptions { MaxConcurrent = 5 });

    /// <summary>Pattern 5: every item through the capped API; only 5 run at once although all are scheduled together.</summary>
    public static readonly WorkflowDef<int[], IReadOnlyList<int>> RateLimitedBatch = Workflow.Define("rate_limited_batch", (int[] ids) =>
        from results in ids.TraverseAll(ExternalApi)
        select results.Successes());

    /// <summary>Pattern 9: a step that logs; its records carry the execution id, step, position, attempt and worker id in their scope.</summary>
    public static readonly Durable<int, Item> LoggedItem = Durable.CreateSync("monitored_item", (int id, StepContext ctx) =>
    {
        ctx.Logger.LogDebug("Processing item {ItemId}", id);
        return new Item(id, "processed");
    });

    /// <summary>
    /// Pattern 9: progress through structured logging — the workflow's own log lines are recorded and written once
    /// (never again when it replays), with a progress report after each chunk of 50.
    /// </summary>
    public static readonly WorkflowDef<int[], int> Monitored = Workflow.Define("monitored_batch", (int[] ids) =>
        from _ in Workflow.Log(LogLevel.Information, "Starting batch processing of {BatchSize}", ids.Length)
        from results in ids.Chunk(50, LoggedItem)
        let ok = results.Successes().Count
        from __ in Workflow.Log(LogLevel.Information, "Batch completed: {Succeeded}/{Total}", ok, ids.Length)
        select ok);

    /// <summary>Pattern 12: an idempotent step whose result is stored by a key of our choosing and reused by every later execution.</summary>
    public static readonly Durable<int, string> IdempotentProcess = Durable.CreateSync("idempotent_process",
        (int id, StepContext ctx) => $"processed {id} by {ctx.ExecutionId}",
        new DurableOptions { Idempotent = true, IdempotencyKey = input => $"item-{input}" });

    /// <summary>A step that writes a temporary file and one that deletes it.</summary>
    public static readonly Durable<int, string> WriteTemp = Durable.CreateSync("write_temp", (int id, StepContext _) =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"stent-processing-{id}-{Guid.NewGuid():N}");
        File.WriteAllText(path, id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return path;
    });

    /// <summary>Deletes the given temporary files; missing ones are fine.</summary>
    public static readonly Durable<string[], int> DeleteTemp = Durable.CreateSync("delete_temp", (string[] paths, StepContext _) =>
    {
        foreach (var p in paths) File.Delete(p);
        return paths.Length;
    });

    /// <summary>Fails after writing its files when <c>fail</c> is set, to show the cleanup running anyway.</summary>
    public static readonly Durable<bool, int> Aggregate = Durable.CreateSync("aggregate_files", (bool fail, StepContext _) =>
        fail ? throw new InvalidOperationException("aggregation failed") : 1, new DurableOptions { Retry = RetryPolicy.None });

    /// <summary>
    /// Pattern 12: process to temporary files, aggregate, and always clean up — a <c>Finally</c> cleanup runs on success,
    /// failure, cancellation and timeout (its input is decided up front, so the cleanup knows every file).
    /// </summary>
    public static readonly WorkflowDef<(int Count, bool Fail), int> BatchWithCleanup = Workflow.Define("batch_with_cleanup", ((int Count, bool Fail) input) =>
        from paths in Enumerable.Range(1, input.Count).Traverse(WriteTemp)
        from result in Aggregate.Call(input.Fail).Finally(DeleteTemp.Call(paths.ToArray()))
        select result);
}
