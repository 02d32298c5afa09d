// The store's time as a worker knows it: read once from the store, advanced by this process's monotonic clock.
namespace Stent.Execution;

/// <summary>
/// A reading of the store's clock (<paramref name="At"/>) taken at <paramref name="Timestamp"/> of <paramref
/// name="Time"/>: <see cref="Now"/> is the store's time at any later moment without asking the store again. Steps a
/// worker starts long after a claim (behind a decision, or one after another in a chain) so record when they really
/// ran.
/// </summary>
internal readonly record struct StoreClock(DateTimeOffset At, long Timestamp, TimeProvider Time)
{
    /// <summary>The store's time now.</summary>
    public DateTimeOffset Now => At + Time.GetElapsedTime(Timestamp);

    /// <summary>A clock reading the store's time <paramref name="storeNow"/> at this moment.</summary>
    public static StoreClock Read(DateTimeOffset storeNow, TimeProvider time) =>
        new(storeNow, time.GetTimestamp(), time);
}
