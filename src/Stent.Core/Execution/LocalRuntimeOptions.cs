// Settings of the in-process runtime.
using Microsoft.Extensions.Logging;
using Stent.Serialization;

namespace Stent.Execution;

/// <summary>Settings of a <see cref="LocalRuntime"/>.</summary>
public sealed record LocalRuntimeOptions
{
    /// <summary>The clock timers run on. Default: the system clock; tests use a <see cref="ManualClock"/>.</summary>
    public IClock Clock { get; init; } = SystemClock.Instance;

    /// <summary>How payloads become JSON. Default: <see cref="PayloadSerializer.Default"/>.</summary>
    public PayloadSerializer Serializer { get; init; } = PayloadSerializer.Default;

    /// <summary>At most this many steps run at once in this process. Default 32.</summary>
    public int MaxConcurrency { get; init; } = 32;

    /// <summary>
    /// When true, each round starts the ready steps and waits for all of them before recording their
    /// outcomes in start order, so the same program always writes the same history (for tests).
    /// </summary>
    public bool Deterministic { get; init; }

    /// <summary>Seed for jitter and <see cref="Workflow.Random"/>; null = random.</summary>
    public int? Seed { get; init; }

    /// <summary>Logs from workflows and steps; default: none.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Called once per recorded progress report (never again on replay).</summary>
    public Action<string, ProgressReport>? OnProgress { get; init; }

    /// <summary>Start each decision where the previous one stopped instead of replaying from the top (tests compare both).</summary>
    internal bool Incremental { get; init; } = true;

    /// <summary>An id for this worker, carried in log scopes.</summary>
    public string WorkerId { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}";
}
