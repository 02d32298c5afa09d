// The event vocabulary of an execution's stream: everything replay needs, nothing more.
using System.Text.Json.Serialization;

namespace Stent.Replay;

/// <summary>One recorded fact of an execution. An execution's events, in order, are its history.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$type")]
[JsonDerivedType(typeof(ExecutionStarted), "started")]
[JsonDerivedType(typeof(StepScheduled), "scheduled")]
[JsonDerivedType(typeof(StepAttemptFailed), "attemptFailed")]
[JsonDerivedType(typeof(StepCompleted), "completed")]
[JsonDerivedType(typeof(StepFailed), "failed")]
[JsonDerivedType(typeof(TimerStarted), "timerStarted")]
[JsonDerivedType(typeof(TimerFired), "timerFired")]
[JsonDerivedType(typeof(ValueRecorded), "value")]
[JsonDerivedType(typeof(ProgressReported), "progress")]
[JsonDerivedType(typeof(StateSet), "state")]
[JsonDerivedType(typeof(LogRecorded), "log")]
[JsonDerivedType(typeof(DecisionCompleted), "decision")]
[JsonDerivedType(typeof(ExecutionCompleted), "executionCompleted")]
[JsonDerivedType(typeof(ExecutionFailed), "executionFailed")]
[JsonDerivedType(typeof(ExecutionCancelled), "executionCancelled")]
[JsonDerivedType(typeof(ExecutionCancelRequested), "cancelRequested")]
[JsonDerivedType(typeof(SignalReceived), "signalReceived")]
[JsonDerivedType(typeof(SignalConsumed), "signalConsumed")]
[JsonDerivedType(typeof(ChildStarted), "childStarted")]
[JsonDerivedType(typeof(ChildEnded), "childEnded")]
[JsonDerivedType(typeof(EventBatch), "batch")]
public abstract record HistoryEvent
{
    /// <summary><paramref name="events"/> with each <see cref="EventBatch"/> opened: one event per fact.</summary>
    public static IEnumerable<HistoryEvent> Flatten(IEnumerable<HistoryEvent> events)
    {
        foreach (var e in events)
            if (e is EventBatch b) foreach (var inner in b.Events) yield return inner;
            else yield return e;
    }
}

/// <summary>An event that belongs to one instruction position of the workflow.</summary>
public abstract record PositionedEvent(string Position) : HistoryEvent;

/// <summary>The execution began.</summary>
/// <param name="Workflow">The workflow's name.</param>
/// <param name="Version">The workflow definition's version.</param>
/// <param name="Input">The input, as JSON.</param>
/// <param name="StartedAt">When it was dispatched.</param>
/// <param name="ResumedFrom">The ended execution this one resumes: its completed steps, fired sleeps and recorded
/// values are reused, not run again.</param>
/// <param name="ParentId">The execution that started this one as a child (it receives the result), if any.</param>
/// <param name="ParentPosition">The child instruction's position in the parent.</param>
public sealed record ExecutionStarted(
    string Workflow, int Version, string Input, DateTimeOffset StartedAt, string? ResumedFrom = null, string? ParentId =
        null, string? ParentPosition = null) : HistoryEvent;

/// <summary>A step was scheduled at a position.</summary>
/// <param name="Position">The instruction position.</param>
/// <param name="Name">The durable function's name.</param>
/// <param name="Input">The input, as JSON.</param>
public sealed record StepScheduled(string Position, string Name, string Input) : PositionedEvent(Position);

/// <summary>An attempt of a step failed and will be retried at <paramref name="RetryAt"/> (the delay chosen, jitter
/// included).</summary>
public sealed record StepAttemptFailed(string Position, int Attempt, Failure Error, DateTimeOffset RetryAt) :
    PositionedEvent(Position), ITimedOutcome
{
    /// <summary>When the attempt started (store time; null for outcomes recorded before times were).</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When the attempt ended (store time).</summary>
    public DateTimeOffset? EndedAt { get; init; }
}

