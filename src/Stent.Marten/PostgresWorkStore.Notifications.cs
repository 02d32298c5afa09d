// LISTEN/NOTIFY wake-ups: writes that create work notify a channel; idle workers listening wake at once (polling stays as the safety net).
using Npgsql;
using Stent.Storage;

namespace Stent.Marten;

public sealed partial class PostgresWorkStore : IWorkNotifications
{
    private readonly WorkPulse _pulse = new();
    private readonly CancellationTokenSource _stopListening = new();
    private Task? _listener;

    private string Channel => $"stent_{_s}";

    private string NotifySql => $"SELECT pg_notify('{Channel}', '')";

    /// <inheritdoc />
    public Task WaitForWorkAsync(TimeSpan timeout, CancellationToken ct)
    {
        if (_listener is null)
            lock (_pulse) _listener ??= Task.Run(() => ListenAsync(_stopListening.Token));
        return _pulse.WaitForWorkAsync(timeout, ct);
    }

    private async Task ListenAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await EnsureSchemaAsync(ct).ConfigureAwait(false);
                await using var c = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
                c.Notification += (_, _) => _pulse.Pulse();
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", c)) await listen.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                _pulse.Pulse();
                while (!ct.IsCancellationRequested) await c.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception)
            {
                // The connection dropped (e.g. the database restarted): polling covers the gap; listen again shortly.
                try { await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
            }
        }
    }

    private async Task StopListeningAsync()
    {
        _stopListening.Cancel();
        if (_listener is { } l) try { await l.ConfigureAwait(false); } catch (OperationCanceledException) { }
    }
}
