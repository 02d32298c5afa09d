// Where the runtime reads the time: the system clock, or a manual clock that tests move.
namespace Stent.Execution;

/// <summary>A source of the current time. Timers fire when it passes their due time.</summary>
public interface IClock
{
    /// <summary>Now, in UTC.</summary>
    DateTimeOffset UtcNow { get; }

    /// <summary>Waits until <paramref name="due"/> (a manual clock jumps there instead).</summary>
    Task WaitUntilAsync(DateTimeOffset due, CancellationToken ct);
}

/// <summary>The machine's clock; waiting really waits.</summary>
public sealed class SystemClock : IClock
{
    /// <summary>The shared instance.</summary>
    public static SystemClock Instance { get; } = new();

    /// <inheritdoc />
    public DateTimeOffset UtcNow => DateTimeOffset.UtcNow;

    /// <inheritdoc />
    public Task WaitUntilAsync(DateTimeOffset due, CancellationToken ct)
    {
        var wait = due - DateTimeOffset.UtcNow;
        return wait > TimeSpan.Zero ? Task.Delay(wait, ct) : Task.CompletedTask;
    }
}

/// <summary>A clock that moves only when told, or jumps to the next timer: tests never wait real time.</summary>
/// <param name="start">The starting time.</param>
public sealed class ManualClock(DateTimeOffset start) : IClock
{
    private DateTimeOffset _now = start;

    /// <summary>A clock starting at 2026-01-01 UTC.</summary>
    public ManualClock() : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)) { }

    /// <inheritdoc />
    public DateTimeOffset UtcNow => _now;

    /// <summary>Moves the clock forward.</summary>
    public void Advance(TimeSpan by) => _now += by < TimeSpan.Zero ? throw new ArgumentOutOfRangeException(nameof(by), by, "A clock cannot go back.") : by;

    /// <inheritdoc />
    public Task WaitUntilAsync(DateTimeOffset due, CancellationToken ct)
    {
        if (due > _now) _now = due;
        return Task.CompletedTask;
    }
}
