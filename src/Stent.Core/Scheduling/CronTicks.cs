// When a schedule's ticks fall (Cronos, in its time zone) and which of them a worker fires now.
using Cronos;

namespace Stent.Scheduling;

/// <summary>A parsed cron expression in a time zone: its ticks, and the firing plan of a due schedule.</summary>
internal sealed class CronTicks
{
    /// <summary>At most this many ticks are fired per schedule in one pass (the rest in the next).</summary>
    private const int MaxPerPass = 100;

    private readonly CronExpression _cron;
    private readonly TimeZoneInfo _zone;

    private CronTicks(CronExpression cron, TimeZoneInfo zone) => (_cron, _zone) = (cron, zone);

    /// <summary>Parses <paramref name="cron"/> (five fields, or six with seconds first, or a macro such as
    /// <c>@daily</c>) in <paramref name="timeZone"/>; an <see cref="ArgumentException"/> names a bad one.</summary>
    public static CronTicks Parse(string cron, string timeZone)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cron);
        ArgumentException.ThrowIfNullOrWhiteSpace(timeZone);
        CronExpression expression;
        try
        {
            var fields = cron.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            expression = CronExpression.Parse(cron, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
        }
        catch (CronFormatException e)
        {
            throw new ArgumentException($"Invalid cron expression '{cron}': {e.Message} (five fields, minute first, " +
                "or six with seconds first, e.g. '0 2 * * *' or '*/10 * * * * *').", nameof(cron), e);
        }
        TimeZoneInfo zone;
        try { zone = TimeZoneInfo.FindSystemTimeZoneById(timeZone); }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new ArgumentException($"Unknown time zone '{timeZone}' (use an IANA id such as 'Europe/Paris', or " +
                "'UTC').", nameof(timeZone), e);
        }
        return new CronTicks(expression, zone);
    }

    /// <summary>The first tick after <paramref name="after"/>, or null when there is none.</summary>
    public DateTimeOffset? Next(DateTimeOffset after, bool inclusive = false) =>
        _cron.GetNextOccurrence(after.UtcDateTime, _zone, inclusive) is { } t ? new DateTimeOffset(t, TimeSpan.Zero)
            : null;

    /// <summary>
    /// Which ticks of a due schedule fire at <paramref name="now"/>, and its next tick: every tick from its next tick
    /// on that is at most <see cref="ScheduleOptions.MissedAfter"/> old; of older (missed) ones, the latest with
    /// <see cref="MissedTicks.RunOnce"/> and none with <see cref="MissedTicks.Skip"/>.
    /// </summary>
    public (IReadOnlyList<DateTimeOffset> Ticks, DateTimeOffset? Next) Plan(ScheduleInfo schedule, DateTimeOffset now)
    {
        if (schedule.Paused || schedule.NextTick is not { } due || due > now) return ([], schedule.NextTick);
        var ticks = new List<DateTimeOffset>();
        var fresh = now - schedule.Options.MissedAfter.Value;
        var from = due;
        if (due < fresh)
        {
            if (schedule.Options.Missed == MissedTicks.RunOnce && Latest(due, fresh) is { } missed) ticks.Add(missed);
            from = Next(fresh, inclusive: true) ?? now.AddTicks(1);
        }
        for (DateTimeOffset? t = from; t is { } tick && tick <= now; t = Next(tick))
        {
            if (ticks.Count == MaxPerPass) return (ticks, tick);
            ticks.Add(tick);
        }
        return (ticks, Next(now));
    }

    /// <summary>The latest tick in [<paramref name="from"/>, <paramref name="before"/>), looking back in widening
    /// windows so a frequent cron after a long outage is not walked tick by tick.</summary>
    private DateTimeOffset? Latest(DateTimeOffset from, DateTimeOffset before)
    {
        foreach (var window in new[] { TimeSpan.FromHours(1), TimeSpan.FromDays(1), TimeSpan.FromDays(32),
            TimeSpan.FromDays(400), TimeSpan.MaxValue })
        {
            var start = window == TimeSpan.MaxValue || before - from <= window ? from : before - window;
            DateTimeOffset? last = null;
            foreach (var t in _cron.GetOccurrences(start.UtcDateTime, before.UtcDateTime, _zone, fromInclusive: true,
                toInclusive: false))
                last = new DateTimeOffset(t, TimeSpan.Zero);
            if (last is not null || start == from) return last;
        }
        return null;
    }
}
