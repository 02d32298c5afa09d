// Event streams in Marten: one stream per execution (string id), appended inside the store's own transaction.
using System.Data.Common;
using Marten;
using Marten.Services;
using Npgsql;
using Stent.Replay;
using Stent.Storage.Relational;

namespace Stent.Marten;

/// <summary>Executions' histories as Marten event streams, written in the same PostgreSQL transaction as the work
/// tables.</summary>
internal sealed class MartenStreams(DocumentStore marten, string schema) : IStreamStore
{
    public DocumentStore Marten => marten;

    public string Ddl(string prefix) => "";

    public async Task<IReadOnlyList<HistoryEvent>> ReadAsync(DbConnection connection, string stream, long after,
        CancellationToken ct)
    {
        await using var session = marten.QuerySession();
        var events = await session.Events.FetchStreamAsync(stream, fromVersion: after + 1, token:
            ct).ConfigureAwait(false);
        return events.Where(e => e.Version > after).Select(e => (HistoryEvent)e.Data).ToList();
    }

    public async Task AppendAsync(DbConnection connection, DbTransaction tx, IReadOnlyList<StreamAppend> appends,
        CancellationToken ct)
    {
        await using var session = marten.LightweightSession(SessionOptions.ForTransaction((NpgsqlTransaction)tx));
        foreach (var a in appends)
        {
            var events = a.Events.Cast<object>().ToArray();
            if (a.ExpectedVersion == 0) session.Events.StartStream(a.Stream, events);
            else session.Events.Append(a.Stream, a.ExpectedVersion + events.Length, events);
        }
        await session.SaveChangesAsync(ct).ConfigureAwait(false);
    }

    public async Task DeleteAsync(DbConnection connection, DbTransaction tx, IReadOnlyList<string> streams,
        CancellationToken ct)
    {
        // A stream's row cascades to its events.
        var sql = new Sql();
        sql.Append($"DELETE FROM {schema}.mt_streams WHERE id IN ({sql.List(streams)})");
        await using var cmd = sql.Command(connection, tx);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }
}
