// Claims (SKIP LOCKED, many rows per query), decision commits with the Marten append, batched step outcomes, signals, cancellation.
using Marten.Services;
using Npgsql;
using NpgsqlTypes;
using Stent.Replay;
using Stent.Storage;

namespace Stent.Marten;

public sealed partial class PostgresWorkStore
{
    private const string StepColumns = "s.id, s.execution_id, s.position, s.name, s.input, s.attempt, s.lease_token";

    private string Routing(string alias) =>
        $"($4::text[] IS NULL OR {alias}.queue IS NULL OR {alias}.queue = ANY($4)) AND ($5::text[] IS NULL OR cardinality({alias}.tags) = 0 OR {alias}.tags && $5)";

    /// <inheritdoc />
    public async Task<ClaimResult> ClaimAsync(ClaimRequest q, CancellationToken ct = default)
    {
        var (now, claimed, steps) = await InTransactionAsync(async (c, tx) =>
        {
            object Queues() => Typed(q.Queues?.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text);
            object Tags() => Typed(q.Tags?.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text);
            await using var batch = new NpgsqlBatch(c, tx);
            void Add(string sql, params object?[] args) => batch.BatchCommands.Add(BatchCmd(sql, args));
            Add("SELECT now()");
            Add($"""
                WITH c AS (
                    SELECT id FROM {_s}.stent_executions e
                    WHERE runnable_at <= now() AND (lease_until IS NULL OR lease_until < now()) AND state IN ('Pending', 'Running') AND {Routing("e")}
                    ORDER BY priority DESC, runnable_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                UPDATE {_s}.stent_executions e SET lease_token = nextval('{_s}.stent_lease_seq'), lease_until = now() + $2, lease_owner = $3, updated_at = now()
                FROM c WHERE e.id = c.id
                RETURNING e.id, e.lease_token, e.deadline, e.cancel_requested, e.stream_version
                """, q.MaxDecisions, q.Lease, q.WorkerId, Queues(), Tags());
            Add($"""
                WITH c AS (
                    SELECT id FROM {_s}.stent_steps s
                    WHERE max_concurrent IS NULL AND max_per_second IS NULL AND ((NOT running AND available_at <= now()) OR (running AND lease_until < now())) AND {Routing("s")}
                    ORDER BY priority DESC, id LIMIT $1 FOR UPDATE SKIP LOCKED)
                UPDATE {_s}.stent_steps s SET running = true, attempt = CASE WHEN s.running THEN s.attempt + 1 ELSE s.attempt END,
                    lease_token = nextval('{_s}.stent_lease_seq'), lease_until = now() + $2, worker = $3
                FROM c WHERE s.id = c.id
                RETURNING {StepColumns}
                """, q.MaxSteps, q.Lease, q.WorkerId, Queues(), Tags());
            await using var r = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
            Trip();
            await r.ReadAsync(ct).ConfigureAwait(false);
            var now = new DateTimeOffset(DateTime.SpecifyKind(r.GetDateTime(0), DateTimeKind.Utc));
            await r.NextResultAsync(ct).ConfigureAwait(false);
            var decisions = new List<(string Id, long Token, DateTimeOffset? Deadline, bool Cancel, long Version)>();
            while (await r.ReadAsync(ct).ConfigureAwait(false)) decisions.Add((r.GetString(0), r.GetInt64(1), AtOrNull(r, 2), r.GetBoolean(3), r.GetInt64(4)));
            await r.NextResultAsync(ct).ConfigureAwait(false);
            var steps = new List<StepTask>();
            while (await r.ReadAsync(ct).ConfigureAwait(false)) steps.Add(ReadStep(r));
            await r.DisposeAsync().ConfigureAwait(false);

            var room = q.MaxSteps - steps.Count;
            if (room > 0) steps.AddRange(await ClaimCappedAsync(c, tx, q, room, Queues(), Tags(), ct).ConfigureAwait(false));

            var inbox = new Dictionary<string, List<(long, HistoryEvent)>>();
            var timers = new Dictionary<string, List<string>>();
            if (decisions.Count > 0)
            {
                var ids = decisions.Select(d => d.Id).ToArray();
                await using var read = new NpgsqlBatch(c, tx);
                read.BatchCommands.Add(BatchCmd($"SELECT execution_id, id, data FROM {_s}.stent_inbox WHERE execution_id = ANY($1) ORDER BY id", (object)ids));
                read.BatchCommands.Add(BatchCmd($"SELECT execution_id, position FROM {_s}.stent_timers WHERE execution_id = ANY($1) AND due_at <= now() ORDER BY due_at, position", (object)ids));
                await using var rr = await read.ExecuteReaderAsync(ct).ConfigureAwait(false);
                Trip();
                while (await rr.ReadAsync(ct).ConfigureAwait(false))
                    (inbox.TryGetValue(rr.GetString(0), out var l) ? l : inbox[rr.GetString(0)] = []).Add((rr.GetInt64(1), StoreJson.Event(rr.GetString(2))));
                await rr.NextResultAsync(ct).ConfigureAwait(false);
                while (await rr.ReadAsync(ct).ConfigureAwait(false))
                    (timers.TryGetValue(rr.GetString(0), out var l) ? l : timers[rr.GetString(0)] = []).Add(rr.GetString(1));
            }
            var claimed = decisions.Select(d => (d, inbox.GetValueOrDefault(d.Id) ?? [], timers.GetValueOrDefault(d.Id) ?? [])).ToList();
            return (now, claimed, steps);
        }, ct).ConfigureAwait(false);

        return new ClaimResult(now, claimed.Select(x => new DecisionTask(x.d.Id, x.d.Token, x.d.Version, x.Item2, x.Item3, x.d.Deadline, x.d.Cancel)).ToList(), steps);
    }

