// Recurring schedules through the client: create or replace, list, pause, resume, delete.
using Stent.Scheduling;
using Stent.Workflows;

namespace Stent.Execution;

public sealed partial class StentClient
{
    /// <summary>
    /// Creates (or replaces) schedule <paramref name="name"/>: at each tick of <paramref name="cron"/> in
    /// <paramref name="timeZone"/> one execution of <paramref name="workflow"/> on <paramref name="input"/> runs, with
    /// id <c>NAME@yyyyMMddTHHmmssZ</c> (the tick, UTC), however many workers run and whatever restarts happen. Ticks
    /// nobody fired in time follow <see cref="ScheduleOptions.Missed"/>. Workers fire schedules (see
    /// <see cref="WorkerOptions.RunSchedules"/>); the first tick is the first after now. Replacing a schedule resumes
    /// it.
    /// </summary>
    /// <param name="name">The schedule's name.</param>
    /// <param name="cron">Five fields (<c>0 2 * * *</c>: 02:00 daily), six with seconds first, or a macro
    /// (<c>@hourly</c>).</param>
    /// <param name="workflow">The workflow each tick runs.</param>
    /// <param name="input">Its input, the same at every tick.</param>
    /// <param name="timeZone">The zone the cron is read in (IANA id, e.g. <c>Europe/Paris</c>); default UTC.</param>
    /// <param name="options">Dispatch settings and what happens to missed ticks.</param>
    /// <param name="ct">Cancels the call.</param>
    /// <exception cref="ArgumentException">A bad name, cron expression, time zone or input (named).</exception>
    public async Task<ScheduleInfo> ScheduleAsync<TIn, TOut>(string name, string cron, WorkflowDef<TIn, TOut> workflow,
        TIn input, string timeZone = "UTC", ScheduleOptions? options = null, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Any(char.IsWhiteSpace))
            throw new ArgumentException($"A schedule needs a name without spaces, got '{name}'.", nameof(name));
        ArgumentNullException.ThrowIfNull(workflow);
        var ticks = CronTicks.Parse(cron, timeZone);
        var definition = (IWorkflowDefinition)workflow;
        _ = definition.Build(input);
        var json = _serializer.SerializeChecked(input, definition.InputType, $"The input of schedule '{name}'");
        options ??= new ScheduleOptions();
        if (options.MissedAfter.Value <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options),
            options.MissedAfter, $"MissedAfter must be positive, got {options.MissedAfter}.");
        return (await _store.ChangeScheduleAsync(name, (old, now) => new ScheduleInfo(name, cron, timeZone,
            workflow.Name, definition.Version, json, options, Paused: false, ticks.Next(now), old?.LastTick,
            old?.LastExecutionId), ct).ConfigureAwait(false))!;
    }

    /// <summary>Every schedule, by name.</summary>
    public Task<IReadOnlyList<ScheduleInfo>> ListSchedulesAsync(CancellationToken ct = default) =>
        _store.ListSchedulesAsync(ct);

    /// <summary>Stops schedule <paramref name="name"/> firing until it is resumed; pausing a paused one does
    /// nothing.</summary>
    /// <exception cref="KeyNotFoundException">No schedule of that name.</exception>
    public async Task<ScheduleInfo> PauseScheduleAsync(string name, CancellationToken ct = default) =>
        (await _store.ChangeScheduleAsync(name, (s, _) => Known(name, s) is { Paused: true } paused ? paused
            : s! with { Paused = true, NextTick = null }, ct).ConfigureAwait(false))!;

    /// <summary>Lets a paused schedule fire again from its first tick after now (ticks of the pause are not run);
    /// resuming a running one does nothing.</summary>
    /// <exception cref="KeyNotFoundException">No schedule of that name.</exception>
    public async Task<ScheduleInfo> ResumeScheduleAsync(string name, CancellationToken ct = default) =>
        (await _store.ChangeScheduleAsync(name, (s, now) => Known(name, s) is { Paused: false } running ? running
            : s! with { Paused = false, NextTick = CronTicks.Parse(s!.Cron, s.TimeZone).Next(now) }, ct)
            .ConfigureAwait(false))!;

    /// <summary>Deletes schedule <paramref name="name"/> (its executions stay); false when there was none.</summary>
    public async Task<bool> DeleteScheduleAsync(string name, CancellationToken ct = default)
    {
        var existed = false;
        await _store.ChangeScheduleAsync(name, (s, _) => { existed = s is not null; return null; }, ct)
            .ConfigureAwait(false);
        return existed;
    }

    private static ScheduleInfo Known(string name, ScheduleInfo? schedule) => schedule ?? throw new
        KeyNotFoundException($"No schedule '{name}'.");
}
