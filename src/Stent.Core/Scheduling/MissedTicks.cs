// What a schedule does with ticks nobody fired in time (every worker was down).
namespace Stent.Scheduling;

/// <summary>
/// What happens to ticks of a schedule that no worker fired within <see cref="ScheduleOptions.MissedAfter"/> of their
/// time — everything was down, or paused workers held no schedule loop. Ticks fired late but within that time are not
/// missed: each still runs.
/// </summary>
public enum MissedTicks
{
    /// <summary>One execution runs for the latest missed tick, however many were missed (the default).</summary>
    RunOnce,

    /// <summary>Missed ticks are dropped; the schedule goes on at its next tick.</summary>
    Skip,
}
