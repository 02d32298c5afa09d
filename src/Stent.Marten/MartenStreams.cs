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

    /// <summary>The append as a call of the function Marten's own quick appends call (its arguments are Marten's:
    /// the store conformance tests catch a Marten version that changes them): the caller's command has already
    /// locked the execution's row at the stream's expected version (its commit checks it), so the function takes the
    /// stream's versions from there.</summary>
    public bool TryAppend(Sql sql, StreamAppend append)
    {
        var events = append.Events;
        var (ids, types, dotnet, bodies) = (new Guid[events.Count], new string[events.Count],
            new string[events.Count], new string[events.Count]);
        for (var i = 0; i < events.Count; i++)
        {
            var mapping = marten.Events.EventMappingFor(events[i].GetType());
            (ids[i], types[i], dotnet[i]) = (Guid.CreateVersion7(), mapping.EventTypeName, mapping.DotNetTypeName);
            bodies[i] = marten.Serializer.ToJson(events[i]);
        }
        sql.Append($"SELECT {schema}.mt_quick_append_events({sql.P(append.Stream)}::varchar, NULL::varchar, " +
            $"{sql.P(Tenancy)}::varchar, {sql.Array(ids)}::uuid[], {sql.Array(types)}::varchar[], " +
            $"{sql.Array(dotnet)}::varchar[], {sql.Array(bodies)}::jsonb[], NULL::bytea[], " +
            $"array_fill(now(), ARRAY[{events.Count}]))");
        return true;
    }

    /// <summary>The tenant Marten records for a store without tenancy.</summary>
    private const string Tenancy = "*DEFAULT*";

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
