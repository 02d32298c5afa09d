// How a decision's new steps are grouped into batches: one stored event and one piece of work per batch.
using Stent.Workflows;

namespace Stent.Replay;

/// <summary>
/// How a decision's new steps are batched: the steps of one durable function (a fan-out's items) go into batches of at
/// most <paramref name="MaxSize"/> items, but a fan-out of n items is cut into at least min(n, <paramref
/// name="MinPieces"/>) pieces so that its work still spreads over workers (smaller fan-outs are not batched).
/// </summary>
internal sealed record StepBatching(int MaxSize, int MinPieces)
{
    /// <summary>No batching: every step alone.</summary>
    public static StepBatching None { get; } = new(1, 1);

    /// <summary>The size of the batches for <paramref name="count"/> steps of one function (1: none).</summary>
    public int Size(int count) => Math.Min(MaxSize, (count + MinPieces - 1) / MinPieces);
}

/// <summary>
/// Groups the steps a decision schedules for the same durable function into batches (<see cref="StepBatching"/>), so
/// that a large fan-out costs a row per batch, not per item. A function with a concurrency cap or a rate is never
/// batched (each of its steps is counted alone).
/// </summary>
internal static class StepBatches
{
    /// <summary>True when steps of <paramref name="fn"/> may be batched.</summary>
    public static bool Batchable(IDurableFunction fn) =>
        fn.Options.MaxConcurrent is null && fn.Options.MaxPerSecond is null;

    /// <summary>
    /// <paramref name="pending"/> with the open steps of each batchable function (of <paramref name="functions"/>)
    /// grouped into <see cref="EventBatch"/>es, each where its first step was; everything else as it was.
    /// </summary>
    public static List<HistoryEvent> Group(List<HistoryEvent> pending,
        IReadOnlyDictionary<string, IDurableFunction> functions, StepBatching batching)
    {
        var closed = pending.OfType<PositionedEvent>().Where(e => e is StepCompleted or StepFailed)
            .Select(e => e.Position).ToHashSet(StringComparer.Ordinal);
        var first = new Dictionary<StepScheduled, EventBatch>(ReferenceEqualityComparer.Instance);
        var members = new HashSet<StepScheduled>(ReferenceEqualityComparer.Instance);
        foreach (var steps in pending.OfType<StepScheduled>().Where(s => !closed.Contains(s.Position)
            && functions.TryGetValue(s.Name, out var fn) && Batchable(fn)).GroupBy(s => s.Name))
        {
            var all = steps.ToList();
            var size = batching.Size(all.Count);
            if (size < 2) continue;
            foreach (var chunk in all.Chunk(size).Where(c => c.Length > 1))
            {
                first[chunk[0]] = new EventBatch(chunk);
                members.UnionWith(chunk);
            }
        }
        if (members.Count == 0) return pending;
        var grouped = new List<HistoryEvent>(pending.Count - members.Count + first.Count);
        foreach (var e in pending)
            if (e is not StepScheduled s || !members.Contains(s)) grouped.Add(e);
            else if (first.TryGetValue(s, out var batch)) grouped.Add(batch);
        return grouped;
    }
}
