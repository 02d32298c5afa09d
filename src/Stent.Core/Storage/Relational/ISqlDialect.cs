// What a relational database must say for the one relational store to run on it: connections, locks, time, wake-ups.
using System.Data.Common;

namespace Stent.Storage.Relational;

/// <summary>
/// The differences between relational databases that <see cref="RelationalWorkStore"/> runs on (SQLite and
/// PostgreSQL): how to get a connection and a writing transaction, the store's clock, row locking, and wake-ups.
/// Every statement is written once in the store; a dialect knows nothing of workflows.
/// </summary>
public interface ISqlDialect : IAsyncDisposable
{
    /// <summary>What comes before a table name ("" or "schema.").</summary>
    string Prefix { get; }

    /// <summary>The column definition of a generated integer primary key; an id is never generated twice.</summary>
    string IdColumn { get; }

    /// <summary>The column definition of a step's generated integer primary key: unique among the rows there are and
    /// greater than every id there is, but an id may be generated again once no row has it (a step is known by its id
    /// and lease token together). Cheaper to write where never reusing one costs a write of its own.</summary>
    string StepIdColumn { get; }

    /// <summary>Appended to a query that claims rows other claimers must skip (" FOR UPDATE SKIP LOCKED", or
    /// "").</summary>
    string SkipLocked { get; }

    /// <summary>Appended to a query that locks the rows it reads until the transaction ends (" FOR UPDATE", or
    /// "").</summary>
    string ForUpdate { get; }

    /// <summary>The scalar function giving the smaller of two values ("min" or "LEAST").</summary>
    string Least { get; }

    /// <summary>
    /// Parameters one command may carry; a write of more statements is split into commands of about this many
    /// (SQLite binds every parameter of a command for each of its statements, so it wants small commands).
    /// </summary>
    int MaxParameters { get; }

    /// <summary>An expression that takes a lock serializing claims of capped work across processes until the
    /// transaction ends (selected only when there is capped work), or null when writes are serialized
    /// anyway.</summary>
    string? SerializeCaps { get; }

    /// <summary>An expression for the store's clock (Unix milliseconds) as a statement runs, or null when the clock
    /// is read once per transaction (<see cref="NowAsync"/>).</summary>
    string? Clock { get; }

    /// <summary>A statement that wakes listening workers in other processes when its transaction commits, or
    /// null.</summary>
    string? Notify { get; }

    /// <summary>
    /// True when the database runs one writing transaction at a time (SQLite): what a transaction's first statement
    /// reads then stays true until it commits. Where writers run side by side (PostgreSQL, where each statement reads
    /// what had committed when it began), a value computed from other rows is written by the transaction's last
    /// statement that needs it, so that what another writer committed meanwhile is not overwritten.
    /// </summary>
    bool WritesOneAtATime => false;

    /// <summary>
    /// True when statements sent together without a transaction run as one that a failing statement rolls back
    /// (PostgreSQL's implicit transaction): a decision's commit then takes one round trip, not two, its checks written
    /// as statements that fail when the decision must not hold (see <see cref="Sql.Refusal"/>).
    /// </summary>
    bool ImplicitTransactions => false;

    /// <summary>Where the event streams live.</summary>
    IStreamStore Streams { get; }

    /// <summary>
    /// A connection for one operation that writes (<paramref name="write"/>) or only reads; give it back with
    /// <see cref="ReleaseAsync"/>.
    /// </summary>
    Task<DbConnection> OpenAsync(bool write, CancellationToken ct);

    /// <summary>Gives back a connection from <see cref="OpenAsync"/>, any transaction begun on it ended.</summary>
    ValueTask ReleaseAsync(DbConnection connection);

    /// <summary>
    /// A command for <paramref name="text"/> on <paramref name="connection"/>: one the dialect keeps prepared (then
    /// <paramref name="kept"/> is true and the caller must not dispose it), or a new one.
    /// </summary>
    DbCommand Command(DbConnection connection, string text, out bool kept);

    /// <summary>A transaction that writes (on SQLite it takes the write lock at once: <c>BEGIN
    /// IMMEDIATE</c>).</summary>
    Task<DbTransaction> BeginAsync(DbConnection connection, CancellationToken ct);

    /// <summary>The store's clock, in Unix milliseconds.</summary>
    Task<long> NowAsync(DbConnection connection, DbTransaction? tx, CancellationToken ct);

    /// <summary>Creates the tables (<paramref name="ddl"/> and the streams'), once, even when many processes start
    /// together.</summary>
    Task CreateSchemaAsync(DbConnection connection, string ddl, CancellationToken ct);

    /// <summary>
    /// True when <paramref name="e"/> says the connection or the server failed, or the database was busy (a dropped
    /// connection, a restarting server, a lock timeout): the same operation is then tried again after a pause, unless
    /// its transaction had begun to commit.
    /// </summary>
    bool IsTransient(Exception e);

    /// <summary>Calls <paramref name="wake"/> whenever another process notifies; returns when <paramref name="ct"/> is
    /// cancelled.</summary>
    Task ListenAsync(Action wake, CancellationToken ct);

    /// <summary>Rows inserted, updated or deleted through this dialect's connections, where the database counts them
    /// (SQLite's writer connection); null where it does not.</summary>
    Task<long?> RowsWrittenAsync(CancellationToken ct) => Task.FromResult<long?>(null);
}
