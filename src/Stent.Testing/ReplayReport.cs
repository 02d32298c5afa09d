// What a replay of a recorded history found.
using Stent.Execution;

namespace Stent.Testing;

/// <summary>What a replay found: where the execution stands on today's code, and what it would do next.</summary>
/// <param name="State">Its state after the replay (an ended history: as it ended).</param>
/// <param name="Output">Its result as JSON, when completed.</param>
/// <param name="Error">Its error, when failed.</param>
/// <param name="NextCommands">What today's code would do next for an execution still in flight (steps to schedule,
/// timers, children), as text; empty for one that ended.</param>
public sealed record ReplayReport(ExecutionState State, string? Output, WorkflowError? Error,
    IReadOnlyList<string> NextCommands);
