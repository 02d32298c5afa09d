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
/// are Marten's streams (its tables, event type names and JSON) but read and appended with plain commands, without a
/// Marten document store: a query and an insert need none of a session's machinery (identity maps, unit of work,
/// generated event storage), and a worker that uses no document store starts sooner and holds less memory. Marten
/// makes the tables (<see cref="PostgresDialect.CreateSchemaAsync"/>); tests check that its sessions and these
/// commands read each other's streams.
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

    /// <summary>Appends each stream's events in pieces of at most <see cref="AppendEvents"/>, sending a command once
    /// it carries <see cref="CommandChars"/> of JSON: a large decision's events are turned into JSON a command at a
    /// time, not all held at once, and many small appends (new executions) still go together. A new stream is started
    /// by Marten's append function; the rest are inserted a piece per statement (see <see cref="Insert"/>).</summary>
    public async Task AppendAsync(DbConnection connection, DbTransaction tx, IReadOnlyList<StreamAppend> appends,
        CancellationToken ct)
    {
        var sql = new Sql();
        var chars = 0;
        foreach (var a in appends)
            for (var from = 0; from < a.Events.Count; from += AppendEvents)
            {
                var count = Math.Min(AppendEvents, a.Events.Count - from);
                var piece = from == 0 && count == a.Events.Count ? a
                    : new StreamAppend(a.Stream, a.ExpectedVersion + from, a.Events.Skip(from).Take(count).ToList());
                sql.EndStatement();
                chars += piece.ExpectedVersion == 0 ? Call(sql, piece, checkVersion: true) : Insert(sql, piece);
                if (chars < CommandChars) continue;
                await ExecAsync(sql, connection, tx, ct).ConfigureAwait(false);
                (sql, chars) = (new Sql(), 0);
            }
        if (!sql.IsEmpty) await ExecAsync(sql, connection, tx, ct).ConfigureAwait(false);
    }

    /// <summary>Events of one stream one statement appends at most.</summary>
    private const int AppendEvents = 128;

    /// <summary>Characters of events' JSON after which an append command is sent.</summary>
    private const int CommandChars = 1 << 19;

    /// <inheritdoc />
    public int MaxAppendInCommand => AppendEvents;

    private static async Task ExecAsync(Sql sql, DbConnection connection, DbTransaction tx, CancellationToken ct)
    {
        await using var cmd = sql.Command(connection, tx);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The append as one statement in the caller's command (see <see cref="Insert"/>; a new stream through
    /// Marten's append function).</summary>
    public bool TryAppend(Sql sql, StreamAppend append)
    {
        if (append.Events.Count > AppendEvents) return false;
        if (append.ExpectedVersion == 0) Call(sql, append, checkVersion: false);
        else Insert(sql, append);
        return true;
    }

    /// <summary>
    /// Adds to <paramref name="sql"/> the append of <paramref name="append"/> to an existing stream as one statement:
    /// the stream's row moves on if it is at the expected version, and the events are inserted as Marten's append
    /// function does it (same columns and values) but set-based, without the function's per-event loop. A stream row
    /// that is missing or at another version leaves the versions null, which fails the command. Returns the length of
    /// the events' JSON. The store conformance tests and Marten's own session reading the stream catch a Marten
    /// version whose tables differ.
    /// </summary>
    private int Insert(Sql sql, StreamAppend append)
    {
        var (ids, types, dotnet, bodies) = Rows(append.Events);
        var (stream, count) = (sql.P(append.Stream), append.Events.Count);
        sql.Append($"""
            WITH s AS (UPDATE {schema}.mt_streams SET version = version + {count}, timestamp = now()
                WHERE id = {stream} AND version = {sql.P(append.ExpectedVersion)} RETURNING version - {count} AS base)
            INSERT INTO {schema}.mt_events (seq_id, id, stream_id, version, data, type, tenant_id, timestamp,
                mt_dotnet_type, is_archived)
            SELECT nextval('{schema}.mt_events_sequence'), e.id, {stream}, (SELECT base FROM s) + e.n, e.data,
                e.type, {sql.P(Tenancy)}, now(), e.dotnet, FALSE
            FROM unnest({sql.Array(ids)}::uuid[], {sql.Array(types)}::varchar[], {sql.Array(dotnet)}::varchar[],
                {sql.Array(bodies)}::jsonb[]) WITH ORDINALITY AS e(id, type, dotnet, data, n)
            """);
        return bodies.Sum(b => b.Length);
    }

    /// <summary>Each event's id, Marten's names for its type, and its JSON.</summary>
    private (Guid[] Ids, string[] Types, string[] DotNet, string[] Bodies) Rows(IReadOnlyList<HistoryEvent> events)
    {
        var (ids, types, dotnet, bodies) = (new Guid[events.Count], new string[events.Count],
            new string[events.Count], new string[events.Count]);
        for (var i = 0; i < events.Count; i++)
        {
            var type = events[i].GetType();
            (ids[i], (types[i], dotnet[i])) = (Guid.CreateVersion7(), _names[type]);
            bodies[i] = JsonSerializer.Serialize(events[i], type, _json);
        }
        return (ids, types, dotnet, bodies);
    }

    /// <summary>Adds the call of Marten's append function for <paramref name="append"/> (a new stream) to <paramref
    /// name="sql"/>; with <paramref name="checkVersion"/>, the function refuses (and fails the command) a stream not at
    /// the expected version. Returns the length of the events' JSON.</summary>
    private int Call(Sql sql, StreamAppend append, bool checkVersion)
    {
        var (ids, types, dotnet, bodies) = Rows(append.Events);
        sql.Append($"SELECT {schema}.mt_quick_append_events({sql.P(append.Stream)}::varchar, NULL::varchar, " +
            $"{sql.P(Tenancy)}::varchar, {sql.Array(ids)}::uuid[], {sql.Array(types)}::varchar[], " +
            $"{sql.Array(dotnet)}::varchar[], {sql.Array(bodies)}::jsonb[], NULL::bytea[], " +
            $"array_fill(now(), ARRAY[{ids.Length}])" +
            (checkVersion ? $", {sql.P(append.ExpectedVersion)}::bigint)" : ")"));
        return bodies.Sum(b => b.Length);
    }

    /// <summary>The tenant Marten records for a store without tenancy.</summary>
    private const string Tenancy = "*DEFAULT*";

    public async Task DeleteAsync(DbConnection connection, DbTransaction tx, IReadOnlyList<string> streams,
        CancellationToken ct)
    {
        // A stream's row cascades to its events.
        var sql = new Sql();
        sql.Append($"DELETE FROM {schema}.mt_streams WHERE id IN ({sql.List(streams)})");
        await ExecAsync(sql, connection, tx, ct).ConfigureAwait(false);
    }
}
