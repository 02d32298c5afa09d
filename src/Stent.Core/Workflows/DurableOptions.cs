// How a durable function runs: retry policy, concurrency cap, idempotency, routing and timeout.
namespace Stent;

/// <summary>Options of a durable function. Every member has a sensible default.</summary>
public sealed record DurableOptions
{
    /// <summary>Retry policy for failures of this function. Default: <see cref="RetryPolicy.Default"/>.</summary>
    public RetryPolicy Retry { get; init; } = RetryPolicy.Default;

    /// <summary>At most this many runs of this function at once, across all workers; null = no cap.</summary>
    public int? MaxConcurrent { get; init; }

    /// <summary>At most this many runs of this function start in any one-second window, across all workers; null = no limit. A cap is not a rate: use both when both matter.</summary>
    public int? MaxPerSecond { get; init; }

    /// <summary>
    /// When true, a successful result is stored under an idempotency key and reused by every later
    /// call with the same key, in any execution, without running the function again.
    /// </summary>
    public bool Idempotent { get; init; }

    /// <summary>The key for <see cref="Idempotent"/> results, from the input; default: function name + hash of the input.</summary>
    public Func<object?, string>? IdempotencyKey { get; init; }

    /// <summary>Queue the work goes to (workers may serve only some queues); null = the default queue.</summary>
    public string? Queue { get; init; }

    /// <summary>Tags that route the work to workers serving one of them.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Higher runs first among ready work. Default 0. A priority given when the execution was dispatched
    /// (<see cref="Execution.DispatchOptions.Priority"/>) takes its place.</summary>
    public int Priority { get; init; }

    /// <summary>One attempt taking longer ("30s") is cancelled and counts as a (retryable)
    /// <see cref="TimeoutException"/>. Default: no limit.</summary>
    public Duration Timeout { get; init; }

    /// <summary>Shared defaults.</summary>
    public static DurableOptions Default { get; } = new();

    internal DurableOptions Validated(string name)
    {
        if (MaxConcurrent is <= 0)
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrent), MaxConcurrent, $"MaxConcurrent of '{name}' must be positive, got {MaxConcurrent}.");
        if (MaxPerSecond is <= 0)
            throw new ArgumentOutOfRangeException(nameof(MaxPerSecond), MaxPerSecond, $"MaxPerSecond of '{name}' must be positive, got {MaxPerSecond}.");
        return this;
    }
}
