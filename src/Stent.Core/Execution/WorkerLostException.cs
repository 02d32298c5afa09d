// The failure recorded for a step that took down worker after worker.
namespace Stent.Execution;

/// <summary>
/// A step's worker stopped (crashed, was killed, or lost the store) while running it, <see cref="MaxLost"/> times:
/// each time its lease expired and another worker ran it again. Such lost runs count apart from the retry policy's
/// attempts, so one crash or deploy never changes a step's outcome; a step whose runs keep killing their worker fails
/// for good with this error (and is dead-lettered) instead of being run again.
/// </summary>
public sealed class WorkerLostException(string step, string position, int lost)
    : Exception($"Step '{step}' at {position}: its worker stopped while running it {lost} times (the lease expired " +
        "each time); it is not run again.")
{
    /// <summary>How many runs of one step may be lost with their worker before the step fails for good.</summary>
    public const int MaxLost = 3;

    /// <summary>How many runs were lost.</summary>
    public int Lost { get; } = lost;
}
