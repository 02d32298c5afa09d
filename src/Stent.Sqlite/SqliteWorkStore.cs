// The embedded default store: the relational store on one SQLite file (WAL), or on an in-memory database.
using Stent.Storage.Relational;

namespace Stent.Sqlite;

/// <summary>
/// The work store in one SQLite file in WAL mode (default <c>stent.db</c>), shared by every process on the machine,
/// or in memory (<see cref="InMemory"/>) for tests and single-process use. Its tables are created on first use.
/// Leases and timers are timed by each process's own clock (there is no server to ask): keep the clocks of processes
/// sharing a file in step. One that runs ahead by more than a lease takes over live leases and fires timers early —
/// a step then runs twice, though its outcome is still recorded once. A commit survives a power loss unless the store
/// is told it need survive only the process's crash (<see cref="SqliteDurability"/>).
/// </summary>
public sealed class SqliteWorkStore : RelationalWorkStore
{
    /// <summary>A store on the SQLite file at <paramref name="path"/> (created if missing), timed by <paramref
    /// name="time"/>, whose commits survive what <paramref name="durability"/> says.</summary>
    public SqliteWorkStore(string path = "stent.db", TimeProvider? time = null,
        SqliteDurability durability = SqliteDurability.PowerLoss)
        : this(new SqliteDialect(FullPath(path), time ?? TimeProvider.System, inMemory: false, durability))
    {
    }

    private SqliteWorkStore(SqliteDialect dialect) : base(dialect) => _dialect = dialect;

    private readonly SqliteDialect _dialect;

    /// <summary>A store in this process's memory: nothing survives the process. <paramref name="time"/> times it (tests
    /// skip time).</summary>
    public static SqliteWorkStore InMemory(TimeProvider? time = null) =>
        new(new SqliteDialect(":memory:", time ?? TimeProvider.System, inMemory: true, SqliteDurability.ProcessCrash));

    /// <summary>The database file (":memory:" for an in-memory store).</summary>
    public string Path => _dialect.DataSource;

    /// <summary>The <c>synchronous</c> setting of the connection that writes (2 is FULL, 1 NORMAL).</summary>
    internal Task<long> SynchronousAsync() => _dialect.SynchronousAsync();

    private static string FullPath(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return System.IO.Path.GetFullPath(path);
    }
}
