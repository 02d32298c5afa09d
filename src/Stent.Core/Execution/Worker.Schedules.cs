// The schedule loop: every second a worker fires the ticks of due schedules (any worker may; each tick runs once).
using Microsoft.Extensions.Logging;
using Stent.Scheduling;

namespace Stent.Execution;

public sealed partial class Worker
{
    /// <summary>How often a worker looks for due schedules.</summary>
    private static readonly TimeSpan SchedulePoll = TimeSpan.FromSeconds(1);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string), CronTicks> _crons = new();

    /// <summary>Fires due schedules until <paramref name="ct"/> is cancelled.</summary>
    private async Task SchedulesAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await FireSchedulesAsync(ct).ConfigureAwait(false); }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                _logger.LogWarning(e, "Worker {WorkerId}: firing schedules failed; retrying", _options.WorkerId);
            }
            await Task.Delay(SchedulePoll, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Fires the ticks of due schedules once; returns them.</summary>
    internal async Task<IReadOnlyList<ScheduleFired>> FireSchedulesAsync(CancellationToken ct)
    {
        var fired = await _store.FireSchedulesAsync(Plan, ct).ConfigureAwait(false);
        foreach (var f in fired)
            _logger.LogInformation("Schedule {Schedule} fired its tick {Tick:o}: execution {ExecutionId}", f.Schedule,
                f.Tick, f.ExecutionId);
        return fired;
    }

    private (IReadOnlyList<DateTimeOffset>, DateTimeOffset?) Plan(ScheduleInfo schedule, DateTimeOffset now)
    {
        try
        {
            return _crons.GetOrAdd((schedule.Cron, schedule.TimeZone), k => CronTicks.Parse(k.Item1, k.Item2))
                .Plan(schedule, now);
        }
        catch (ArgumentException e)
        {
            // Parsed when it was saved: a time zone this machine lacks, say. Left due for a worker that can read it.
            _logger.LogError(e, "Worker {WorkerId} cannot read schedule {Schedule}", _options.WorkerId, schedule.Name);
            return ([], schedule.NextTick);
        }
    }
}
