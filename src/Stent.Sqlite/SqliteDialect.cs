// SQLite as a dialect of the relational store: one long-lived connection, BEGIN IMMEDIATE, the process clock.
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Stent.Storage.Relational;

namespace Stent.Sqlite;

/// <summary>
/// One SQLite connection per store object, used by one operation at a time; writes take the database's write lock
/// at once (<c>BEGIN IMMEDIATE</c>), so claims and caps are exact across processes sharing the file. Time is this
/// process's <see cref="TimeProvider"/>: processes sharing a file must have agreeing clocks.
/// </summary>
internal sealed class SqliteDialect : ISqlDialect
{
    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeProvider _time;

    public SqliteDialect(string dataSource, TimeProvider time, bool inMemory)
    {
        _time = time;
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = dataSource, Pooling = false, DefaultTimeout = 30,
            Mode = inMemory ? SqliteOpenMode.Memory : SqliteOpenMode.ReadWriteCreate,
        }.ToString());
        try
        {
            _connection.Open();
        }
        catch (SqliteException e)
        {
            throw new IOException($"Cannot open the SQLite database '{dataSource}': {e.Message}", e);
        }
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = (inMemory ? "" : "PRAGMA journal_mode = WAL; ") + "PRAGMA busy_timeout = 30000; PRAGMA synchronous = NORMAL;";
        cmd.ExecuteNonQuery();
    }

    public string Prefix => "";
    public string IdColumn => "INTEGER PRIMARY KEY";
    public string SkipLocked => "";
    public string ForUpdate => "";
    public int MaxParameters => 500;
    public string Least => "min";
    public string? SerializeCaps => null;
    public string? Notify => null;
    public IStreamStore Streams { get; } = new EventTable();

    public async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        return _connection;
    }

    public ValueTask ReleaseAsync(DbConnection connection)
    {
        _gate.Release();
        return ValueTask.CompletedTask;
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
        await _connection.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }
}
