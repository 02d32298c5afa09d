// Fan-out over collections: Traverse (fail fast), TraverseAll (a Result per item), Map (batched) and Chunk (sequential chunks).
using System.Collections.Immutable;
using Stent.Workflows;

namespace Stent;

/// <summary>Fan-out combinators over collections of inputs.</summary>
public static class FanOut
{
    /// <summary>Runs <paramref name="f"/> for every item concurrently; values in input order; the first error (in recorded order) ends it.</summary>
    public static Workflow<IReadOnlyList<TR>> Traverse<T, TR>(this IEnumerable<T> items, Func<T, Workflow<TR>> f)
    {
        ArgumentNullException.ThrowIfNull(f);
        return Workflow.WhenAll(Items(items, nameof(items)).Select(f));
    }

    /// <summary>Runs a durable function for every item concurrently; values in input order; fails fast.</summary>
    public static Workflow<IReadOnlyList<TR>> Traverse<T, TR>(this IEnumerable<T> items, Durable<T, TR> step)
    {
        ArgumentNullException.ThrowIfNull(step);
        return Workflow.WhenAll<TR>(new StepBranches<T, TR>(Items(items, nameof(items)), step, attempt: false));
    }

    /// <summary>Runs <paramref name="f"/> for every item concurrently and waits for all: one <see cref="Result{T}"/> per item, input order.</summary>
    public static Workflow<IReadOnlyList<Result<TR>>> TraverseAll<T, TR>(this IEnumerable<T> items, Func<T, Workflow<TR>> f)
    {
        ArgumentNullException.ThrowIfNull(f);
        return Workflow.WhenAll(Items(items, nameof(items)).Select(i => f(i).Attempt()));
    }

    /// <summary>Runs a durable function for every item and waits for all: one <see cref="Result{T}"/> per item, input order.</summary>
    public static Workflow<IReadOnlyList<Result<TR>>> TraverseAll<T, TR>(this IEnumerable<T> items, Durable<T, TR> step)
    {
        ArgumentNullException.ThrowIfNull(step);
        return Workflow.WhenAll<Result<TR>>(new StepBranches<T, TR>(Items(items, nameof(items)), step, attempt: true));
    }

    /// <summary>
    /// One durable function over a large list: every step is scheduled in one batched write; values in
    /// input order; the first failure ends it (use <see cref="TraverseAll{T, TR}(IEnumerable{T}, Durable{T, TR})"/> to keep going).
    /// </summary>
    public static Workflow<IReadOnlyList<TR>> Map<T, TR>(this IEnumerable<T> items, Durable<T, TR> step) => items.Traverse(step);

    /// <summary>
    /// Processes the items in sequential chunks of <paramref name="size"/>: each chunk through
    /// <paramref name="perChunk"/>, a progress report after each, and an optional durable pause between
    /// chunks. Every item is in exactly one chunk; results are concatenated in input order.
    /// </summary>
    public static Workflow<IReadOnlyList<TR>> Chunk<T, TR>(
        this IEnumerable<T> items, int size, Func<IReadOnlyList<T>, Workflow<IReadOnlyList<TR>>> perChunk,
        Duration pause = default)
    {
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(size), size, $"Chunk size must be positive, got {size}.");
        ArgumentNullException.ThrowIfNull(perChunk);
        var list = Items(items, nameof(items));
        var chunks = list.Chunk(size).ToArray();
        Workflow<ImmutableList<TR>> Go(int i, ImmutableList<TR> acc) =>
            i == chunks.Length
                ? Workflow.Pure(acc)
                : perChunk(chunks[i]).SelectMany(rs =>
                {
                    var next = acc.AddRange(rs);
                    var report = Workflow.Progress($"chunk {i + 1}/{chunks.Length}", next.Count, list.Count);
                    var rest = i + 1 < chunks.Length && !pause.IsZero ? report.Then(Workflow.Sleep(pause)) : report;
                    return rest.SelectMany(_ => Go(i + 1, next));
                });
        return Go(0, ImmutableList<TR>.Empty).Select(r => (IReadOnlyList<TR>)r);
    }

    /// <summary>Chunks with a workflow per item (<c>items.Chunk(50, x =&gt; Step.Call(x), pause: "1s")</c>): each chunk
    /// is a <c>TraverseAll</c>, one <see cref="Result{T}"/> per item.</summary>
    public static Workflow<IReadOnlyList<Result<TR>>> Chunk<T, TR>(this IEnumerable<T> items, int size,
        Func<T, Workflow<TR>> perItem, Duration pause = default)
    {
        ArgumentNullException.ThrowIfNull(perItem);
        return items.Chunk(size, chunk => chunk.TraverseAll(perItem), pause);
    }

    /// <summary>Chunks with a durable function per item: each chunk is a <c>TraverseAll</c>, one <see cref="Result{T}"/> per item.</summary>
    public static Workflow<IReadOnlyList<Result<TR>>> Chunk<T, TR>(this IEnumerable<T> items, int size,
        Durable<T, TR> step, Duration pause = default)
    {
        ArgumentNullException.ThrowIfNull(step);
        return items.Chunk(size, chunk => chunk.TraverseAll(step), pause);
    }

    private static IReadOnlyList<T> Items<T>(IEnumerable<T> items, string name)
    {
        ArgumentNullException.ThrowIfNull(items, name);
        var list = items.ToList();
        if (default(T) is null)
            for (var i = 0; i < list.Count; i++)
                if (list[i] is null) throw new ArgumentNullException(name, $"Item at index {i} is null.");
        return list;
    }
}
