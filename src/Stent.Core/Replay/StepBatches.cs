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
        // Two passes, no set or map per step (a large fan-out's first decision holds 100,000 of them): count each
        // function's open steps, then cut them into batches in order, each written where its first step was.
        HashSet<string>? closed = null;
        foreach (var e in pending)
            if (e is StepCompleted or StepFailed)
                (closed ??= new(StringComparer.Ordinal)).Add(((PositionedEvent)e).Position);
        bool Open(StepScheduled s) => closed is null || !closed.Contains(s.Position);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var e in pending)
            if (e is StepScheduled s && Open(s) && functions.TryGetValue(s.Name, out var fn) && Batchable(fn))
                counts[s.Name] = counts.GetValueOrDefault(s.Name) + 1;
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal);
        var batched = 0;
        foreach (var (name, count) in counts)
        {
            var size = batching.Size(count);
            if (size < 2) continue;
            sizes[name] = size;
            // How many events fewer the batches make (a last batch of one step is no batch).
            var members = count % size == 1 ? count - 1 : count;
            batched += members - (members + size - 1) / size;
        }
        if (batched == 0) return pending;
        var grouped = new List<HistoryEvent>(pending.Count - batched);
        // Per function: the batch being filled and its place in the list.
        var filling = new Dictionary<string, (int At, List<StepScheduled> Steps)>(StringComparer.Ordinal);
        var batches = new List<(int At, List<StepScheduled> Steps)>();
        foreach (var e in pending)
        {
            if (e is not StepScheduled s || !sizes.TryGetValue(s.Name, out var size) || !Open(s))
            {
                grouped.Add(e);
                continue;
            }
            if (!filling.TryGetValue(s.Name, out var batch) || batch.Steps.Count == size)
            {
                batch = (grouped.Count, new List<StepScheduled>(size));
                filling[s.Name] = batch;
                batches.Add(batch);
                grouped.Add(s);
            }
            batch.Steps.Add(s);
        }
        foreach (var (at, steps) in batches)
            if (steps.Count > 1) grouped[at] = new EventBatch(steps);
        return grouped;
    }
}