    private static StepTask ReadStep(NpgsqlDataReader r) =>
        new(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetInt32(5), r.GetInt64(6));

    private async Task<List<StepTask>> ClaimCappedAsync(NpgsqlConnection c, NpgsqlTransaction tx, ClaimRequest q, int room, object queues, object tags, CancellationToken ct)
    {
        var steps = new List<StepTask>();
        await using (var any = Cmd(c, tx, $"""
            SELECT EXISTS (SELECT 1 FROM {_s}.stent_steps WHERE (max_concurrent IS NOT NULL OR max_per_second IS NOT NULL) AND ((NOT running AND available_at <= now()) OR (running AND lease_until < now())))
            """))
        {
            Trip();
            if (!(bool)(await any.ExecuteScalarAsync(ct).ConfigureAwait(false))!) return steps;
        }
        // Caps are exact: claims of capped functions are serialized by a transaction-scoped advisory lock,
        // taken in its own statement so the claim below reads the running counts after it holds the lock.
        // Rate windows use the claim statement's time, not the transaction's start (which may be long before the lock).
        await using var batch = new NpgsqlBatch(c, tx);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock(727272)"));
        batch.BatchCommands.Add(BatchCmd($"""
            WITH running AS (
                SELECT name, count(*) AS n FROM {_s}.stent_steps WHERE max_concurrent IS NOT NULL AND running AND lease_until >= now() GROUP BY name),
            rates AS (SELECT name, used FROM {_s}.stent_rates WHERE window_start > statement_timestamp() - interval '1 second'),
            cand AS (
                SELECT s.id, s.name, s.max_concurrent, s.max_per_second, s.priority,
                       row_number() OVER (PARTITION BY s.name ORDER BY s.priority DESC, s.id) AS rn
                FROM {_s}.stent_steps s
                WHERE (s.max_concurrent IS NOT NULL OR s.max_per_second IS NOT NULL)
                  AND ((NOT s.running AND s.available_at <= now()) OR (s.running AND s.lease_until < now())) AND {Routing("s")}),
            pick AS (
                SELECT cand.id FROM cand LEFT JOIN running ON running.name = cand.name LEFT JOIN rates ON rates.name = cand.name
                WHERE (cand.max_concurrent IS NULL OR cand.rn <= cand.max_concurrent - coalesce(running.n, 0))
                  AND (cand.max_per_second IS NULL OR cand.rn <= cand.max_per_second - coalesce(rates.used, 0))
                ORDER BY cand.priority DESC, cand.id LIMIT $1),
            claimed AS (
                UPDATE {_s}.stent_steps s SET running = true, attempt = CASE WHEN s.running THEN s.attempt + 1 ELSE s.attempt END,
                    lease_token = nextval('{_s}.stent_lease_seq'), lease_until = now() + $2, worker = $3
                FROM pick WHERE s.id = pick.id
                RETURNING {StepColumns}, s.max_per_second),
            counted AS (
                INSERT INTO {_s}.stent_rates (name, window_start, used)
                SELECT name, statement_timestamp(), count(*) FROM claimed WHERE max_per_second IS NOT NULL GROUP BY name
                ON CONFLICT (name) DO UPDATE SET
                    used = CASE WHEN {_s}.stent_rates.window_start > statement_timestamp() - interval '1 second' THEN {_s}.stent_rates.used + excluded.used ELSE excluded.used END,
                    window_start = CASE WHEN {_s}.stent_rates.window_start > statement_timestamp() - interval '1 second' THEN {_s}.stent_rates.window_start ELSE statement_timestamp() END)
            SELECT id, execution_id, position, name, input, attempt, lease_token FROM claimed
            """, room, q.Lease, q.WorkerId, queues, tags));
        await using var r = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
        Trip();
        await r.NextResultAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false)) steps.Add(ReadStep(r));
        return steps;
    }

    /// <inheritdoc />
    public Task<bool> CommitDecisionAsync(DecisionCommit d, CancellationToken ct = default) => InTransactionAsync(async (c, tx) =>
    {
        string? parentId, parentPosition;
        await using (var check = Cmd(c, tx, $"""
            SELECT lease_token = $2 AND lease_until >= now() AND stream_version = $3, parent_id, parent_position FROM {_s}.stent_executions WHERE id = $1 FOR UPDATE
            """, d.ExecutionId, d.LeaseToken, d.ExpectedVersion))
        await using (var r = await check.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            Trip();
            if (!await r.ReadAsync(ct).ConfigureAwait(false) || r.IsDBNull(0) || !r.GetBoolean(0)) return false;
            (parentId, parentPosition) = (r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2));
        }
        if (d.Events.Count > 0 || d.Children.Count > 0)
        {
            await using var session = _marten.LightweightSession(SessionOptions.ForTransaction(tx));
            if (d.Events.Count > 0) session.Events.Append(d.ExecutionId, d.ExpectedVersion + d.Events.Count, d.Events.Cast<object>().ToArray());
            foreach (var child in d.Children) await InsertAsync(c, tx, session, child, null, ct).ConfigureAwait(false);
            await session.SaveChangesAsync(ct).ConfigureAwait(false);
            Trip();
        }
        var finished = d.Finished;
        await using var batch = new NpgsqlBatch(c, tx);
        void Add(string sql, params object?[] args) => batch.BatchCommands.Add(BatchCmd(sql, args));
        if (d.FoldedInbox.Count > 0) Add($"DELETE FROM {_s}.stent_inbox WHERE id = ANY($1)", d.FoldedInbox.ToArray());
        if (d.FiredTimers.Count > 0) Add($"DELETE FROM {_s}.stent_timers WHERE execution_id = $1 AND position = ANY($2)", d.ExecutionId, d.FiredTimers.ToArray());
        if (d.Steps.Count > 0)
            Add($"""
                INSERT INTO {_s}.stent_steps (execution_id, position, name, input, queue, tags, priority, max_concurrent, max_per_second, available_at)
                SELECT $1, p, n, i, q, coalesce(string_to_array(t, chr(31)), ARRAY[]::text[]), pr, mc, mps, now()
                FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[], $9::int[]) AS u(p, n, i, q, t, pr, mc, mps)
                """, d.ExecutionId, d.Steps.Select(s => s.Position).ToArray(), d.Steps.Select(s => s.Name).ToArray(), d.Steps.Select(s => s.Input).ToArray(),
                Typed(d.Steps.Select(s => s.Queue).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text),
                Typed(d.Steps.Select(s => s.Tags.Count == 0 ? null : string.Join('\u001f', s.Tags)).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text),
                d.Steps.Select(s => s.Priority).ToArray(), Typed(d.Steps.Select(s => s.MaxConcurrent).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Integer),
                Typed(d.Steps.Select(s => s.MaxPerSecond).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Integer));
        if (d.Timers.Count > 0)
            Add($"""
                INSERT INTO {_s}.stent_timers (execution_id, position, due_at) SELECT $1, p, t FROM unnest($2::text[], $3::timestamptz[]) AS u(p, t)
                ON CONFLICT (execution_id, position) DO UPDATE SET due_at = excluded.due_at
                """, d.ExecutionId, d.Timers.Select(t => t.Position).ToArray(), d.Timers.Select(t => t.DueAt.UtcDateTime).ToArray());
        if (d.DropSteps.Count > 0)
        {
            Add($"DELETE FROM {_s}.stent_steps WHERE execution_id = $1 AND position = ANY($2)", d.ExecutionId, d.DropSteps.ToArray());
            Add($"UPDATE {_s}.stent_executions SET cancel_requested = true, runnable_at = now() WHERE id = ANY($1) AND state IN ('Pending', 'Running')",
                Typed(d.DropSteps.Select(p => ChildStarted.ChildId(d.ExecutionId, p)).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text));
        }
        if (finished)
        {
            Add($"DELETE FROM {_s}.stent_steps WHERE execution_id = $1", d.ExecutionId);
            Add($"DELETE FROM {_s}.stent_timers WHERE execution_id = $1", d.ExecutionId);
            Add($"UPDATE {_s}.stent_executions SET cancel_requested = true, runnable_at = now() WHERE parent_id = $1 AND state IN ('Pending', 'Running')", d.ExecutionId);
            if (parentId is not null)
                Add($"""
                    WITH p AS (UPDATE {_s}.stent_executions SET runnable_at = now() WHERE id = $1 AND state IN ('Pending', 'Running') RETURNING id)
                    INSERT INTO {_s}.stent_inbox (execution_id, data) SELECT id, $2 FROM p
                    """, parentId, StoreJson.Event(d.EndedAt(parentPosition!)));
        }
        Add($"""
            UPDATE {_s}.stent_executions SET state = $2, updated_at = now(), stream_version = $3, lease_until = NULL,
              completed_at = CASE WHEN $4 THEN now() END, output = $5, error = $6,
              runnable_at = CASE WHEN $4 THEN NULL
                WHEN cancel_requested OR EXISTS (SELECT 1 FROM {_s}.stent_inbox WHERE execution_id = $1) THEN now()
                ELSE LEAST((SELECT min(due_at) FROM {_s}.stent_timers WHERE execution_id = $1), deadline) END
            WHERE id = $1
            """, d.ExecutionId, d.State.ToString(), d.ExpectedVersion + d.Events.Count, finished, Typed(d.Output, NpgsqlDbType.Text), Typed(StoreJson.Error(d.Error), NpgsqlDbType.Text));
        Add(NotifySql);
        await batch.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        Trip();
        return true;
    }, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<bool>> CompleteStepsAsync(IReadOnlyList<StepOutcome> outcomes, CancellationToken ct = default) => OnConnectionAsync<IReadOnlyList<bool>>(async c =>
    {
        if (outcomes.Count == 0) return [];
        await using var batch = new NpgsqlBatch(c);
        batch.BatchCommands.Add(BatchCmd($"""
            WITH o AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[], $5::boolean[]) AS o(id, token, data, retry_at, dead)),
            ok AS (
                SELECT s.id, s.execution_id, s.position, s.name, s.input, o.data, o.retry_at, o.dead
                FROM {_s}.stent_steps s JOIN o ON o.id = s.id AND o.token = s.lease_token
                WHERE s.running AND s.lease_until >= now() FOR UPDATE OF s),
            dl AS (
                INSERT INTO {_s}.stent_dead_letters (execution_id, position, name, input, failure, at)
                SELECT execution_id, position, name, input, data, now() FROM ok WHERE dead),
            ins AS (INSERT INTO {_s}.stent_inbox (execution_id, data) SELECT execution_id, data FROM ok ORDER BY id),
            del AS (DELETE FROM {_s}.stent_steps WHERE id IN (SELECT id FROM ok WHERE retry_at IS NULL)),
            again AS (
                UPDATE {_s}.stent_steps s SET running = false, attempt = s.attempt + 1, available_at = ok.retry_at, lease_until = NULL
                FROM ok WHERE s.id = ok.id AND ok.retry_at IS NOT NULL),
            wake AS (
                UPDATE {_s}.stent_executions e SET runnable_at = LEAST(coalesce(e.runnable_at, 'infinity'), now() +
                    CASE WHEN EXISTS (SELECT 1 FROM {_s}.stent_steps o2 WHERE o2.execution_id = e.id AND o2.id NOT IN (SELECT id FROM ok WHERE retry_at IS NULL))
                         THEN make_interval(secs => LEAST($6::float8, e.stream_version / $7::float8)) ELSE interval '0' END)
                WHERE e.id IN (SELECT execution_id FROM ok WHERE retry_at IS NULL) AND e.state IN ('Pending', 'Running'))
            SELECT id FROM ok
            """, outcomes.Select(o => o.Step.Id).ToArray(), outcomes.Select(o => o.Step.LeaseToken).ToArray(),
            outcomes.Select(o => StoreJson.Event(o.Event)).ToArray(),
            Typed(outcomes.Select(o => o.Event is StepAttemptFailed f ? f.RetryAt.UtcDateTime : (DateTime?)null).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.TimestampTz),
            outcomes.Select(o => o.Event is StepFailed).ToArray(), WakeDelay.Max.TotalSeconds, WakeDelay.EventsPerMillisecond * 1000.0));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(NotifySql));
        var accepted = new HashSet<long>();
        await using (var r = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false)) accepted.Add(r.GetInt64(0));
        Trip();
        return outcomes.Select(o => accepted.Contains(o.Step.Id)).ToList();
    }, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<long>> RenewLeasesAsync(IReadOnlyList<LeasedStep> steps, TimeSpan lease, CancellationToken ct = default) => OnConnectionAsync<IReadOnlyList<long>>(async c =>
    {
        await using var cmd = Cmd(c, null, $"""
            WITH o AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS o(id, token))
            UPDATE {_s}.stent_steps s SET lease_until = now() + $3 FROM o
            WHERE s.id = o.id AND s.lease_token = o.token AND s.running AND s.lease_until >= now()
            RETURNING s.id
            """, steps.Select(s => s.Id).ToArray(), steps.Select(s => s.LeaseToken).ToArray(), lease);
        var kept = new HashSet<long>();
        await using (var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false)) kept.Add(r.GetInt64(0));
        Trip();
        return steps.Where(s => !kept.Contains(s.Id)).Select(s => s.Id).ToList();
    }, ct);

    /// <inheritdoc />
    public Task SignalAsync(string executionId, string name, string payload, CancellationToken ct = default) => InTransactionAsync(async (c, tx) =>
    {
        await using (var check = Cmd(c, tx, $"SELECT state FROM {_s}.stent_executions WHERE id = $1 FOR UPDATE", executionId))
        {
            Trip();
            var state = await check.ExecuteScalarAsync(ct).ConfigureAwait(false) as string ?? throw new KeyNotFoundException($"No execution '{executionId}' to signal.");
            if (state is not ("Pending" or "Running")) throw new InvalidOperationException($"Execution '{executionId}' has finished ({state}); signal '{name}' was not delivered.");
        }
        long seq;
        await using (var bump = Cmd(c, tx, $"UPDATE {_s}.stent_executions SET signals = signals + 1, runnable_at = now() WHERE id = $1 RETURNING signals", executionId))
        {
            Trip();
            seq = (long)(await bump.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
        }
        await using var ins = Cmd(c, tx, $"INSERT INTO {_s}.stent_inbox (execution_id, data) VALUES ($1, $2)", executionId, StoreJson.Event(new SignalReceived(name, payload, seq)));
        await using (var notify = Cmd(c, tx, NotifySql)) await notify.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        Trip();
        Trip();
        return await ins.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }, ct);

    /// <inheritdoc />
    public Task<bool> CancelAsync(string executionId, CancellationToken ct = default) => OnConnectionAsync(async c =>
    {
        await using var cmd = Cmd(c, null, $"""
            WITH e AS (SELECT state FROM {_s}.stent_executions WHERE id = $1),
            u AS (UPDATE {_s}.stent_executions SET cancel_requested = true, runnable_at = now() WHERE id = $1 AND state IN ('Pending', 'Running') RETURNING 1)
            SELECT (SELECT state FROM e), EXISTS (SELECT 1 FROM u), pg_notify('{Channel}', '')
            """, executionId);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        Trip();
        await r.ReadAsync(ct).ConfigureAwait(false);
        if (r.IsDBNull(0)) throw new KeyNotFoundException($"No execution '{executionId}' to cancel.");
        return r.GetBoolean(1);
    }, ct);
}
