// One tick of a schedule that a worker fired: the execution it started.
namespace Stent.Scheduling;

/// <summary>A tick fired: <paramref name="ExecutionId"/> runs it.</summary>
/// <param name="Schedule">The schedule's name.</param>
/// <param name="Tick">The tick's time.</param>
/// <param name="ExecutionId">The execution started for it.</param>
public sealed record ScheduleFired(string Schedule, DateTimeOffset Tick, string ExecutionId);
