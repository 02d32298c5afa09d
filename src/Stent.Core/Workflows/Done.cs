// The value of a workflow that produces nothing but its effect: a sleep, a log line, a compensation.
namespace Stent;

/// <summary>The one value of workflows that produce nothing but their effect (<see cref="Workflow.Sleep"/>,
/// <see cref="Workflow.Log"/>, <see cref="Workflow{T}.Ignore"/>, a saga's compensation).</summary>
public readonly record struct Done
{
    /// <summary>The value.</summary>
    public static Done Default => default;

    /// <inheritdoc />
    public override string ToString() => "done";
}
