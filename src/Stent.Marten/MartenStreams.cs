// Event streams in Marten: one stream per execution (string id), appended inside the store's own transaction.
using System.Data.Common;
using System.Reflection;
using System.Text.Json;
using Npgsql;
using Stent.Replay;
using Stent.Storage.Relational;

namespace Stent.Marten;

/// <summary>
/// Executions' histories as Marten event streams, written in the same PostgreSQL transaction as the work tables. They
/// are Marten's streams — its tables, its append function, its event type names and JSON — but read and appended with
/// plain commands, without a Marten document store: a query and a function call need none of a session's machinery
/// (identity maps, unit of work, generated event storage), and a worker that uses no document store starts sooner and
/// holds less memory. Marten makes the tables (<see cref="PostgresDialect.CreateSchemaAsync"/>); tests check that its
/// sessions and these commands read each other's streams.
/// </summary>
internal sealed class MartenStreams(string schema) : IStreamStore
{
    /// <summary>Each event type by the name Marten records it under.</summary>
    private readonly Dictionary<string, Type> _types = MartenSetup.EventTypes.ToDictionary(
        MartenSetup.EventTypeName, StringComparer.Ordinal);

    /// <summary>Each event type's names as Marten records them.</summary>
    private readonly Dictionary<Type, (string Name, string DotNet)> _names = MartenSetup.EventTypes.ToDictionary(
        t => t, t => (MartenSetup.EventTypeName(t), MartenSetup.DotNetTypeName(t)));

    private readonly JsonSerializerOptions _json = MartenSetup.JsonOptions();

    public string Ddl(string prefix) => "";

    public async Task<IReadOnlyList<HistoryEvent>> ReadAsync(DbConnection connection, string stream, long after,
        CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"SELECT type, data FROM {schema}.mt_events WHERE stream_id = $1 AND " +
            "version > $2 ORDER BY version", (NpgsqlConnection)connection);
        cmd.Parameters.Add(new NpgsqlParameter { Value = stream });
        cmd.Parameters.Add(new NpgsqlParameter { Value = after });
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var events = new List<HistoryEvent>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            var name = r.GetString(0);
            var type = _types.GetValueOrDefault(name) ?? throw new InvalidOperationException(
                $"Stream '{stream}' holds an event of type '{name}', which is not a Stent history event.");
            events.Add((HistoryEvent)(JsonSerializer.Deserialize(r.GetString(1), type, _json) ?? throw new
                InvalidOperationException($"Stream '{stream}' holds an empty event.")));
        }
        return events;
    }

    public async Task AppendAsync(DbConnection connection, DbTransaction tx, IReadOnlyList<StreamAppend> appends,
        CancellationToken ct)
    {
        var sql = new Sql();
        foreach (var a in appends) Call(sql.Append(sql.IsEmpty ? "" : ";"), a, checkVersion: true);
        await using var cmd = sql.Command(connection, tx);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The append as a call of the function Marten's own quick appends call (its arguments are Marten's:
    /// the store conformance tests catch a Marten version that changes them): the caller's command has already
    /// locked the execution's row at the stream's expected version (its commit checks it), so the function takes the
    /// stream's versions from there.</summary>
    public bool TryAppend(Sql sql, StreamAppend append)
    {
        Call(sql, append, checkVersion: false);
        return true;
    }

    /// <summary>Adds the call of Marten's append function for <paramref name="append"/> to <paramref name="sql"/>; with
    /// <paramref name="checkVersion"/>, the function refuses (and fails the command) a stream not at the expected
    /// version.</summary>
    private void Call(Sql sql, StreamAppend append, bool checkVersion)
    {
        var events = append.Events;
        var (ids, types, dotnet, bodies) = (new Guid[events.Count], new string[events.Count],
            new string[events.Count], new string[events.Count]);
        for (var i = 0; i < events.Count; i++)
        {
            var type = events[i].GetType();
            (ids[i], (types[i], dotnet[i])) = (Guid.CreateVersion7(), _names[type]);
            bodies[i] = JsonSerializer.Serialize(events[i], type, _json);
        }
        sql.Append($"SELECT {schema}.mt_quick_append_events({sql.P(append.Stream)}::varchar, NULL::varchar, " +
            $"{sql.P(Tenancy)}::varchar, {sql.Array(ids)}::uuid[], {sql.Array(types)}::varchar[], " +
            $"{sql.Array(dotnet)}::varchar[], {sql.Array(bodies)}::jsonb[], NULL::bytea[], " +
            $"array_fill(now(), ARRAY[{events.Count}])" +
            (checkVersion ? $", {sql.P(append.ExpectedVersion)}::bigint)" : ")"));
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