/// <summary>A step produced its output (or returned a business error).</summary>
/// <param name="Position">The instruction position.</param>
/// <param name="Output">The output, as JSON (null when <paramref name="BusinessError"/> is set).</param>
/// <param name="BusinessError">The business error the step returned, if any.</param>
/// <param name="Attempt">The attempt that produced it.</param>
/// <param name="ReusedFrom">Set when the outcome was not run but reused from the execution this one resumes.</param>
public sealed record StepCompleted(string Position, string? Output, string? BusinessError, int Attempt, string?
    ReusedFrom = null) : PositionedEvent(Position), ITimedOutcome
{
    /// <summary>When the attempt started (store time; null for outcomes recorded before times were).</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When the attempt ended (store time).</summary>
    public DateTimeOffset? EndedAt { get; init; }
}

/// <summary>An outcome of a step attempt, with when the attempt ran.</summary>
public interface ITimedOutcome
{
    /// <summary>The step's position.</summary>
    string Position { get; }

    /// <summary>When the attempt started (store time; null for outcomes recorded before times were).</summary>
    DateTimeOffset? StartedAt { get; }

    /// <summary>When the attempt ended (store time).</summary>
    DateTimeOffset? EndedAt { get; }
}

/// <summary>A step failed for good, after <paramref name="Attempts"/> attempts.</summary>
public sealed record StepFailed(string Position, Failure Error, int Attempts) : PositionedEvent(Position),
    ITimedOutcome
{
    /// <summary>When the attempt started (store time; null for outcomes recorded before times were).</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When the attempt ended (store time).</summary>
    public DateTimeOffset? EndedAt { get; init; }
}

/// <summary>A durable timer was started (a sleep, a back-off of a workflow-level retry, or a signal wait's
/// timeout).</summary>
public sealed record TimerStarted(string Position, DateTimeOffset DueAt, TimerPurpose Purpose) :
    PositionedEvent(Position);

/// <summary>Why a durable timer was started (stored as "sleep", "retry" or "signal timeout").</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TimerPurpose>))]
public enum TimerPurpose
{
    /// <summary>A workflow sleeps.</summary>
    [JsonStringEnumMemberName("sleep")] Sleep,

    /// <summary>A workflow-level retry waits before its next attempt.</summary>
    [JsonStringEnumMemberName("retry")] Retry,

    /// <summary>A signal wait gives up.</summary>
    [JsonStringEnumMemberName("signal timeout")] SignalTimeout,
}

/// <summary>A durable timer fired.</summary>
public sealed record TimerFired(string Position) : PositionedEvent(Position);

/// <summary>A value made once and recorded (clock reading, GUID, random number).</summary>
public sealed record ValueRecorded(string Position, string Kind, string Value) : PositionedEvent(Position);

/// <summary>The workflow reported progress.</summary>
public sealed record ProgressReported(string Position, ProgressReport Report) : PositionedEvent(Position);

/// <summary>A decision ended: the events between two of these were seen together by the next decision.</summary>
public sealed record DecisionCompleted(int Index) : HistoryEvent;

/// <summary>The workflow produced its value.</summary>
public sealed record ExecutionCompleted(string Output) : HistoryEvent;

/// <summary>The workflow ended with a business error or a failure.</summary>
public sealed record ExecutionFailed(WorkflowError Error) : HistoryEvent;

/// <summary>The execution was cancelled before it finished.</summary>
/// <param name="Reason">Why: "cancelled" or "timed out" (its MaxDuration passed).</param>
public sealed record ExecutionCancelled(string Reason) : HistoryEvent;

/// <summary>A signal was delivered to the execution (kept until a wait consumes it).</summary>
/// <param name="Name">The signal's name.</param>
/// <param name="Payload">Its payload, as JSON.</param>
/// <param name="Sequence">Delivery order within the execution.</param>
public sealed record SignalReceived(string Name, string Payload, long Sequence) : HistoryEvent;

