// What one pass of the interpreter over a history decided.
using Stent.Workflows;

namespace Stent.Replay;

/// <summary>The state of an execution after a decision.</summary>
public enum ExecutionStatus
{
    /// <summary>Waiting on steps, timers or signals.</summary>
    Running,
    /// <summary>Finished with a value.</summary>
    Completed,
    /// <summary>Finished with a business error or a failure.</summary>
    Failed,
}

/// <summary>The result of replaying a history and advancing the workflow as far as it can go.</summary>
/// <param name="NewEvents">Events to append (commands and the decision marker), empty when nothing changed.</param>
/// <param name="Status">Where the execution stands.</param>
/// <param name="Output">The result as JSON when completed.</param>
/// <param name="Error">The error when failed.</param>
/// <param name="CancelledSteps">Scheduled steps whose results cancellation made moot (their work can be dropped).</param>
/// <param name="Functions">The durable functions met, by name (the runtime runs steps through them).</param>
internal sealed record Decision(
    IReadOnlyList<HistoryEvent> NewEvents, ExecutionStatus Status, string? Output, WorkflowError? Error,
    IReadOnlyList<string> CancelledSteps, IReadOnlyDictionary<string, IDurableFunction> Functions)
{
    /// <summary>Step scheduled in this decision.</summary>
    public IEnumerable<StepScheduled> NewSteps => NewEvents.OfType<StepScheduled>();

    /// <summary>Timers started in this decision.</summary>
    public IEnumerable<TimerStarted> NewTimers => NewEvents.OfType<TimerStarted>();
}
