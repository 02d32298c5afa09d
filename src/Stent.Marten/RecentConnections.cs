// Open connections kept between operations, the one used last handed out first.
using System.Data;
using System.Diagnostics;
using Npgsql;

namespace Stent.Marten;

/// <summary>
/// Open connections of a data source that the store's operations take and give back, the one given back last taken
/// first. Npgsql's pool hands out the connection idle longest: a sequential chain whose worker also polls then
/// alternates between two or more server processes, and a command on a server process that was just used took 10–25 %
/// less time than on one that slept meanwhile (on this machine). A connection is kept only while open and idle (its
/// transaction ended: the store's operations end theirs before they give it back); one idle longer than <see
/// cref="MaxIdle"/> goes back to Npgsql's pool (a timer looks every <see cref="MaxIdle"/> while any is kept), which
/// closes idle connections as it does without this, and a broken one (a restarted server, say) makes all those kept go
/// back too, as they likely broke with it.
/// </summary>
internal sealed class RecentConnections : IAsyncDisposable
{
    private readonly NpgsqlDataSource _source;
    private readonly int _capacity;
    /// <summary>Kept connections, each with when it was given back, oldest first.</summary>
    private readonly List<(NpgsqlConnection Connection, long At)> _idle = [];
    private readonly Lock _gate = new();
    private readonly Timer _trim;
    /// <summary>True while the timer runs: from when a connection is kept until none is. A running timer keeps
    /// this object alive, so a store dropped without being disposed still gives its kept connections back (Npgsql
    /// counts them as in use until then, and never closes them); once it keeps none, nothing holds it.</summary>
    private bool _ticking;
    private bool _disposed;

    /// <summary>How long a connection is kept idle before it goes back to Npgsql's pool.</summary>
    internal static readonly TimeSpan MaxIdle = TimeSpan.FromSeconds(1);

    /// <summary>Keeps at most <paramref name="capacity"/> open connections of <paramref name="source"/>.</summary>
    public RecentConnections(NpgsqlDataSource source, int capacity)
    {
        (_source, _capacity) = (source, capacity);
        _trim = new Timer(static state => _ = ((RecentConnections)state!).TrimAsync(), this, Timeout.Infinite,
            Timeout.Infinite);
    }

    /// <summary>Gives the connections kept idle longer than <see cref="MaxIdle"/> back to the pool; stops the timer
    /// once none is kept.</summary>
    private async Task TrimAsync()
    {
        List<NpgsqlConnection> stale;
        lock (_gate)
        {
            stale = Take(open: true);
            if (_idle.Count == 0 && _ticking)
            {
                _ticking = false;
                _trim.Change(Timeout.Infinite, Timeout.Infinite);
            }
        }
        foreach (var c in stale) await c.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Takes out the connections kept idle longer than <see cref="MaxIdle"/> (all of them unless
    /// <paramref name="open"/>: a connection broke). The caller holds the lock.</summary>
    private List<NpgsqlConnection> Take(bool open)
    {
        var now = Stopwatch.GetTimestamp();
        var fresh = open ? _idle.FindIndex(k => Stopwatch.GetElapsedTime(k.At, now) < MaxIdle) : -1;
        var drop = fresh < 0 ? _idle.Count : fresh;
        var stale = _idle.Take(drop).Select(k => k.Connection).ToList();
        _idle.RemoveRange(0, drop);
        return stale;
    }

    /// <summary>How many connections are kept (for tests).</summary>
    internal int Kept
    {
        get { lock (_gate) return _idle.Count; }
    }

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
            if (kept is null) return await _source.OpenConnectionAsync(ct).ConfigureAwait(false);
            if (kept.FullState == ConnectionState.Open && Stopwatch.GetElapsedTime(at) < MaxIdle) return kept;
            await kept.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Keeps <paramref name="connection"/> for the next operation, or gives it back to the pool (with those
    /// kept idle too long, or all of them when it broke).</summary>
    public async ValueTask ReleaseAsync(NpgsqlConnection connection)
    {
        var open = connection.FullState == ConnectionState.Open;
        List<NpgsqlConnection> stale;
        lock (_gate)
        {
            stale = Take(open);
            if (open && !_disposed && _idle.Count < _capacity)
            {
                _idle.Add((connection, Stopwatch.GetTimestamp()));
                if (!_ticking) _trim.Change(MaxIdle, MaxIdle);
                _ticking = true;
            }
            else stale.Add(connection);
        }
        foreach (var c in stale) await c.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Gives every kept connection back to the pool; those given back later go there at once.</summary>
    public async ValueTask DisposeAsync()
    {
        await _trim.DisposeAsync().ConfigureAwait(false);
        List<NpgsqlConnection> kept;
        lock (_gate)
        {
            (_disposed, _ticking) = (true, false);
            kept = [.. _idle.Select(k => k.Connection)];
            _idle.Clear();
        }
        foreach (var c in kept) await c.DisposeAsync().ConfigureAwait(false);
    }
}
