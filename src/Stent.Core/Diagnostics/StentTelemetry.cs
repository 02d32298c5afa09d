// Traces and metrics through System.Diagnostics: an ActivitySource and a Meter named "Stent", so OpenTelemetry (or any listener) picks them up.
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Stent.Replay;
using Stent.Storage;

namespace Stent.Diagnostics;

/// <summary>
/// What workers report: an activity per step attempt (<c>stent.step</c>) and per decision (<c>stent.decision</c>), tagged
/// with the execution id, step and position; counters of step outcomes and ended executions; a histogram of step durations.
/// Listen with <c>AddSource("Stent")</c> / <c>AddMeter("Stent")</c>; nothing is recorded when nobody listens.
/// </summary>
public static class StentTelemetry
{
    /// <summary>The name of the activity source and the meter.</summary>
    public const string Name = "Stent";

    /// <summary>The activity source: <c>stent.step</c> and <c>stent.decision</c> activities.</summary>
    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);
    private static readonly Counter<long> Steps = Meter.CreateCounter<long>("stent.steps", "{step}", "Step attempts by outcome: completed, business_error, retrying, failed.");
    private static readonly Histogram<double> StepDuration = Meter.CreateHistogram<double>("stent.step.duration", "ms", "How long step attempts ran.");
    private static readonly Counter<long> Decisions = Meter.CreateCounter<long>("stent.decisions", "{decision}", "Decisions committed.");
    private static readonly Counter<long> Ended = Meter.CreateCounter<long>("stent.executions.ended", "{execution}", "Executions that ended, by state.");

    internal static Activity? StartStep(StepTask task) =>
        Source.StartActivity("stent.step", ActivityKind.Internal, Parent(task.TraceParent))
            ?.SetTag("stent.execution_id", task.ExecutionId).SetTag("stent.step", task.Name)
            .SetTag("stent.position", task.Position).SetTag("stent.attempt", task.Attempt);

    internal static Activity? StartDecision(DecisionTask task) =>
        Source.StartActivity("stent.decision", ActivityKind.Internal, Parent(task.TraceParent))
            ?.SetTag("stent.execution_id", task.ExecutionId);

    /// <summary>A dispatch: a child of the caller's activity (a request, say), and the parent of everything the
    /// execution does.</summary>
    internal static Activity? StartDispatch(string workflow) =>
        Source.StartActivity("stent.dispatch", ActivityKind.Producer)?.SetTag("stent.workflow", workflow);

    /// <summary>The activity's W3C <c>traceparent</c>, what work it starts continues; null without one.</summary>
    internal static string? Context(Activity? activity) =>
        activity?.Id is { } id && ActivityContext.TryParse(id, null, out _) ? id : null;

    /// <summary>A stored <c>traceparent</c> as a parent; none (a new trace) when absent or unreadable.</summary>
    private static ActivityContext Parent(string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, isRemote: true, out var context)
            ? context : default;

    internal static void StepEnded(string step, HistoryEvent outcome, TimeSpan took)
    {
        var kind = outcome switch
        {
            StepCompleted { BusinessError: not null } => "business_error",
            StepCompleted => "completed",
            StepAttemptFailed => "retrying",
            _ => "failed",
        };
        var tags = new TagList { { "stent.step", step }, { "stent.outcome", kind } };
        Steps.Add(1, tags);
        StepDuration.Record(took.TotalMilliseconds, tags);
    }

    internal static void Decided(string workflow, ExecutionState state)
    {
        Decisions.Add(1, new KeyValuePair<string, object?>("stent.workflow", workflow));
        if (state.HasEnded())
            Ended.Add(1, new TagList { { "stent.workflow", workflow }, { "stent.state", state.ToString() } });
    }
}
