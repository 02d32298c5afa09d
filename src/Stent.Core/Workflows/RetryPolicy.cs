// A retry policy as a value: attempts, exponential back-off with a cap and jitter, and which failures retry.

namespace Stent;

/// <summary>
/// How often and how long to wait before running failed work again. Immutable; compose with the
/// <c>With…</c> methods. The delay chosen (jitter included) is recorded, so replay is exact.
/// </summary>
public sealed record RetryPolicy
{
    /// <summary>Total attempts, the first included (1 = no retry). Default 3.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Delay before the second attempt. Default one second.</summary>
    public TimeSpan FirstDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Each later delay is the previous one times this factor. Default 2.</summary>
    public double Factor { get; init; } = 2.0;

    /// <summary>No delay is longer than this. Default one minute.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Relative jitter: each delay moves by up to ± this fraction at random. Default 0.1.</summary>
    public double Jitter { get; init; } = 0.1;

    /// <summary>Exception types that are retried (with their subtypes); empty means every exception.</summary>
    public IReadOnlyList<Type> RetryOn { get; init; } = [];

    /// <summary>Explicit delays (<see cref="FromDelays"/>); when set they replace the exponential formula.</summary>
    public IReadOnlyList<TimeSpan>? Delays { get; init; }

    /// <summary>The default policy: 3 attempts, 1 s doubling to at most 1 min, ±10 % jitter, every exception.</summary>
    public static RetryPolicy Default { get; } = new();

    /// <summary>Never retry.</summary>
    public static RetryPolicy None { get; } = new() { MaxAttempts = 1 };

    /// <summary>Exponential back-off: <paramref name="attempts"/> in all, waiting <paramref name="first"/>, then ×<paramref name="factor"/>.</summary>
    public static RetryPolicy Exponential(int attempts, Duration first, double factor = 2.0, Duration max = default,
        double jitter = 0.1) =>
        Validate(new RetryPolicy
        {
            MaxAttempts = attempts, FirstDelay = first.Value, Factor = factor,
            MaxDelay = max.OrNull ?? TimeSpan.FromMinutes(1), Jitter = jitter,
        });

    /// <summary>A fixed delay between attempts, no jitter.</summary>
    public static RetryPolicy Fixed(int attempts, Duration delay) =>
        Validate(new RetryPolicy { MaxAttempts = attempts, FirstDelay = delay.Value, Factor = 1.0, MaxDelay = delay.Value, Jitter = 0 });

    /// <summary>One retry per delay, in order, no jitter: <c>FromDelays("1s", "10s", "1m")</c> makes four attempts in
    /// all.</summary>
    public static RetryPolicy FromDelays(params IEnumerable<Duration> delays)
    {
        ArgumentNullException.ThrowIfNull(delays);
        var list = delays.Select(d => d.Value).ToList();
        return new RetryPolicy { MaxAttempts = list.Count + 1, Delays = list, Jitter = 0 };
    }

    /// <summary>Only failures of <typeparamref name="TException"/> (or subtypes) are retried; adds to earlier filters.</summary>
    public RetryPolicy RetryOnly<TException>() where TException : Exception => this with { RetryOn = [.. RetryOn, typeof(TException)] };

    /// <summary>A copy with another number of attempts.</summary>
    public RetryPolicy WithAttempts(int attempts) => Validate(this with { MaxAttempts = attempts });

    /// <summary>A copy with another jitter fraction.</summary>
    public RetryPolicy WithJitter(double jitter) => Validate(this with { Jitter = jitter });

    /// <summary>True when a failure after attempt number <paramref name="attempt"/> (1-based) should be retried.</summary>
    public bool ShouldRetry(WorkflowError error, int attempt) =>
        error is Failure f && attempt < MaxAttempts && (RetryOn.Count == 0 || RetryOn.Any(f.Is));

    /// <summary>The delay before attempt <paramref name="attempt"/> + 1, jitter drawn from <paramref name="random"/>.</summary>
    public TimeSpan DelayAfter(int attempt, Random random)
    {
        if (Delays is { } fixedDelays)
            return fixedDelays.Count == 0 ? TimeSpan.Zero : fixedDelays[Math.Min(attempt - 1, fixedDelays.Count - 1)];
        var ms = Math.Min(FirstDelay.TotalMilliseconds * Math.Pow(Factor, attempt - 1), MaxDelay.TotalMilliseconds);
        if (Jitter > 0) ms += ms * Jitter * (random.NextDouble() * 2 - 1);
        return TimeSpan.FromMilliseconds(Math.Max(0, ms));
    }

    private static RetryPolicy Validate(RetryPolicy p)
    {
        if (p.MaxAttempts < 1) throw new ArgumentOutOfRangeException(nameof(MaxAttempts), p.MaxAttempts, $"Retry attempts must be at least 1, got {p.MaxAttempts}.");
        if (p.Factor < 1 || double.IsNaN(p.Factor)) throw new ArgumentOutOfRangeException(nameof(Factor), p.Factor, $"Retry factor must be at least 1, got {p.Factor}.");
        if (p.Jitter is < 0 or > 1 || double.IsNaN(p.Jitter)) throw new ArgumentOutOfRangeException(nameof(Jitter), p.Jitter, $"Retry jitter must be within 0..1, got {p.Jitter}.");
        return p;
    }
}
