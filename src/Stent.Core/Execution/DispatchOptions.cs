// How to start an execution: its id or idempotency key, time limit, delay, routing and priority.
namespace Stent.Execution;

/// <summary>Options of <see cref="StentClient.DispatchAsync{TIn, TOut}"/>.</summary>
public sealed record DispatchOptions
{
    /// <summary>The execution's id; dispatching an id that exists returns it and starts nothing. Default: a new GUID.</summary>
    public string? ExecutionId { get; init; }

    /// <summary>Dispatching the same key twice returns the first execution, never a second one.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>The execution ends as timed out this long after it starts ("2h"). Default: no limit.</summary>
    public Duration MaxDuration { get; init; }

    /// <summary>Start no sooner than this long from now ("10m"). Default: at once.</summary>
    public Duration Delay { get; init; }

    /// <summary>The queue for its decisions (steps use their function's queue).</summary>
    public string? Queue { get; init; }

    /// <summary>Tags routing its decisions.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Higher runs first: its decisions, its steps (in place of their functions' own priority, unless 0)
    /// and its children's.</summary>
    public int Priority { get; init; }
}