/// <summary>
/// The wait at a position took the signal with <paramref name="Sequence"/>: a delivered signal (positive), one carried
/// over from the execution this one resumes (below <see cref="TimedOutSequence"/>), or none because it timed out
/// (<see cref="TimedOutSequence"/>).
/// </summary>
public sealed record SignalConsumed(string Position, string Name, long Sequence) : PositionedEvent(Position)
{
    /// <summary>The sequence recorded when a wait timed out.</summary>
    public const long TimedOutSequence = -1;

    /// <summary>The sequence of the <paramref name="n"/>th signal (from 0) carried over into a resumed
    /// execution.</summary>
    public static long CarriedSequence(int n) => TimedOutSequence - 1 - n;

    /// <summary>True when the wait timed out.</summary>
    [JsonIgnore] public bool TimedOut => Sequence == TimedOutSequence;

    /// <summary>True when the signal was carried over from the execution this one resumes.</summary>
    [JsonIgnore] public bool Carried => Sequence < TimedOutSequence;
}

/// <summary>The execution was asked to stop (cancelled, or its MaxDuration passed): waits end, Finally blocks run, then
/// it ends.</summary>
/// <param name="Reason">"cancelled" or "timed out".</param>
public sealed record ExecutionCancelRequested(string Reason) : HistoryEvent;

/// <summary>The workflow set a custom state value (shown by GetAsync; the last value of a key wins).</summary>
/// <param name="Position">The instruction position.</param>
/// <param name="Key">The state key.</param>
/// <param name="Value">The value, as JSON.</param>
public sealed record StateSet(string Position, string Key, string Value) : PositionedEvent(Position);

/// <summary>Workflow code logged a line (written to the logger once, when recorded; never again on replay).</summary>
/// <param name="Position">The instruction position.</param>
/// <param name="Level">The log level.</param>
/// <param name="Template">The message template.</param>
/// <param name="Args">The template's arguments, as text.</param>
public sealed record LogRecorded(string Position, Microsoft.Extensions.Logging.LogLevel Level, string Template,
    IReadOnlyList<string?> Args) : PositionedEvent(Position);

/// <summary>A child workflow was started at a position; it runs as its own execution with its own stream.</summary>
/// <param name="Position">The instruction position (the child's id is <see cref="ChildId"/> of the parent's id and
/// this).</param>
/// <param name="Workflow">The child workflow's name.</param>
/// <param name="Input">Its input, as JSON.</param>
public sealed record ChildStarted(string Position, string Workflow, string Input) : PositionedEvent(Position)
{
    /// <summary>The id of the child started at <paramref name="position"/> of execution <paramref
    /// name="parentId"/>.</summary>
    public static string ChildId(string parentId, string position) => $"{parentId}/{position}";
}

/// <summary>A child execution ended: its value, or its error (business error, failure or cancellation).</summary>
/// <param name="Position">The child instruction's position.</param>
/// <param name="Output">The child's result, as JSON, when it completed.</param>
/// <param name="Error">The child's error when it did not.</param>
public sealed record ChildEnded(string Position, string? Output, WorkflowError? Error) : PositionedEvent(Position);

/// <summary>
/// Events of the same kind of work stored as one (one row, one stream version): the steps of one piece of a fan-out
/// that are scheduled together, or the outcomes of the items that piece ran. Readers see its events one by one
/// (<see cref="HistoryEvent.Flatten"/>); only the stream's version counts it once.
/// </summary>
/// <param name="Events">The events, in order; none is itself a batch (stored compactly when they are a fan-out's,
/// <see cref="EventBatchJson"/>).</param>
public sealed record EventBatch(
    [property: JsonConverter(typeof(EventBatchJson))] IReadOnlyList<HistoryEvent> Events) : HistoryEvent;
