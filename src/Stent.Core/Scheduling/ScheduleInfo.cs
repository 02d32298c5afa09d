// A recurring schedule as stored: its cron, workflow and input, whether it is paused, and its next tick.
using Stent.Storage;

namespace Stent.Scheduling;

/// <summary>A recurring schedule: at each tick of <paramref name="Cron"/> in <paramref name="TimeZone"/>, one execution
/// of <paramref name="Workflow"/> on <paramref name="Input"/>.</summary>
/// <param name="Name">Its name (unique).</param>
/// <param name="Cron">Its cron expression: five fields, or six with seconds first.</param>
/// <param name="TimeZone">The time zone the cron is read in (an IANA or Windows id).</param>
/// <param name="Workflow">The workflow each tick runs.</param>
/// <param name="Version">The workflow's version.</param>
/// <param name="Input">The input of every execution, as JSON.</param>
/// <param name="Options">How executions are dispatched and missed ticks handled.</param>
/// <param name="Paused">True while paused: no tick fires, and none is caught up on resume.</param>
/// <param name="NextTick">When it fires next (null while paused or when the cron has no more ticks).</param>
/// <param name="LastTick">The last tick fired, if any.</param>
/// <param name="LastExecutionId">The execution of the last tick fired, if any.</param>
public sealed record ScheduleInfo(
    string Name, string Cron, string TimeZone, string Workflow, int Version, string Input, ScheduleOptions Options,
    bool Paused, DateTimeOffset? NextTick, DateTimeOffset? LastTick = null, string? LastExecutionId = null)
{
    /// <summary>The execution id of a tick: the schedule's name and the tick's UTC time, one per tick.</summary>
    public static string ExecutionId(string schedule, DateTimeOffset tick) =>
        $"{schedule}@{tick.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}";

    /// <summary>The execution a tick starts (its id and idempotency key are the tick's).</summary>
    internal NewExecution Execution(DateTimeOffset tick) => new(ExecutionId(Name, tick), Workflow, Version, Input,
        $"schedule:{ExecutionId(Name, tick)}", TimeSpan.Zero, Options.MaxDuration.OrNull, Options.Queue, Options.Tags,
        Options.Priority);
}
