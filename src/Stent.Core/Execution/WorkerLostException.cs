// The failure recorded for a step whose worker stopped during its last allowed attempt.
namespace Stent.Execution;

/// <summary>
/// A step's worker stopped (crashed, was killed, or lost the store) while running it, and its lease expired. Such an
/// attempt counts as a failed one whatever the policy retries on; once a step has used all its attempts — the policy's
/// <see cref="RetryPolicy.MaxAttempts"/>, and at least <see cref="MinAttempts"/>, so that one crash or deploy never
/// fails a step that allows a single attempt — it fails for good with this error (and is dead-lettered) instead of
/// being run again.
/// </summary>
public sealed class WorkerLostException(string step, string position, int attempts)
    : Exception($"Step '{step}' at {position}: its worker stopped during its last allowed attempt ({attempts} of " +
        $"{attempts}; the lease expired); it is not run again.")
{
    /// <summary>The fewest attempts a step gets when its workers are lost: a single crash never fails a step.</summary>
    public const int MinAttempts = 3;

    /// <summary>The attempts the step was given, all spent.</summary>
    public int Attempts { get; } = attempts;

    /// <summary>How many attempts a step with <paramref name="policy"/> gets when its workers are lost.</summary>
    public static int AttemptsAllowed(RetryPolicy policy) => Math.Max(policy.MaxAttempts, MinAttempts);
}
