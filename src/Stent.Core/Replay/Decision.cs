// What one pass of the interpreter over a history decided.
using Stent.Workflows;

namespace Stent.Replay;

/// <summary>The result of replaying a history and advancing the workflow as far as it can go.</summary>
/// <param name="NewEvents">Events to append (commands and the decision marker), empty when nothing changed.</param>
/// <param name="State">Where the execution stands: Running, Completed, Failed, Cancelled or TimedOut.</param>
/// <param name="Output">The result as JSON when completed.</param>
/// <param name="Error">The error when failed.</param>
/// <param name="CancelledSteps">Scheduled steps whose results cancellation made moot (their work can be
/// dropped).</param>
/// <param name="Functions">The durable functions met, by name (the runtime runs steps through them).</param>
/// <param name="Children">The child workflows met, by name (the runtime runs child executions through them).</param>
/// <param name="Checkpoint">Where the workflow waits, for the next decision to start from (null when it ended).</param>
internal sealed record Decision(
    IReadOnlyList<HistoryEvent> NewEvents, ExecutionState State, string? Output, WorkflowError? Error,
    IReadOnlyList<string> CancelledSteps, IReadOnlyDictionary<string, IDurableFunction> Functions,
    IReadOnlyDictionary<string, IWorkflowDefinition> Children, Interpreter.Checkpoint? Checkpoint)
{
    private HashSet<string>? _closed;

    /// <summary>The signals the workflow waits for now, by name, with the payload type each wait reads.</summary>
    public IReadOnlyDictionary<string, Type> Awaiting { get; init; } = new Dictionary<string, Type>();

    /// <summary>Positions this decision both opened and closed (outcomes reused from a resumed execution): few, so
    /// kept apart rather than a set of everything it opened; computed once.</summary>
    private HashSet<string> Closed => _closed ??= HistoryEvent.Flatten(NewEvents)
        .Where(e => e is StepCompleted or ChildEnded).Select(e => ((PositionedEvent)e).Position)
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>Steps, timers and children started in this decision and still open.</summary>
    private IEnumerable<PositionedEvent> Opened => HistoryEvent.Flatten(NewEvents).OfType<PositionedEvent>()
        .Where(e => e is StepScheduled or TimerStarted or ChildStarted && !Closed.Contains(e.Position));

    /// <summary>Steps to run, scheduled in this decision: one piece of work per step, or per batch of steps stored
    /// together (<see cref="StepBatches"/>).</summary>
    public IEnumerable<IReadOnlyList<StepScheduled>> NewSteps
    {
        get
        {
            foreach (var e in NewEvents)
                if (e is EventBatch b)
                    yield return b.Events as IReadOnlyList<StepScheduled> ?? [.. b.Events.Cast<StepScheduled>()];
                else if (e is StepScheduled s && !Closed.Contains(s.Position)) yield return [s];
        }
    }

    /// <summary>Timers started in this decision.</summary>
    public IEnumerable<TimerStarted> NewTimers => Opened.OfType<TimerStarted>();

    /// <summary>Child executions to start.</summary>
    public IEnumerable<ChildStarted> NewChildren => Opened.OfType<ChildStarted>();
}
