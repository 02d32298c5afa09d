// Event streams in a table of the store's own database (SQLite and the in-memory store).
using System.Data.Common;
using Stent.Replay;

namespace Stent.Storage.Relational;

/// <summary>Streams as rows of <c>stent_events</c> (execution, version, JSON), keyed by stream and version: a SQLite
/// table without row ids, so an append writes one tree's page, not a table's and its key index's.</summary>
/// <param name="prefix">What comes before the table name.</param>
/// <param name="dialect">The dialect whose commands appends run on (kept and prepared, when it keeps them); null: a
/// new command each time.</param>
public sealed class EventTable(string prefix = "", ISqlDialect? dialect = null) : IStreamStore
{
    private string Table => $"{prefix}stent_events";

    /// <inheritdoc />
    public string Ddl(string prefix) => $"""
        CREATE TABLE IF NOT EXISTS {prefix}stent_events (
            execution_id TEXT NOT NULL, version BIGINT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (execution_id,
                version)) WITHOUT ROWID;
        """;

    /// <inheritdoc />
    public async Task<IReadOnlyList<HistoryEvent>> ReadAsync(DbConnection connection, string stream, long after,
        CancellationToken ct)
    {
        var sql = new Sql();
        sql.Append($"SELECT data FROM {Table} WHERE execution_id = {sql.P(stream)} AND version > {sql.P(after)} " +
            $"ORDER BY version");
        await using var cmd = sql.Command(connection, null);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new List<HistoryEvent>();
        while (await r.ReadAsync(ct).ConfigureAwait(false)) list.Add(StoreJson.Event(r.GetString(0)));
        return list;
    }

    /// <inheritdoc />
    public async Task AppendAsync(DbConnection connection, DbTransaction tx, IReadOnlyList<StreamAppend> appends,
        CancellationToken ct)
    {
        var rows = appends.SelectMany(a => a.Events.Select((e, i) => (a.Stream, Version: a.ExpectedVersion + i + 1,
            e))).ToList();
        foreach (var chunk in rows.Chunk(AppendRows))
        {
            var sql = new Sql($"INSERT INTO {Table} (execution_id, version, data) VALUES ");
            sql.Append(string.Join(", ", chunk.Select(r => $"({sql.P(r.Stream)}, {sql.P(r.Version)}, " +
                $"{sql.P(StoreJson.Event(r.e))})")));
            var kept = false;
            var cmd = dialect is null ? sql.Command(connection, tx) : sql.Command(dialect, connection, tx, out kept);
            try { await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false); }
            finally { await Sql.DoneAsync(cmd, kept).ConfigureAwait(false); }
        }
    }

    /// <summary>The rows go in only while the stream holds nothing after its expected version: a commit that is
    /// refused because the stream moved on writes none (and rolls back), rather than failing on a taken version.
    /// </summary>
    public bool TryAppend(Sql sql, StreamAppend append)
    {
        ArgumentNullException.ThrowIfNull(sql);
        ArgumentNullException.ThrowIfNull(append);
        if (append.Events.Count is 0 or > AppendRows) return false;
        var stream = sql.P(append.Stream);
        sql.Append($"INSERT INTO {Table} (execution_id, version, data) SELECT * FROM (VALUES " + string.Join(", ",
            append.Events.Select((e, i) => $"({stream}, {sql.P(append.ExpectedVersion + i + 1)}, " +
                $"{sql.P(StoreJson.Event(e))})")) + $") AS appended WHERE NOT EXISTS (SELECT 1 FROM {Table} WHERE " +
            $"execution_id = {stream} AND version > {sql.P(append.ExpectedVersion)})");
        return true;
    }

    /// <summary>Rows one append command inserts at most.</summary>
    private const int AppendRows = 150;

    /// <inheritdoc />
    public int MaxAppendInCommand => AppendRows;

    /// <inheritdoc />
    public async Task DeleteAsync(DbConnection connection, DbTransaction tx, IReadOnlyList<string> streams,
        CancellationToken ct)
    {
        foreach (var chunk in streams.Chunk(500))
        {
            var sql = new Sql();
            sql.Append($"DELETE FROM {Table} WHERE execution_id IN ({sql.List(chunk)})");
            await using var cmd = sql.Command(connection, tx);
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }
}
