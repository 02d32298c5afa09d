// The embedded default store: the relational store on one SQLite file (WAL), or on an in-memory database.
using Stent.Storage.Relational;

namespace Stent.Sqlite;

/// <summary>
/// The work store in one SQLite file in WAL mode (default <c>stent.db</c>), shared by every process on the machine,
/// or in memory (<see cref="InMemory"/>) for tests and single-process use. Its tables are created on first use.
/// Leases and timers are timed by each process's own clock (there is no server to ask): keep the clocks of processes
/// sharing a file in step. One that runs ahead by more than a lease takes over live leases and fires timers early —
/// a step then runs twice, though its outcome is still recorded once.
/// </summary>
public sealed class SqliteWorkStore : RelationalWorkStore
{
    /// <summary>A store on the SQLite file at <paramref name="path"/> (created if missing), timed by <paramref
    /// name="time"/>.</summary>
    public SqliteWorkStore(string path = "stent.db", TimeProvider? time = null)
        : base(new SqliteDialect(FullPath(path), time ?? TimeProvider.System, inMemory: false)) => Path =
            FullPath(path);

    private SqliteWorkStore(TimeProvider time) : base(new SqliteDialect(":memory:", time, inMemory: true)) => Path =
        ":memory:";

    /// <summary>A store in this process's memory: nothing survives the process. <paramref name="time"/> times it (tests
    /// skip time).</summary>
    public static SqliteWorkStore InMemory(TimeProvider? time = null) => new(time ?? TimeProvider.System);

    /// <summary>The database file (":memory:" for an in-memory store).</summary>
    public string Path { get; }

    private static string FullPath(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return System.IO.Path.GetFullPath(path);
    }
}
