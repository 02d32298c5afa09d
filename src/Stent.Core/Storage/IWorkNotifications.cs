// Wake-ups for idle workers: a store that can tell when new work may be there, so polling is only a safety net.
namespace Stent.Storage;

/// <summary>Implemented by stores that can wake idle workers (PostgreSQL LISTEN/NOTIFY, in-process pulses).</summary>
public interface IWorkNotifications
{
    /// <summary>Completes when new work may be claimable, or after <paramref name="timeout"/> (the polling safety net);
    /// throws <see cref="OperationCanceledException"/> as soon as <paramref name="ct"/> is cancelled.</summary>
    Task WaitForWorkAsync(TimeSpan timeout, CancellationToken ct);
}

/// <summary>An in-process pulse: writers call <see cref="Pulse"/>, waiting workers wake.</summary>
public sealed class WorkPulse : IWorkNotifications
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Wakes every current waiter.</summary>
    public void Pulse() => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <inheritdoc />
    public async Task WaitForWorkAsync(TimeSpan timeout, CancellationToken ct)
    {
        var next = Volatile.Read(ref _next).Task;
        await Task.WhenAny(next, Task.Delay(timeout, ct)).ConfigureAwait(false);
        // A cancelled wait ends the caller's wait too, instead of looking like a wake-up it would loop on.
        ct.ThrowIfCancellationRequested();
    }
}
