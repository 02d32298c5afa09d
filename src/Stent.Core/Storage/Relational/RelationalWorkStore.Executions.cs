// Executions: create (resuming an ended one that holds the key), read their rows, list, signal and cancel them.
using System.Data.Common;
using Stent.Replay;

namespace Stent.Storage.Relational;

public partial class RelationalWorkStore
{
    private const string InfoColumns =
        "id, workflow, version, state, created_at, updated_at, completed_at, deadline, queue, "
        + "tags, priority, output, error, idempotency_key, resumed_by, parent_id, awaiting";

    private static ExecutionInfo ReadInfo(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetInt32(2), Enum.Parse<ExecutionState>(r.GetString(3)), Time(r.GetInt64(4)),
        Time(r.GetInt64(5)), Time(r, 6), Time(r, 7), Text(r, 8), Tags(r.GetString(9)), r.GetInt32(10), Text(r, 11),
        StoreJson.Error(Text(r, 12)), Text(r, 13), Text(r, 14), Text(r, 15))
    {
        Awaiting = StoreJson.Awaiting(Text(r, 16)),
    };

    /// <inheritdoc />
    public Task<(string Id, bool Created)> CreateExecutionAsync(NewExecution n, CancellationToken ct = default) =>
        WriteAsync("create", async s =>
        {
            async Task<(string Id, ExecutionState State, string? ResumedBy)?> Row(string column, string value)
            {
                var sql = new Sql();
                sql.Append($"SELECT id, state, resumed_by FROM {_t}stent_executions WHERE {column} = " +
                    $"{sql.P(value)}{_dialect.ForUpdate}");
                var rows = await s.QueryAsync(sql, r => (r.GetString(0), Enum.Parse<ExecutionState>(r.GetString(1)),
                    Text(r, 2)), ct)
                    .ConfigureAwait(false);
                return rows.Count == 0 ? null : rows[0];
            }

            if (await Row("id", n.Id).ConfigureAwait(false) is not null) return (n.Id, false);
            var resumedFrom = n.ResumedFrom;
            if (n.IdempotencyKey is { } key && await Row("idempotency_key", key).ConfigureAwait(false) is { } holder)
            {
                if (!NewExecution.CanResume(holder.State)) return (holder.Id, false);
                resumedFrom = holder.Id;
            }
            if (resumedFrom is not null)
            {
                var old = await Row("id", resumedFrom).ConfigureAwait(false)
                    ?? throw new KeyNotFoundException($"No execution '{resumedFrom}' to resume.");
                if (old.ResumedBy is { } by) return (by, false);
                if (!NewExecution.CanResume(old.State)) throw NewExecution.NotResumable(resumedFrom, old.State);
                var mark = new Sql();
                mark.Append($"UPDATE {_t}stent_executions SET resumed_by = {mark.P(n.Id)}, idempotency_key = NULL ");
                mark.Append($"WHERE id = {mark.P(resumedFrom)} AND resumed_by IS NULL");
                if (await s.ExecAsync(mark, ct).ConfigureAwait(false) == 0)
                    throw new InvalidOperationException($"Execution '{resumedFrom}' is being resumed concurrently; " +
                        $"try again.");
            }
            if ((await InsertAsync(s, [(n, resumedFrom)], ct).ConfigureAwait(false)).Count == 1)
            {
                s.Wakes = true;
                return (n.Id, true);
            }
            // A concurrent dispatch with the same id or key won the race: its execution is the one.
            var find = new Sql();
            find.Append($"SELECT id FROM {_t}stent_executions WHERE id = {find.P(n.Id)} OR idempotency_key = " +
                $"{find.P(n.IdempotencyKey)}");
            return ((await s.QueryAsync(find, r => r.GetString(0), ct).ConfigureAwait(false))[0], false);
        }, ct);

