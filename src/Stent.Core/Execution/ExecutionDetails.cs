// What GetAsync tells about an execution: its row, its step timeline, progress and counters.
using Stent.Storage;

namespace Stent.Execution;

/// <summary>One step in an execution's timeline.</summary>
/// <param name="Position">Its position.</param>
/// <param name="Name">The durable function.</param>
/// <param name="Status">scheduled, retrying, completed, reused (from the execution this one resumes), failed or
/// business-error.</param>
/// <param name="Attempts">Attempts made.</param>
/// <param name="Error">The last error message, if any.</param>
public sealed record StepInfo(string Position, string Name, string Status, int Attempts, string? Error)
{
    /// <summary>When its first attempt started (store time), if one ran.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When its last recorded attempt ended (store time).</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>From its first attempt's start to its last one's end (retry pauses included).</summary>
    public TimeSpan? Duration => EndedAt - StartedAt;
}

/// <summary>Something an execution that has not ended waits for.</summary>
/// <param name="Kind">signal, timer, child or step.</param>
/// <param name="What">The signal's name and type, the timer's position and purpose, the child's id, or the step's
/// name and position.</param>
/// <param name="Until">When a timer is due, a signal wait times out or a failed step is retried, if known.</param>
public sealed record WaitingFor(string Kind, string What, DateTimeOffset? Until = null);

/// <summary>An execution seen from outside.</summary>
/// <param name="Info">Its row: state, timestamps, result.</param>
/// <param name="Steps">Every step, in position order.</param>
/// <param name="Progress">The last progress report, if any.</param>
/// <param name="Counters">Counts: steps scheduled, completed, reused, failed, retried; timers; signals;
/// children.</param>
/// <param name="CustomState">Values the workflow set with <c>Workflow.SetState</c>, as JSON, by key.</param>
/// <param name="Events">How many events its stream holds.</param>
/// <param name="ResumedFrom">The ended execution this one resumes (its finished steps show as reused), if any.</param>
/// <param name="Unserved">
/// For an execution that has not ended, why no worker can advance it (no live worker has its workflow), else null.
/// </param>
public sealed record ExecutionDetails(
    ExecutionInfo Info, IReadOnlyList<StepInfo> Steps, ProgressReport? Progress, IReadOnlyDictionary<string, long>
        Counters,
    IReadOnlyDictionary<string, string> CustomState, int Events, string? ResumedFrom, string? Unserved = null)
{
    /// <summary>Names of signals it received and no wait took, in order: once it has ended, signals sent under a name
    /// its workflow never waits for (a misspelling, say).</summary>
    public IReadOnlyList<string> UntakenSignals { get; init; } = [];

    /// <summary>What it waits for now (signals, timers, running children, steps in flight); empty once it has
    /// ended.</summary>
    public IReadOnlyList<WaitingFor> WaitingFor { get; init; } = [];
}
