// The store contract for distributed execution: executions, claimable decision and step work under leases, signals.
using Stent.Replay;

namespace Stent.Storage;

/// <summary>
/// Everything workers and clients on many machines share: execution rows, each execution's event
/// stream, step work and timers, an inbox of outcomes not yet folded into a stream, and leases. Every
/// method is one atomic write. Times (leases, timers, deadlines) come from the store's own clock, not
/// the caller's. One implementation, <see cref="Relational.RelationalWorkStore"/>, serves SQLite (a file, or memory)
/// and PostgreSQL through a dialect.
/// </summary>
public interface IWorkStore
{
    /// <summary>
    /// Creates an execution (its row, the first event of its stream, its first decision) unless one with
    /// the same id or idempotency key exists; returns the id of the execution that exists now and whether it is new.
    /// An idempotency key held by an execution that failed, was cancelled or timed out is not a duplicate: the new
    /// execution resumes that one (and takes the key). An execution is resumed at most once: resuming it again
    /// returns the execution that resumed it. Resuming one that has not ended unsuccessfully is an <see
    /// cref="InvalidOperationException"/>.
    /// </summary>
    Task<(string Id, bool Created)> CreateExecutionAsync(NewExecution execution, CancellationToken ct = default);

    /// <summary>The execution's row, or null when there is none.</summary>
    Task<ExecutionInfo?> GetExecutionAsync(string id, CancellationToken ct = default);

    /// <summary>Executions matching the filter, newest first.</summary>
    Task<IReadOnlyList<ExecutionInfo>> ListExecutionsAsync(ExecutionFilter filter, CancellationToken ct = default);

    /// <summary>The execution's events, in order, one per fact (each <see cref="EventBatch"/> opened).</summary>
    Task<IReadOnlyList<HistoryEvent>> ReadAsync(string id, CancellationToken ct = default);

    /// <summary>The execution's events as stored after the first <paramref name="after"/> (a worker's cached prefix),
    /// in order: an <see cref="EventBatch"/> is one, as the stream's version counts it.</summary>
    Task<IReadOnlyList<HistoryEvent>> ReadAfterAsync(string id, long after, CancellationToken ct = default);

    /// <summary>
    /// Claims, in one round trip, up to <see cref="ClaimRequest.MaxDecisions"/> executions that need a
    /// decision and up to <see cref="ClaimRequest.MaxSteps"/> ready steps, each under a lease. Capped
    /// functions never get more running steps than their cap; capped work at its cap does not block other work.
    /// </summary>
    Task<ClaimResult> ClaimAsync(ClaimRequest request, CancellationToken ct = default);

    /// <summary>
    /// Appends a decision's events to the stream at the expected version, folds the inbox items, timers and step
    /// outcomes it consumed, schedules its new steps (claiming those it is asked to) and timers, sets the execution's
    /// state and releases the lease — atomically. Refused (and nothing written) when the lease was lost or the stream
    /// moved on.
    /// </summary>
    Task<DecisionResult> CommitDecisionAsync(DecisionCommit commit, CancellationToken ct = default);

    /// <summary>
    /// Records step outcomes (group commit): each goes to its execution's inbox and wakes it, in one
    /// transaction. An outcome whose lease was lost (expired and reclaimed, or the execution ended) is
    /// rejected: the returned list says, per outcome, whether it was accepted. A final failure also becomes a dead
    /// letter.
    /// </summary>
    Task<IReadOnlyList<bool>> CompleteStepsAsync(IReadOnlyList<StepOutcome> outcomes, CancellationToken ct = default);

    /// <summary>Extends the leases of running steps; returns those of <paramref name="steps"/> whose lease was lost
    /// (a step's id alone may be another step's once it is gone).</summary>
    Task<IReadOnlyList<LeasedStep>> RenewLeasesAsync(IReadOnlyList<LeasedStep> steps, TimeSpan lease,
        CancellationToken ct = default);

    /// <summary>Hands back steps a worker stops running unfinished (it is shutting down): each can be claimed again at
    /// once, as the same attempt. A step whose lease was already lost is left as it is.</summary>
    Task ReleaseStepsAsync(IReadOnlyList<LeasedStep> steps, CancellationToken ct = default);

    /// <summary>Delivers a signal (kept in order until consumed); false, and nothing written, when the execution has
    /// finished. Throws <see cref="KeyNotFoundException"/> for an unknown execution.</summary>
    Task<bool> SignalAsync(string executionId, string name, string payload, CancellationToken ct = default);

    /// <summary>Asks an execution to stop: its next decision cancels it. False when it had already finished; throws
    /// <see cref="KeyNotFoundException"/> for an unknown execution.</summary>
    Task<bool> CancelAsync(string executionId, CancellationToken ct = default);

    /// <summary>Steps that failed for good, newest first (written in the same transaction as their outcome).</summary>
    Task<IReadOnlyList<DeadLetter>> ListDeadLettersAsync(int limit = 50, CancellationToken ct = default);

    /// <summary>One dead letter, or null when there is none with that id.</summary>
    Task<DeadLetter?> GetDeadLetterAsync(long id, CancellationToken ct = default);

    /// <summary>Removes a dead letter; false when there was none with that id.</summary>
    Task<bool> DiscardDeadLetterAsync(long id, CancellationToken ct = default);

    /// <summary>
    /// Deletes executions that ended more than <paramref name="olderThan"/> ago (store clock): their rows, streams,
    /// inbox
    /// and dead letters. An execution whose resumption is still running is kept (the resumption reads it). Returns how
    /// many went.
    /// </summary>
    Task<int> DeleteEndedAsync(TimeSpan olderThan, CancellationToken ct = default);

    /// <summary>Records that a worker is alive and which workflows and functions it has (a heartbeat).</summary>
    Task AnnounceWorkerAsync(WorkerInfo worker, CancellationToken ct = default);

    /// <summary>Workers that announced themselves within <paramref name="seenWithin"/> (store clock).</summary>
    Task<IReadOnlyList<WorkerInfo>> ListWorkersAsync(TimeSpan seenWithin, CancellationToken ct = default);

    /// <summary>
    /// Reads schedule <paramref name="name"/> (null when there is none) and writes what <paramref name="change"/> makes
    /// of it at the store's time, atomically: null deletes it, the same object leaves it. Returns what is stored now.
    /// An exception thrown by <paramref name="change"/> writes nothing.
    /// </summary>
    Task<Scheduling.ScheduleInfo?> ChangeScheduleAsync(string name,
        Func<Scheduling.ScheduleInfo?, DateTimeOffset, Scheduling.ScheduleInfo?> change,
        CancellationToken ct = default);

    /// <summary>Every schedule, by name.</summary>
    Task<IReadOnlyList<Scheduling.ScheduleInfo>> ListSchedulesAsync(CancellationToken ct = default);

    /// <summary>
    /// Fires due schedules (not paused, next tick at or before the store's time): for each, <paramref name="plan"/>
    /// says which ticks run and the next tick; each tick's execution is created and the next tick stored in one
    /// transaction, so a tick runs once however many workers fire at the same time. Returns the ticks fired.
    /// </summary>
    Task<IReadOnlyList<Scheduling.ScheduleFired>> FireSchedulesAsync(
        Func<Scheduling.ScheduleInfo, DateTimeOffset, (IReadOnlyList<DateTimeOffset> Ticks, DateTimeOffset? Next)> plan,
        CancellationToken ct = default);

    /// <summary>Database round trips performed by this store object so far.</summary>
    long RoundTrips { get; }
}
