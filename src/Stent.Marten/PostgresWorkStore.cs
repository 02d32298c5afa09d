// The PostgreSQL store for many workers on many machines: streams in Marten, work tables through Npgsql, one transaction.
using Marten;
using Marten.Services;
using Npgsql;
using NpgsqlTypes;
using Stent.Replay;
using Stent.Storage;

namespace Stent.Marten;

/// <summary>
/// <see cref="IWorkStore"/> on PostgreSQL. Each execution is one Marten event stream (string id); the
/// executions, steps, timers, inbox and idempotent results are tables in the same schema, written through
/// Npgsql in the same transaction as the stream append. Claims use <c>FOR UPDATE SKIP LOCKED</c> and take
/// many rows per query; capped functions are claimed under an advisory lock, so a cap holds exactly across
/// processes. Every time comes from the database's clock. The schema is created on first use.
/// </summary>
public sealed partial class PostgresWorkStore : IWorkStore, IIdempotencyStore, IDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly DocumentStore _marten;
    private readonly string _s;
    private readonly SemaphoreSlim _ready = new(1, 1);
    private bool _created;
    private long _roundTrips;

    /// <summary>A store on <paramref name="connectionString"/> in the schema <paramref name="schema"/>.</summary>
    public PostgresWorkStore(string connectionString, string schema = "stent")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        MartenSetup.CheckSchemaName(schema);
        _s = schema;
        _dataSource = NpgsqlDataSource.Create(connectionString);
        _marten = MartenSetup.CreateStore(_dataSource, schema);
    }

    /// <inheritdoc />
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    private void Trip(int n = 1) => Interlocked.Add(ref _roundTrips, n);

    private string Ddl => $"""
        CREATE SEQUENCE IF NOT EXISTS {_s}.stent_lease_seq;
        CREATE TABLE IF NOT EXISTS {_s}.stent_executions (
            id text PRIMARY KEY, workflow text NOT NULL, version int NOT NULL, state text NOT NULL,
            created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, completed_at timestamptz, deadline timestamptz,
            queue text, tags text[] NOT NULL, priority int NOT NULL, idempotency_key text UNIQUE,
            runnable_at timestamptz, lease_token bigint NOT NULL DEFAULT 0, lease_until timestamptz,
            cancel_requested boolean NOT NULL DEFAULT false, output text, error text, stream_version bigint NOT NULL, signals bigint NOT NULL DEFAULT 0);
        ALTER TABLE {_s}.stent_executions ADD COLUMN IF NOT EXISTS lease_owner text;
        ALTER TABLE {_s}.stent_executions ADD COLUMN IF NOT EXISTS resumed_by text;
        ALTER TABLE {_s}.stent_executions ADD COLUMN IF NOT EXISTS parent_id text;
        ALTER TABLE {_s}.stent_executions ADD COLUMN IF NOT EXISTS parent_position text;
        CREATE INDEX IF NOT EXISTS stent_executions_parent ON {_s}.stent_executions (parent_id) WHERE parent_id IS NOT NULL;
        CREATE INDEX IF NOT EXISTS stent_executions_runnable ON {_s}.stent_executions (runnable_at) WHERE runnable_at IS NOT NULL;
        CREATE TABLE IF NOT EXISTS {_s}.stent_steps (
            id bigserial PRIMARY KEY, execution_id text NOT NULL, position text NOT NULL, name text NOT NULL, input text NOT NULL,
            queue text, tags text[] NOT NULL, priority int NOT NULL, max_concurrent int, attempt int NOT NULL DEFAULT 1,
            available_at timestamptz NOT NULL, running boolean NOT NULL DEFAULT false, lease_until timestamptz, lease_token bigint NOT NULL DEFAULT 0, worker text);
        ALTER TABLE {_s}.stent_steps ADD COLUMN IF NOT EXISTS max_per_second int;
        CREATE TABLE IF NOT EXISTS {_s}.stent_rates (name text PRIMARY KEY, window_start timestamptz NOT NULL, used int NOT NULL);
        CREATE INDEX IF NOT EXISTS stent_steps_ready ON {_s}.stent_steps (running, available_at);
        CREATE INDEX IF NOT EXISTS stent_steps_execution ON {_s}.stent_steps (execution_id);
        CREATE TABLE IF NOT EXISTS {_s}.stent_timers (execution_id text NOT NULL, position text NOT NULL, due_at timestamptz NOT NULL, PRIMARY KEY (execution_id, position));
        CREATE TABLE IF NOT EXISTS {_s}.stent_inbox (id bigserial PRIMARY KEY, execution_id text NOT NULL, data text NOT NULL);
        CREATE INDEX IF NOT EXISTS stent_inbox_execution ON {_s}.stent_inbox (execution_id);
        CREATE TABLE IF NOT EXISTS {_s}.stent_results (key text PRIMARY KEY, output text NOT NULL);
        CREATE TABLE IF NOT EXISTS {_s}.stent_dead_letters (
            id bigserial PRIMARY KEY, execution_id text NOT NULL, position text NOT NULL, name text NOT NULL,
            input text NOT NULL, failure text NOT NULL, at timestamptz NOT NULL);
        """;

    private async Task EnsureSchemaAsync(CancellationToken ct)
    {
        if (_created) return;
        await _ready.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_created) return;
            // Many processes may start at once: one at a time creates the schema (Marten's tables, then ours).
            await using var c = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
            await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_lock(727271)", c)) await lockCmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            try
            {
                await _marten.Storage.ApplyAllConfiguredChangesToDatabaseAsync().ConfigureAwait(false);
                await using var cmd = new NpgsqlCommand(Ddl, c);
                await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            finally
            {
                await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(727271)", c);
                await unlock.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
            }
            _created = true;
        }
        finally { _ready.Release(); }
    }

    private static NpgsqlCommand Cmd(NpgsqlConnection c, NpgsqlTransaction? tx, string sql, params object?[] args)
    {
        var cmd = new NpgsqlCommand(sql, c, tx);
        foreach (var a in args) cmd.Parameters.Add(a is NpgsqlParameter p ? p : new NpgsqlParameter { Value = a ?? DBNull.Value });
        return cmd;
    }

    private static NpgsqlBatchCommand BatchCmd(string sql, params object?[] args)
    {
        var cmd = new NpgsqlBatchCommand(sql);
        foreach (var a in args) cmd.Parameters.Add(a is NpgsqlParameter p ? p : new NpgsqlParameter { Value = a ?? DBNull.Value });
        return cmd;
    }

    private static NpgsqlParameter Typed(object? value, NpgsqlDbType type) => new() { Value = value ?? DBNull.Value, NpgsqlDbType = type };

    private async Task<T> InTransactionAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, CancellationToken ct)
    {
        await EnsureSchemaAsync(ct).ConfigureAwait(false);
        await using var c = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
        var result = await work(c, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        Trip();
        return result;
    }

    private async Task<T> OnConnectionAsync<T>(Func<NpgsqlConnection, Task<T>> work, CancellationToken ct)
    {
        await EnsureSchemaAsync(ct).ConfigureAwait(false);
        await using var c = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        return await work(c).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<(string Id, bool Created)> CreateExecutionAsync(NewExecution n, CancellationToken ct = default) => InTransactionAsync(async (c, tx) =>
    {
        async Task<(string Id, string State, string? ResumedBy)?> Row(string sql, object? arg)
        {
            Trip();
            await using var cmd = Cmd(c, tx, $"SELECT id, state, resumed_by FROM {_s}.stent_executions WHERE {sql} FOR UPDATE", arg);
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            return await r.ReadAsync(ct).ConfigureAwait(false) ? (r.GetString(0), r.GetString(1), Text(r, 2)) : null;
        }

        if (await Row("id = $1", n.Id).ConfigureAwait(false) is not null) return (n.Id, false);
        var resumedFrom = n.ResumedFrom;
        if (n.IdempotencyKey is { } key && await Row("idempotency_key = $1", key).ConfigureAwait(false) is { } holder)
        {
            if (!NewExecution.CanResume(Enum.Parse<ExecutionState>(holder.State))) return (holder.Id, false);
            resumedFrom = holder.Id;
        }
        if (resumedFrom is not null)
        {
            var old = await Row("id = $1", resumedFrom).ConfigureAwait(false) ?? throw new KeyNotFoundException($"No execution '{resumedFrom}' to resume.");
            if (old.ResumedBy is { } by) return (by, false);
            var state = Enum.Parse<ExecutionState>(old.State);
            if (!NewExecution.CanResume(state)) throw NewExecution.NotResumable(resumedFrom, state);
            Trip();
            await using var mark = Cmd(c, tx, $"UPDATE {_s}.stent_executions SET resumed_by = $2, idempotency_key = NULL WHERE id = $1", resumedFrom, n.Id);
            await mark.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        await using var session = _marten.LightweightSession(SessionOptions.ForTransaction(tx));
        if (await InsertAsync(c, tx, session, n, resumedFrom, ct).ConfigureAwait(false))
        {
            session.QueueSqlCommand(NotifySql);
            await session.SaveChangesAsync(ct).ConfigureAwait(false);
            Trip();
            return (n.Id, true);
        }
        // A concurrent dispatch with the same key won the race: its execution is the one.
        if (resumedFrom is not null) throw new InvalidOperationException($"Execution '{resumedFrom}' is being resumed concurrently; try again.");
        Trip();
        await using var find = Cmd(c, tx, $"SELECT id FROM {_s}.stent_executions WHERE id = $1 OR idempotency_key = $2 LIMIT 1", n.Id, n.IdempotencyKey);
        return ((string)(await find.ExecuteScalarAsync(ct).ConfigureAwait(false))!, false);
    }, ct);

    /// <summary>Writes an execution's row and queues its first event on <paramref name="session"/>; false when the id or key is taken. A child takes its parent's queue, tags and priority.</summary>
    private async Task<bool> InsertAsync(NpgsqlConnection c, NpgsqlTransaction tx, IDocumentSession session, NewExecution n, string? resumedFrom, CancellationToken ct)
    {
        Trip();
        await using var cmd = Cmd(c, tx, $"""
            INSERT INTO {_s}.stent_executions (id, workflow, version, state, created_at, updated_at, deadline, queue, tags, priority, idempotency_key, runnable_at,
                stream_version, parent_id, parent_position)
            SELECT $1, $2, $3, 'Pending', now(), now(), now() + $4 + $5, coalesce(p.queue, $6), coalesce(p.tags, $7), coalesce(p.priority, $8), $9, now() + $4, 1, $10, $11
            FROM (SELECT 1) AS one LEFT JOIN {_s}.stent_executions p ON p.id = $10
            ON CONFLICT DO NOTHING RETURNING created_at
            """, n.Id, n.Workflow, n.Version, n.Delay, Typed(n.MaxDuration, NpgsqlDbType.Interval), n.Queue, n.Tags.ToArray(), n.Priority, n.IdempotencyKey,
            Typed(n.ParentId, NpgsqlDbType.Text), Typed(n.ParentPosition, NpgsqlDbType.Text));
        if (await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) is not DateTime created) return false;
        session.Events.StartStream(n.Id, n.Started(new DateTimeOffset(created, TimeSpan.Zero), resumedFrom));
        return true;
    }

    private const string InfoColumns = "id, workflow, version, state, created_at, updated_at, completed_at, deadline, queue, tags, priority, output, error, idempotency_key, resumed_by, parent_id";

    private static DateTimeOffset At(NpgsqlDataReader r, int i) => new(DateTime.SpecifyKind(r.GetDateTime(i), DateTimeKind.Utc));
    private static DateTimeOffset? AtOrNull(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : At(r, i);
    private static string? Text(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static ExecutionInfo ReadInfo(NpgsqlDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetInt32(2), Enum.Parse<ExecutionState>(r.GetString(3)), At(r, 4), At(r, 5), AtOrNull(r, 6), AtOrNull(r, 7),
        Text(r, 8), r.GetFieldValue<string[]>(9), r.GetInt32(10), Text(r, 11), StoreJson.Error(Text(r, 12)), Text(r, 13), Text(r, 14), Text(r, 15));

    /// <inheritdoc />
    public Task<ExecutionInfo?> GetExecutionAsync(string id, CancellationToken ct = default) => OnConnectionAsync(async c =>
    {
        Trip();
        await using var cmd = Cmd(c, null, $"SELECT {InfoColumns} FROM {_s}.stent_executions WHERE id = $1", id);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await r.ReadAsync(ct).ConfigureAwait(false) ? ReadInfo(r) : null;
    }, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<ExecutionInfo>> ListExecutionsAsync(ExecutionFilter filter, CancellationToken ct = default) => OnConnectionAsync<IReadOnlyList<ExecutionInfo>>(async c =>
    {
        Trip();
        await using var cmd = Cmd(c, null, $"""
            SELECT {InfoColumns} FROM {_s}.stent_executions WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR workflow = $2)
            ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4
            """, filter.State?.ToString(), filter.Workflow, filter.Limit, filter.Offset);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new List<ExecutionInfo>();
        while (await r.ReadAsync(ct).ConfigureAwait(false)) list.Add(ReadInfo(r));
        return list;
    }, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<HistoryEvent>> ReadAsync(string id, CancellationToken ct = default) => ReadAfterAsync(id, 0, ct);

    /// <inheritdoc />
    public async Task<IReadOnlyList<HistoryEvent>> ReadAfterAsync(string id, long after, CancellationToken ct = default)
    {
        await EnsureSchemaAsync(ct).ConfigureAwait(false);
        Trip();
        await using var session = _marten.QuerySession();
        var events = await session.Events.FetchStreamAsync(id, fromVersion: after + 1, token: ct).ConfigureAwait(false);
        return events.Where(e => e.Version > after).Select(e => (HistoryEvent)e.Data).ToList();
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<DeadLetter>> ListDeadLettersAsync(int limit = 50, CancellationToken ct = default) => DeadLettersAsync("ORDER BY id DESC LIMIT $1", limit, ct);

    /// <inheritdoc />
    public Task<int> DeleteEndedAsync(TimeSpan olderThan, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(olderThan, TimeSpan.Zero);
        return InTransactionAsync(async (c, tx) =>
        {
            // Marten's stream rows cascade to their events.
            await using var cmd = Cmd(c, tx, $"""
                WITH gone AS (
                    DELETE FROM {_s}.stent_executions e
                    WHERE e.state NOT IN ('Pending', 'Running') AND e.completed_at <= now() - $1
                      AND (e.resumed_by IS NULL OR NOT EXISTS (SELECT 1 FROM {_s}.stent_executions r WHERE r.id = e.resumed_by AND r.state IN ('Pending', 'Running')))
                    RETURNING e.id),
                streams AS (DELETE FROM {_s}.mt_streams WHERE id IN (SELECT id FROM gone)),
                inbox AS (DELETE FROM {_s}.stent_inbox WHERE execution_id IN (SELECT id FROM gone)),
                dead AS (DELETE FROM {_s}.stent_dead_letters WHERE execution_id IN (SELECT id FROM gone)),
                steps AS (DELETE FROM {_s}.stent_steps WHERE execution_id IN (SELECT id FROM gone)),
                timers AS (DELETE FROM {_s}.stent_timers WHERE execution_id IN (SELECT id FROM gone))
                SELECT count(*) FROM gone
                """, olderThan);
            Trip();
            return (int)(long)(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
        }, ct);
    }

    /// <inheritdoc />
    public async Task<DeadLetter?> GetDeadLetterAsync(long id, CancellationToken ct = default) =>
        (await DeadLettersAsync("WHERE id = $1", id, ct).ConfigureAwait(false)).FirstOrDefault();

    /// <inheritdoc />
    public Task<bool> DiscardDeadLetterAsync(long id, CancellationToken ct = default) => OnConnectionAsync(async c =>
    {
        Trip();
        await using var cmd = Cmd(c, null, $"DELETE FROM {_s}.stent_dead_letters WHERE id = $1", id);
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
    }, ct);

    private Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(string where, object arg, CancellationToken ct) => OnConnectionAsync<IReadOnlyList<DeadLetter>>(async c =>
    {
        Trip();
        await using var cmd = Cmd(c, null, $"SELECT id, execution_id, position, name, input, failure, at FROM {_s}.stent_dead_letters {where}", arg);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new List<DeadLetter>();
        while (await r.ReadAsync(ct).ConfigureAwait(false))
            list.Add(new DeadLetter(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), (StepFailed)StoreJson.Event(r.GetString(5)), At(r, 6)));
        return list;
    }, ct);

    /// <inheritdoc />
    public Task<string?> TryGetAsync(string key, CancellationToken ct = default) => OnConnectionAsync(async c =>
    {
        Trip();
        await using var cmd = Cmd(c, null, $"SELECT output FROM {_s}.stent_results WHERE key = $1", key);
        return await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) as string;
    }, ct);

    /// <inheritdoc />
    public Task PutAsync(string key, string output, CancellationToken ct = default) => OnConnectionAsync(async c =>
    {
        Trip();
        await using var cmd = Cmd(c, null, $"INSERT INTO {_s}.stent_results (key, output) VALUES ($1, $2) ON CONFLICT DO NOTHING", key, output);
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }, ct);

    /// <inheritdoc />
    public void Dispose()
    {
        StopListeningAsync().GetAwaiter().GetResult();
        _stopListening.Dispose();
        _marten.Dispose();
        _dataSource.Dispose();
        _ready.Dispose();
    }
}
