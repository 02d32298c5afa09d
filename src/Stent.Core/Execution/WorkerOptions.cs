// Settings of a worker process: concurrency, routing, leases, heartbeats and polling.
using Microsoft.Extensions.Logging;
using Stent.Serialization;

namespace Stent.Execution;

/// <summary>Settings of a <see cref="Worker"/>.</summary>
public sealed record WorkerOptions
{
    /// <summary>This worker's id (in leases and log scopes). Default: machine, process and a random suffix.</summary>
    public string WorkerId { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>At most this many steps run at once in this worker. Default 10.</summary>
    public int MaxConcurrency { get; init; } = 10;

    /// <summary>
    /// A fan-out's steps of one durable function are stored and run in batches of up to this many items (one work row,
    /// one event and one commit per batch; each item keeps its own outcome, retries and dead letter): at least
    /// min(n, 64) batches for n items, so the work still spreads over workers, and a function with a concurrency cap
    /// or a rate is never batched. A batch runs its items one after another in one of the worker's
    /// <see cref="MaxConcurrency"/> slots and records those it finished at least every second. 1: every step alone.
    /// Default 64.
    /// </summary>
    public int MaxBatchSize { get; init; } = 64;

    /// <summary>The fewest batches a fan-out is cut into (see <see cref="MaxBatchSize"/>). Default 64.</summary>
    internal int MinBatchPieces { get; init; } = 64;

    /// <summary>At most this many decisions claimed per round trip. Default 32.</summary>
    public int MaxDecisionsPerClaim { get; init; } = 32;

    /// <summary>Only work of these queues (and the default queue); null: every queue.</summary>
    public IReadOnlyList<string>? Queues { get; init; }

    /// <summary>Only work without tags or sharing one of these; null: everything.</summary>
    public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>How long a claim lasts unless renewed. Default 30 s.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often running steps' leases are renewed. Default: a third of the lease.</summary>
    public TimeSpan? HeartbeatInterval { get; init; }

    /// <summary>
    /// When the worker is stopped, how long running steps get to finish (their outcomes are recorded). After it, their
    /// <see cref="StepContext.CancellationToken"/> fires and they are handed back to the store unfinished, so another
    /// worker starts them at once, as the same attempt. Default 10 s.
    /// </summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an execution parked as <see cref="ExecutionState.Blocked"/> (its code no longer matches its
    /// history) waits before a worker tries it again. Default 1 minute.</summary>
    public TimeSpan BlockedRetry { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>When true (default), the worker fires due recurring schedules (each tick runs once, however many
    /// workers do this).</summary>
    public bool RunSchedules { get; init; } = true;

    /// <summary>Shortest wait between empty polls. Default 10 ms.</summary>
    public TimeSpan PollMin { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Longest wait between empty polls. Default 500 ms.</summary>
    public TimeSpan PollMax { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How payloads become JSON.</summary>
    public PayloadSerializer Serializer { get; init; } = PayloadSerializer.Default;

    /// <summary>Logs; default: the <see cref="Services"/>' logger factory (the host's under <c>AddStent</c>), else
    /// none.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// Where steps get the app's services (<see cref="StepContext.Services"/>, <c>Durable.Create&lt;TService, TIn,
    /// TOut&gt;</c>): each attempt resolves them from a fresh scope of this provider. <c>AddStent</c> sets the host's.
    /// Default none.
    /// </summary>
    public IServiceProvider? Services { get; init; }

    /// <summary>Called once per recorded progress report.</summary>
    public Action<string, ProgressReport>? OnProgress { get; init; }

    /// <summary>Seed for retry jitter and <see cref="Workflow.Random"/>; null: random.</summary>
    public int? Seed { get; init; }

    /// <summary>How the worker measures how long steps take (the store's clock says when). Default: the
    /// system's.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Each round waits for the steps it started and records them (deterministic runs for tests).</summary>
    internal bool InlineSteps { get; init; }

    /// <summary>Start each decision where the previous one stopped (tests compare with replays from the top).</summary>
    internal bool Incremental { get; init; } = true;

    internal WorkerOptions Validated()
    {
        if (MaxConcurrency < 1) throw new ArgumentOutOfRangeException(nameof(MaxConcurrency), MaxConcurrency,
            $"MaxConcurrency must be positive, got {MaxConcurrency}.");
        if (MaxBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize,
            $"MaxBatchSize must be positive, got {MaxBatchSize}.");
        if (LeaseDuration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(LeaseDuration), LeaseDuration,
            $"LeaseDuration must be positive, got {LeaseDuration}.");
        if (ShutdownGrace < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ShutdownGrace), ShutdownGrace,
            $"ShutdownGrace must not be negative, got {ShutdownGrace}.");
        return this;
    }
}
