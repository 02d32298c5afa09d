// PostgreSQL as a dialect of the relational store: pooled connections, SKIP LOCKED claims, advisory locks, NOTIFY.
using System.Data.Common;
using System.Diagnostics;
using Npgsql;
using Stent.Storage.Relational;

namespace Stent.Marten;

/// <summary>
/// PostgreSQL for the relational store: claims skip rows other claimers hold, capped claims are serialized by an
/// advisory lock, writes notify a channel that idle workers listen on, and time is the database's clock.
/// </summary>
internal sealed class PostgresDialect : ISqlDialect
{
    private readonly string _connectionString;
    private readonly NpgsqlDataSource _dataSource;
    private readonly RecentConnections _connections;
    private readonly MartenStreams _streams;
    private readonly string _schema;
    private readonly TimeProvider? _time;
    private readonly long _lockKey;

    public PostgresDialect(string connectionString, string schema, TimeProvider? time)
    {
        MartenSetup.CheckSchemaName(schema);
        _schema = schema;
        _time = time;
        // Connections go back to the pool as they are (no DISCARD ALL), and the statements used again and again are
        // prepared on them once: planning the claim and commit statements afresh cost more than running them.
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { NoResetOnClose = true };
        if (builder.MaxAutoPrepare == 0) (builder.MaxAutoPrepare, builder.AutoPrepareMinUsages) = (256, 2);
        _connectionString = builder.ToString();
        _dataSource = NpgsqlDataSource.Create(_connectionString);
        _connections = new RecentConnections(_dataSource, KeptConnections);
        _streams = new MartenStreams(schema);
        _lockKey = schema.Aggregate(727272L, (h, c) => unchecked(h * 31 + c));
    }

    public string Prefix => _schema + ".";
    public string IdColumn => "BIGSERIAL PRIMARY KEY";
    public string StepIdColumn => IdColumn;
    public string SkipLocked => " FOR UPDATE SKIP LOCKED";
    public string ForUpdate => " FOR UPDATE";
    public int MaxParameters => 30000;
    public string Least => "LEAST";
    public string SerializeCaps => $"pg_advisory_xact_lock({_lockKey})";
    public string Clock => "(extract(epoch from clock_timestamp()) * 1000)::bigint";
    public string Notify => $"SELECT pg_notify('{Channel}', '')";
    public bool ImplicitTransactions => true;
    public IStreamStore Streams => _streams;

    private string Channel => $"stent_{_schema}";

    // A server shutting down or restarting (57P0x), a lost connection (08xxx, or an I/O error Npgsql calls
    // transient), a serialization failure or deadlock (40001, 40P01); Marten wraps some of them.
    public bool IsTransient(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is PostgresException { SqlState: var state } && (state.StartsWith("57P0", StringComparison.Ordinal)
                    || state.StartsWith("08", StringComparison.Ordinal) || state is "40001" or "40P01")
                || x is NpgsqlException { IsTransient: true })
                return true;
        return false;
    }

    /// <summary>At most how many open connections are kept between operations (see <see cref="RecentConnections"/>).
    /// </summary>
    private const int KeptConnections = 16;

    public async Task<DbConnection> OpenAsync(bool write, CancellationToken ct) => await
        _connections.OpenAsync(ct).ConfigureAwait(false);

    public ValueTask ReleaseAsync(DbConnection connection) => _connections.ReleaseAsync((NpgsqlConnection)connection);

    public DbCommand Command(DbConnection connection, string text, out bool kept)
    {
        kept = false;
        return new NpgsqlCommand(text, (NpgsqlConnection)connection);
    }

    public async Task<DbTransaction> BeginAsync(DbConnection connection, CancellationToken ct) =>
        await connection.BeginTransactionAsync(ct).ConfigureAwait(false);

    /// <summary>How long a reading of the server's clock is used (advanced by this process's monotonic clock) before
    /// the server is asked again: a transaction does not spend a round trip on it, and the estimate is off by at most
    /// half a round trip plus the drift of two clocks over a second.</summary>
    private static readonly TimeSpan ClockReread = TimeSpan.FromSeconds(1);

    /// <summary>The server's clock as last read (Unix ms), at a moment of this process's monotonic clock.</summary>
    private sealed record ClockReading(long ServerMs, long Timestamp);

    private ClockReading? _clock;

    /// <summary>The latest time handed out: the clock never goes back for this process's transactions.</summary>
    private long _lastNow;

    public async Task<long> NowAsync(DbConnection connection, DbTransaction? tx, CancellationToken ct)
    {
        if (_time is not null) return _time.GetUtcNow().ToUnixTimeMilliseconds();
        var reading = _clock;
        if (reading is null || Stopwatch.GetElapsedTime(reading.Timestamp) >= ClockReread)
        {
            var sent = Stopwatch.GetTimestamp();
            await using var cmd = new NpgsqlCommand($"SELECT {Clock}",
                (NpgsqlConnection)connection, (NpgsqlTransaction?)tx);
            var server = (long)(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
            // The server read its clock about halfway through the round trip.
            _clock = reading = new ClockReading(server, sent + (Stopwatch.GetTimestamp() - sent) / 2);
        }
        var now = reading.ServerMs + (long)Stopwatch.GetElapsedTime(reading.Timestamp).TotalMilliseconds;
        for (var last = Volatile.Read(ref _lastNow); now > last; last = Volatile.Read(ref _lastNow))
            if (Interlocked.CompareExchange(ref _lastNow, now, last) == last) return now;
        return Volatile.Read(ref _lastNow);
    }

    /// <summary>Makes Marten's tables (through a Marten document store of its own, used for nothing else), then
    /// ours.</summary>
    public async Task CreateSchemaAsync(DbConnection connection, string ddl, CancellationToken ct)
    {
        // Many processes may start at once: one at a time creates the schema (Marten's tables, then ours).
        var c = (NpgsqlConnection)connection;
        await using (var lockCmd = new NpgsqlCommand($"SELECT pg_advisory_lock({_lockKey + 1})", c))
            await lockCmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        try
        {
            await using (var source = NpgsqlDataSource.Create(_connectionString))
            using (var marten = MartenSetup.CreateStore(source, _schema))
                await marten.Storage.ApplyAllConfiguredChangesToDatabaseAsync().ConfigureAwait(false);
            await using var cmd = new NpgsqlCommand(ddl, c);
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            await using var unlock = new NpgsqlCommand($"SELECT pg_advisory_unlock({_lockKey + 1})", c);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public async Task ListenAsync(Action wake, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var c = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
                c.Notification += (_, _) => wake();
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", c)) await
                    listen.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                wake();
                while (!ct.IsCancellationRequested) await c.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception)
            {
                // The connection dropped (e.g. the database restarted): polling covers the gap; listen again shortly.
                try { await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false); } catch
                    (OperationCanceledException) { return; }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _connections.DisposeAsync().ConfigureAwait(false);
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }
}
