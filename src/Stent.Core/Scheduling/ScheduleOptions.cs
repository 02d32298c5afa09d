// How a schedule's executions are dispatched, and what happens to the ticks it missed.
namespace Stent.Scheduling;

/// <summary>Settings of a recurring schedule (<see cref="Execution.StentClient.ScheduleAsync{TIn, TOut}"/>).</summary>
public sealed record ScheduleOptions
{
    /// <summary>What happens to ticks nobody fired in time. Default <see cref="MissedTicks.RunOnce"/>.</summary>
    public MissedTicks Missed { get; init; } = MissedTicks.RunOnce;

    /// <summary>A tick not fired this long after its time is missed. Default 1 minute.</summary>
    public Duration MissedAfter { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Each execution's time limit (as <see cref="Execution.DispatchOptions.MaxDuration"/>). Default: no
    /// limit.</summary>
    public Duration MaxDuration { get; init; }

    /// <summary>The executions' queue (null: the default queue).</summary>
    public string? Queue { get; init; }

    /// <summary>The executions' tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>The executions' priority (higher first).</summary>
    public int Priority { get; init; }
}
