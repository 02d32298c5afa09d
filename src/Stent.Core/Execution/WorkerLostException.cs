// The failure recorded for a step whose worker stopped during its last allowed attempt.
namespace Stent.Execution;

/// <summary>
/// A step's worker stopped (crashed, was killed, or lost the store) while running it, and its lease expired. Such an
/// attempt counts against the step's <see cref="RetryPolicy.MaxAttempts"/> whatever the policy retries on; after the
/// last one the step fails for good with this error (and is dead-lettered) instead of being run again.
/// </summary>
public sealed class WorkerLostException(string step, string position, int attempts)
    : Exception($"Step '{step}' at {position}: its worker stopped during each of its last attempts, {attempts} of " +
        $"{attempts} allowed (the lease expired); it is not run again.")
{
    /// <summary>The attempts the step was given, all spent.</summary>
    public int Attempts { get; } = attempts;
}