    /// <summary>Writes executions' rows and first events, skipping ids or keys already taken; returns the ids
    /// written.</summary>
    private async Task<List<string>> InsertAsync(Session s, IReadOnlyList<(NewExecution New, string? ResumedFrom)>
        executions, CancellationToken ct)
    {
        var sql = new Sql($"""
            INSERT INTO {_t}stent_executions (id, workflow, version, state, created_at, updated_at, deadline, queue,
                tags,
                priority, idempotency_key, runnable_at, stream_version, parent_id, parent_position, root,
                trace_parent) VALUES
            """);
        sql.Append(string.Join(", ", executions.Select(e =>
        {
            var n = e.New;
            var start = s.Now + Ms(n.Delay);
            long? deadline = n.MaxDuration is { } m ? start + Ms(m) : null;
            return $"({sql.P(n.Id)}, {sql.P(n.Workflow)}, {sql.P(n.Version)}, 'Pending', {sql.P(s.Now)}, " +
                $"{sql.P(s.Now)}, "
                + $"{sql.P(deadline)}, {sql.P(n.Queue)}, {sql.P(Tags(n.Tags))}, {sql.P(n.Priority)}, " +
                    $"{sql.P(n.IdempotencyKey)}, "
                + $"{sql.P(start)}, 1, {sql.P(n.ParentId)}, {sql.P(n.ParentPosition)}, {sql.P(n.Root ?? n.Workflow)}, "
                + $"{sql.P(n.TraceParent)})";
        })));
        sql.Append(" ON CONFLICT DO NOTHING RETURNING id");
        var created = (await s.QueryAsync(sql, r => r.GetString(0),
            ct).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
        var appends = executions.Where(e => created.Contains(e.New.Id))
            .Select(e => new StreamAppend(e.New.Id, 0, [e.New.Started(Time(s.Now), e.ResumedFrom)])).ToList();
        if (appends.Count > 0)
            await s.StreamsAsync(streams => streams.AppendAsync(s.Connection, s.Tx!, appends, ct))
                .ConfigureAwait(false);
        return [.. created];
    }

    /// <inheritdoc />
    public Task<ExecutionInfo?> GetExecutionAsync(string id, CancellationToken ct = default) => ReadAsync(async s =>
    {
        var sql = new Sql();
        sql.Append($"SELECT {InfoColumns} FROM {_t}stent_executions WHERE id = {sql.P(id)}");
        return (await s.QueryAsync(sql, ReadInfo, ct).ConfigureAwait(false)).FirstOrDefault();
    }, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<ExecutionInfo>> ListExecutionsAsync(ExecutionFilter filter, CancellationToken ct =
        default) =>
        ReadAsync<IReadOnlyList<ExecutionInfo>>(async s =>
        {
            var sql = new Sql($"SELECT {InfoColumns} FROM {_t}stent_executions WHERE 1 = 1");
            if (filter.State is { } state) sql.Append($" AND state = {sql.P(state.ToString())}");
            if (filter.Workflow is { } workflow) sql.Append($" AND workflow = {sql.P(workflow)}");
            sql.Append($" ORDER BY created_at DESC, id DESC LIMIT {sql.P(filter.Limit)} OFFSET {sql.P(filter.Offset)}");
            return await s.QueryAsync(sql, ReadInfo, ct).ConfigureAwait(false);
        }, ct);

    /// <summary>The state of an execution, or null when there is none.</summary>
    private async Task<string?> StateAsync(Session s, string id, CancellationToken ct)
    {
        var sql = new Sql();
        sql.Append($"SELECT state FROM {_t}stent_executions WHERE id = {sql.P(id)}");
        return (await s.QueryAsync(sql, r => r.GetString(0), ct).ConfigureAwait(false)).FirstOrDefault();
    }

    /// <inheritdoc />
    public Task<bool> SignalAsync(string executionId, string name, string payload, CancellationToken ct = default) =>
        WriteAsync("signal", async s =>
        {
            var bump = new Sql();
            bump.Append($"UPDATE {_t}stent_executions SET signals = signals + 1, runnable_at = {bump.P(s.Now)} ");
            bump.Append($"WHERE id = {bump.P(executionId)} AND state IN {Live} RETURNING signals");
            var seq = await s.QueryAsync(bump, r => r.GetInt64(0), ct).ConfigureAwait(false);
            if (seq.Count == 0)
            {
                _ = await StateAsync(s, executionId, ct).ConfigureAwait(false)
                    ?? throw new KeyNotFoundException($"No execution '{executionId}' to signal.");
                return false;
            }
            var insert = new Sql();
            insert.Append($"INSERT INTO {_t}stent_inbox (execution_id, data) VALUES ({insert.P(executionId)}, ");
            insert.Append($"{insert.P(StoreJson.Event(new SignalReceived(name, payload, seq[0])))})");
            await s.ExecAsync(insert, ct).ConfigureAwait(false);
            s.Wakes = true;
            return true;
        }, ct);

    /// <inheritdoc />
    public Task<bool> CancelAsync(string executionId, CancellationToken ct = default) => WriteAsync("cancel", async s =>
    {
        if (await RequestCancelAsync(s, [executionId], ct).ConfigureAwait(false) > 0) return s.Wakes = true;
        _ = await StateAsync(s, executionId, ct).ConfigureAwait(false) ?? throw new
            KeyNotFoundException($"No execution '{executionId}' to cancel.");
        return false;
    }, ct);

    /// <summary>Marks running executions to be cancelled by their next decision, which is due at once.</summary>
    private Task<int> RequestCancelAsync(Session s, IReadOnlyList<string> ids, CancellationToken ct)
    {
        var sql = new Sql();
        sql.Append($"UPDATE {_t}stent_executions SET cancel_requested = 1, runnable_at = {sql.P(s.Now)} ");
        sql.Append($"WHERE id IN ({sql.List(ids)}) AND state IN {Live}");
        return s.ExecAsync(sql, ct);
    }
}
