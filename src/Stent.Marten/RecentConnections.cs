// Open connections kept between operations, the one used last handed out first.
using System.Data;
using System.Diagnostics;
using Npgsql;

namespace Stent.Marten;

/// <summary>
/// Open connections of a data source that the store's operations take and give back, the one given back last taken
/// first. Npgsql's pool hands out the connection idle longest: a sequential chain whose worker also polls then
/// alternates between two or more server processes, and a command on a server process that was just used takes
/// about a fifth less time than one on a process that slept meanwhile (measured on this machine). A connection is
/// kept only while open and idle (its transaction ended: the store's operations end theirs before they give it back);
/// one idle longer than <see cref="MaxIdle"/> goes back to Npgsql's pool, which prunes idle connections, and a
/// broken one (a restarted server, say) makes all those kept go back too, as they likely broke with it.
/// </summary>
internal sealed class RecentConnections(NpgsqlDataSource source, int capacity) : IAsyncDisposable
{
    /// <summary>Kept connections, each with when it was given back, oldest first.</summary>
    private readonly List<(NpgsqlConnection Connection, long At)> _idle = [];
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <summary>How long a connection is kept idle before it goes back to Npgsql's pool.</summary>
    internal static readonly TimeSpan MaxIdle = TimeSpan.FromSeconds(2);

    /// <summary>The open connection given back last, or a connection from the pool when none is kept.</summary>
    public async ValueTask<NpgsqlConnection> OpenAsync(CancellationToken ct)
    {
        while (true)
        {
            NpgsqlConnection? kept = null;
            long at = 0;
            lock (_gate)
                if (_idle.Count > 0)
                {
                    (kept, at) = _idle[^1];
                    _idle.RemoveAt(_idle.Count - 1);
                }
            if (kept is null) return await source.OpenConnectionAsync(ct).ConfigureAwait(false);
            if (kept.FullState == ConnectionState.Open && Stopwatch.GetElapsedTime(at) < MaxIdle) return kept;
            await kept.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Keeps <paramref name="connection"/> for the next operation, or gives it back to the pool (with those
    /// kept idle too long, or all of them when it broke).</summary>
    public async ValueTask ReleaseAsync(NpgsqlConnection connection)
    {
        var open = connection.FullState == ConnectionState.Open;
        List<NpgsqlConnection> stale = [];
        lock (_gate)
        {
            var now = Stopwatch.GetTimestamp();
            var old = open ? _idle.FindIndex(k => Stopwatch.GetElapsedTime(k.At, now) < MaxIdle) : -1;
            var drop = old < 0 ? _idle.Count : old;
            stale.AddRange(_idle.Take(drop).Select(k => k.Connection));
            _idle.RemoveRange(0, drop);
            if (open && !_disposed && _idle.Count < capacity) _idle.Add((connection, now));
            else stale.Add(connection);
        }
        foreach (var c in stale) await c.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Gives every kept connection back to the pool; those given back later go there at once.</summary>
    public async ValueTask DisposeAsync()
    {
        List<NpgsqlConnection> kept;
        lock (_gate)
        {
            _disposed = true;
            kept = [.. _idle.Select(k => k.Connection)];
            _idle.Clear();
        }
        foreach (var c in kept) await c.DisposeAsync().ConfigureAwait(false);
    }
}
