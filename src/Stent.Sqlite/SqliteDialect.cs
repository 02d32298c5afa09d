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

    public SqliteDialect(string dataSource, TimeProvider time, bool inMemory)
    {
        _time = time;
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
        cmd.CommandText = (inMemory ? "" : "PRAGMA journal_mode = WAL; ") +
            "PRAGMA busy_timeout = 30000; PRAGMA synchronous = NORMAL;";
        cmd.ExecuteNonQuery();
    }

    public string Prefix => "";
    // AUTOINCREMENT: an id is never used again after its row is deleted (a step, an inbox item, a dead letter).
    public string IdColumn => "INTEGER PRIMARY KEY AUTOINCREMENT";
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
        return ValueTask.CompletedTask;
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
        await _gate.WaitAsync().ConfigureAwait(false);
        foreach (var cmd in _prepared.Values) await cmd.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }
}
