// The PostgreSQL store: one Marten event stream per execution (string ids), appends with an expected version.
using System.Text.Json;
using JasperFx;
using JasperFx.Events;
using Marten;
using Marten.Exceptions;
using Npgsql;
using Stent.Replay;
using Stent.Serialization;
using Stent.Storage;
using IEventStore = Stent.Storage.IEventStore;
using Weasel.Core;

namespace Stent.Marten;

/// <summary>
/// Executions' histories in PostgreSQL through Marten: string stream ids, one stream per execution, one
/// append per batch (never an empty one), optimistic concurrency on the expected version. The schema is
/// created on first use. Idempotent results live in a table of the same schema, written through Npgsql.
/// </summary>
public sealed class MartenEventStore : IEventStore, IIdempotencyStore, IDisposable
{
    private readonly DocumentStore _store;
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _schema;
    private readonly SemaphoreSlim _ready = new(1, 1);
    private bool _created;

    /// <summary>A store on <paramref name="connectionString"/>, in the PostgreSQL schema <paramref name="schema"/>.</summary>
    public MartenEventStore(string connectionString, string schema = "stent")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        MartenSetup.CheckSchemaName(schema);
        _schema = schema;
        _dataSource = NpgsqlDataSource.Create(connectionString);
        _store = MartenSetup.CreateStore(_dataSource, schema);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<HistoryEvent>> ReadAsync(string streamId, CancellationToken ct = default)
    {
        await using var session = _store.QuerySession();
        var events = await session.Events.FetchStreamAsync(streamId, token: ct).ConfigureAwait(false);
        return events.Select(e => (HistoryEvent)e.Data).ToList();
    }

    /// <inheritdoc />
    public async Task<long> AppendAsync(string streamId, long expectedVersion, IReadOnlyList<HistoryEvent> events, CancellationToken ct = default)
    {
        if (events.Count == 0) throw new ArgumentException($"Append to '{streamId}' has no events.", nameof(events));
        await using var session = _store.LightweightSession();
        var data = events.Cast<object>().ToArray();
        if (expectedVersion == 0) session.Events.StartStream(streamId, data);
        else session.Events.Append(streamId, expectedVersion + events.Count, data);
        try
        {
            await session.SaveChangesAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConcurrencyException or JasperFx.Events.ExistingStreamIdCollisionException or global::Marten.Exceptions.ExistingStreamIdCollisionException or EventStreamUnexpectedMaxEventIdException)
        {
            var actual = (await ReadAsync(streamId, ct).ConfigureAwait(false)).Count;
            throw new ConcurrencyConflictException(streamId, expectedVersion, actual);
        }
        return expectedVersion + events.Count;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ListStreamsAsync(CancellationToken ct = default)
    {
        await EnsureSchemaAsync(ct).ConfigureAwait(false);
        await using var cmd = _dataSource.CreateCommand($"select id from {_schema}.mt_streams order by created, id");
        var ids = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false)) ids.Add(reader.GetString(0));
        return ids;
    }

    /// <inheritdoc />
    public async Task<string?> TryGetAsync(string key, CancellationToken ct = default)
    {
        await EnsureSchemaAsync(ct).ConfigureAwait(false);
        await using var cmd = _dataSource.CreateCommand($"select output from {_schema}.stent_results where key = $1");
        cmd.Parameters.AddWithValue(key);
        return await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) as string;
    }

    /// <inheritdoc />
    public async Task PutAsync(string key, string output, CancellationToken ct = default)
    {
        await EnsureSchemaAsync(ct).ConfigureAwait(false);
        await using var cmd = _dataSource.CreateCommand($"insert into {_schema}.stent_results (key, output) values ($1, $2) on conflict (key) do nothing");
        cmd.Parameters.AddWithValue(key);
        cmd.Parameters.AddWithValue(output);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private async Task EnsureSchemaAsync(CancellationToken ct)
    {
        if (_created) return;
        await _ready.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_created) return;
            await _store.Storage.ApplyAllConfiguredChangesToDatabaseAsync().ConfigureAwait(false);
            await using var cmd = _dataSource.CreateCommand(
                $"create table if not exists {_schema}.stent_results (key text primary key, output text not null, created timestamptz not null default now())");
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            _created = true;
        }
        finally { _ready.Release(); }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _store.Dispose();
        _dataSource.Dispose();
        _ready.Dispose();
    }
}
