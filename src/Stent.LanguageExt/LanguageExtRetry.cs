// Retry policies from LanguageExt schedules.
using LanguageExt;

namespace Stent.LanguageExt;

/// <summary>Retry policies from LanguageExt <see cref="Schedule"/> values.</summary>
public static class LanguageExtRetry
{
    /// <summary>One retry per delay <paramref name="schedule"/> yields (at most <paramref name="maxAttempts"/>
    /// attempts in all, for unbounded schedules), no jitter.</summary>
    public static RetryPolicy FromSchedule(Schedule schedule, int maxAttempts = 100)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        return RetryPolicy.FromDelays(schedule.Run().Take(Math.Max(0, maxAttempts - 1))
            .Select(d => Duration.From(TimeSpan.FromMilliseconds((double)d))));
    }
}
