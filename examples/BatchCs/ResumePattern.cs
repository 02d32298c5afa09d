// The guide's checkpoint/resume pattern (10) in C#: no hand-written checkpoints — a failed run is resumed by dispatching its key again.
using System.Collections.Concurrent;
using Stent;

namespace Stent.Examples.CSharp;

/// <summary>What a resumable batch produced.</summary>
public sealed record ResumableSummary(int Items, long Total);

/// <summary>
/// Pattern 10. The Python guide saves a checkpoint after each chunk and loads it on restart. Here every step's
/// outcome is already recorded: a crashed run continues where it stopped, and a run that failed is resumed by
/// dispatching it again with the same idempotency key (or <c>StentClient.ResumeAsync</c>) — completed steps are
/// reused, only the rest runs, and <c>GetAsync</c> reports how many were reused.
/// </summary>
public static class ResumePattern
{
    /// <summary>Records whose service is down (a stand-in for an outage that makes the first run fail).</summary>
    public static readonly ConcurrentDictionary<int, bool> Unavailable = new();

    /// <summary>How many times each record was processed (examples only: shows that nothing finished runs twice).</summary>
    public static readonly ConcurrentDictionary<int, int> Processed = new();

    /// <summary>Processes one record; fails (after two attempts) while its service is down.</summary>
    public static readonly Durable<int, long> ProcessRecord = Durable.CreateSync("process_record", (int id, StepContext _) =>
    {
        Processed.AddOrUpdate(id, 1, (_, n) => n + 1);
        if (Unavailable.ContainsKey(id)) throw new TimeoutException($"record {id}: service unavailable");
        return (long)id * 2;
    }, new DurableOptions { Retry = RetryPolicy.Fixed(2, "10ms") });

    /// <summary>Chunks of 100 with progress and a 100 ms pause; the first record that fails for good fails the run.</summary>
    public static readonly WorkflowDef<int[], ResumableSummary> ResumableBatch = Workflow.Define("resumable_batch", (int[] ids) =>
        from results in ids.Chunk(100, chunk => chunk.Traverse(ProcessRecord), "100ms")
        select new ResumableSummary(ids.Length, results.Sum()));
}
