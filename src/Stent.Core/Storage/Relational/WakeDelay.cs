// How long a finished step lets its execution wait before the next decision, so completions of a big fan-out are folded
// together.
namespace Stent.Storage.Relational;

/// <summary>
/// The decision after a step completes waits a little when other steps of the execution are still
/// running, longer for a longer stream: at most 200 ms, 1 ms per 100 stored events (a decision is one, and so is a
/// batch of a fan-out's items). The last step of a fan-out, or a step of a sequential chain, wakes its execution at
/// once.
/// </summary>
internal static class WakeDelay
{
    /// <summary>The longest wait.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromMilliseconds(200);

    /// <summary>Events of history that add one millisecond of wait.</summary>
    public const int EventsPerMillisecond = 100;
}
