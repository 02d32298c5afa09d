// SQLite as a dialect of the relational store: one long-lived connection, BEGIN IMMEDIATE, the process clock.
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Stent.Storage.Relational;

namespace Stent.Sqlite;

/// <summary>
/// One writing SQLite connection per store object, used by one write at a time (reads of a file use pooled connections
/// of their own, which WAL lets run beside the writer); writes take the database's write lock
/// at once (<c>BEGIN IMMEDIATE</c>), so claims and caps are exact across processes sharing the file. Time is this
/// process's <see cref="TimeProvider"/>: processes sharing a file must have agreeing clocks.
/// </summary>
internal sealed class SqliteDialect : ISqlDialect
{
    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeProvider _time;
    private readonly string? _readers;
    private readonly Dictionary<string, SqliteCommand> _prepared = new(StringComparer.Ordinal);
    private readonly string? _checkpointer;
    private readonly CancellationTokenSource _stop = new();
    private long _written;
    private int _checkpointing;

    public SqliteDialect(string dataSource, TimeProvider time, bool inMemory, SqliteDurability durability)
    {
        if (!Enum.IsDefined(durability))
            throw new ArgumentOutOfRangeException(nameof(durability), durability, $"Not a {nameof(SqliteDurability)}.");
        _time = time;
        DataSource = dataSource;
        // Appends run on the writer's kept commands: SQLite plans an append once.
        Streams = new EventTable(dialect: this);
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = dataSource, Pooling = false, DefaultTimeout = 30,
            Mode = inMemory ? SqliteOpenMode.Memory : SqliteOpenMode.ReadWriteCreate,
        }.ToString());
        // A file is read on pooled connections of their own (WAL readers never wait for the writer); memory has one.
        _readers = inMemory ? null : new SqliteConnectionStringBuilder
        {
            DataSource = dataSource, Pooling = true, DefaultTimeout = 30, Mode = SqliteOpenMode.ReadWrite,
        }.ToString();
        try
        {
            _connection.Open();
        }
        catch (SqliteException e)
        {
            throw new IOException($"Cannot open the SQLite database '{dataSource}': {e.Message}", e);
        }
        using var cmd = _connection.CreateCommand();
        // The log is copied into the file in the background (see CheckpointAsync); a commit does it only when the
        // log has grown past MaxLogPages anyway. With synchronous FULL a commit returns once the disk holds its log;
        // with NORMAL the log reaches the disk when it is copied.
        var synchronous = durability == SqliteDurability.PowerLoss ? "FULL" : "NORMAL";
        cmd.CommandText = (inMemory ? "" : $"PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = {MaxLogPages}; ")
            + $"PRAGMA busy_timeout = 30000; PRAGMA synchronous = {synchronous};";
        cmd.ExecuteNonQuery();
        _checkpointer = inMemory ? null : new SqliteConnectionStringBuilder
        {
            DataSource = dataSource, Pooling = false, DefaultTimeout = 30, Mode = SqliteOpenMode.ReadWrite,
        }.ToString();
    }

    /// <summary>The log's size (in pages: 64 MB) at which a commit copies it into the database file itself. The log
    /// starts again from its beginning only after a copy that no write overlapped: under steady writes, that is this
    /// commit's (measured on a chain of steps: a limit of 4,000 pages cost a fifth of its speed).</summary>
    private const int MaxLogPages = 16_000;

    /// <summary>How often the background checkpoint runs while there are writes.</summary>
    private static readonly TimeSpan CheckpointEvery = TimeSpan.FromMilliseconds(100);

    /// <summary>How many idle rounds the background checkpoint waits before it stops (the next write starts it).
    /// </summary>
    private const int CheckpointIdleRounds = 50;

    /// <summary>The database file (":memory:" for an in-memory database).</summary>
    public string DataSource { get; }

    /// <summary>The writer connection's <c>synchronous</c> setting (2 is FULL, 1 NORMAL).</summary>
    public async Task<long> SynchronousAsync()
    {
        var c = await OpenAsync(write: true, CancellationToken.None).ConfigureAwait(false);
        try
        {
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA synchronous";
            return (long)(await cmd.ExecuteScalarAsync().ConfigureAwait(false))!;
        }
        finally { await ReleaseAsync(c).ConfigureAwait(false); }
    }

    public string Prefix => "";
    // AUTOINCREMENT: an id is never used again after its row is deleted (a step, an inbox item, a dead letter).
    public string IdColumn => "INTEGER PRIMARY KEY AUTOINCREMENT";
    // Without AUTOINCREMENT a new row takes the highest id there is plus one: no page of sqlite_sequence written with
    // each step (a chain's step wrote one of about seven).
    public string StepIdColumn => "INTEGER PRIMARY KEY";
    public string SkipLocked => "";
    public string ForUpdate => "";
    public int MaxParameters => 500;
    public string Least => "min";
    public string? SerializeCaps => null;
    public string? Clock => null;
    public string? Notify => null;
    public bool WritesOneAtATime => true;
    public IStreamStore Streams { get; }

    // SQLITE_BUSY and SQLITE_LOCKED: another process held the file longer than the busy timeout.
    public bool IsTransient(Exception e) => e is SqliteException { SqliteErrorCode: 5 or 6 };

    public async Task<DbConnection> OpenAsync(bool write, CancellationToken ct)
    {
        if (!write && _readers is not null)
        {
            var reader = new SqliteConnection(_readers);
            await reader.OpenAsync(ct).ConfigureAwait(false);
            return reader;
        }
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        return _connection;
    }

    public async Task<long?> RowsWrittenAsync(CancellationToken ct)
    {
        // Every write goes through the one writer connection, which counts the rows it changed.
        var c = await OpenAsync(write: true, ct).ConfigureAwait(false);
        try
        {
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT total_changes()";
            return (long)(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
        }
        finally { await ReleaseAsync(c).ConfigureAwait(false); }
    }

    public ValueTask ReleaseAsync(DbConnection connection)
    {
        if (!ReferenceEquals(connection, _connection)) return connection.DisposeAsync();
        _gate.Release();
        if (_checkpointer is null) return ValueTask.CompletedTask;
        Interlocked.Increment(ref _written);
        if (Interlocked.CompareExchange(ref _checkpointing, 1, 0) == 0) _ = Task.Run(CheckpointAsync);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Copies the write-ahead log into the database file off the commit path, on a connection of its own, every <see
    /// cref="CheckpointEvery"/> while there are writes (a passive checkpoint: it waits for no reader and no writer).
    /// Left to SQLite, the commit that takes the log past 1,000 pages copies them and syncs the file twice before it
    /// returns (measured: stalls of 1–12 ms, a third of a chain of steps' time; a chain runs 25–30 % faster so).
    /// Stops after <see cref="CheckpointIdleRounds"/> rounds without writes; the next write starts it again. A failed
    /// checkpoint is left to the next round (and to SQLite's own past <see cref="MaxLogPages"/>).
    /// </summary>
    private async Task CheckpointAsync()
    {
        try
        {
            await using var connection = new SqliteConnection(_checkpointer);
            await using var cmd = connection.CreateCommand();
            cmd.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
            for (var idle = 0; idle < CheckpointIdleRounds;)
            {
                await Task.Delay(CheckpointEvery, _stop.Token).ConfigureAwait(false);
                if (Interlocked.Exchange(ref _written, 0) == 0)
                {
                    idle++;
                    continue;
                }
                idle = 0;
                if (connection.State != System.Data.ConnectionState.Open)
                    await connection.OpenAsync(_stop.Token).ConfigureAwait(false);
                try { await cmd.ExecuteNonQueryAsync(_stop.Token).ConfigureAwait(false); }
                catch (SqliteException) { }
            }
        }
        catch (OperationCanceledException) { }
        catch (SqliteException) { }
        finally { Volatile.Write(ref _checkpointing, 0); }
    }

    /// <summary>The writer's commands are kept, so SQLite plans each statement once (up to 256 texts, then
    /// afresh).</summary>
    public DbCommand Command(DbConnection connection, string text, out bool kept)
    {
        kept = ReferenceEquals(connection, _connection);
        if (!kept) return new SqliteCommand(text, (SqliteConnection)connection);
        if (_prepared.TryGetValue(text, out var cmd)) return cmd;
        if (_prepared.Count >= 256)
        {
            foreach (var old in _prepared.Values) old.Dispose();
            _prepared.Clear();
        }
        return _prepared[text] = new SqliteCommand(text, _connection);
    }

    public Task<DbTransaction> BeginAsync(DbConnection connection, CancellationToken ct) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    public Task<long> NowAsync(DbConnection connection, DbTransaction? tx, CancellationToken ct) =>
        Task.FromResult(_time.GetUtcNow().ToUnixTimeMilliseconds());

    public async Task CreateSchemaAsync(DbConnection connection, string ddl, CancellationToken ct)
    {
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = ddl;
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Other processes on the file are found by polling; this process's writers pulse its workers
    /// directly.</summary>
    public async Task ListenAsync(Action wake, CancellationToken ct)
    {
        try { await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _gate.WaitAsync().ConfigureAwait(false);
        foreach (var cmd in _prepared.Values) await cmd.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }
}
