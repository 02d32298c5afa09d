// Event streams, one per execution: read from a version, append at an expected version, delete.
using System.Data.Common;
using Stent.Replay;

namespace Stent.Storage.Relational;

/// <summary>
/// Where a relational store keeps its event streams: a table of its own (<see cref="EventTable"/>) or Marten's.
/// Appends join the caller's transaction, so a stream and the work it causes are written together.
/// </summary>
public interface IStreamStore
{
    /// <summary>Statements that create its tables, if it has its own.</summary>
    string Ddl(string prefix);

    /// <summary>What besides <see cref="Ddl"/> decides the tables this store's streams live in (the version of the
    /// library that makes them), or "": when it changes, a store checks its schema again on first use.</summary>
    string TablesVersion => "";

    /// <summary>The events of <paramref name="stream"/> after the first <paramref name="after"/>, in order.</summary>
    Task<IReadOnlyList<HistoryEvent>> ReadAsync(DbConnection connection, string stream, long after, CancellationToken
        ct);

    /// <summary>Appends to each stream, which must hold exactly its expected number of events (0 starts it).</summary>
    Task AppendAsync(DbConnection connection, DbTransaction tx, IReadOnlyList<StreamAppend> appends, CancellationToken
        ct);

    /// <summary>
    /// Adds the append of <paramref name="append"/> to a command being built, as one statement, when this store can
    /// write it so (the append then costs no command of its own); false when it cannot, and
    /// <see cref="AppendAsync"/> is called instead.
    /// </summary>
    bool TryAppend(Sql sql, StreamAppend append) => false;

    /// <summary>The most events <see cref="TryAppend"/> takes (a larger append goes to <see cref="AppendAsync"/>,
    /// which writes it a command at a time, so a large decision's events are not all turned into JSON at once).
    /// </summary>
    int MaxAppendInCommand => int.MaxValue;

    /// <summary>Deletes whole streams.</summary>
    Task DeleteAsync(DbConnection connection, DbTransaction tx, IReadOnlyList<string> streams, CancellationToken ct);
}

/// <summary>Events to append to a stream that holds <paramref name="ExpectedVersion"/> events.</summary>
public sealed record StreamAppend(string Stream, long ExpectedVersion, IReadOnlyList<HistoryEvent> Events);
