// Operations: dead letters, cleanup of ended executions, and idempotent results.
using System.Data.Common;
using Stent.Replay;

namespace Stent.Storage.Relational;

public partial class RelationalWorkStore
{
    private Task<IReadOnlyList<DeadLetter>> DeadLettersAsync(Func<Sql, string> where, CancellationToken ct) =>
        ReadAsync<IReadOnlyList<DeadLetter>>(async s =>
        {
            var sql = new
                Sql($"SELECT id, execution_id, position, name, input, failure, at FROM {_t}stent_dead_letters ");
            sql.Append(where(sql));
            return await s.QueryAsync(sql, ReadDeadLetter, ct).ConfigureAwait(false);
        }, ct);

    private static DeadLetter ReadDeadLetter(DbDataReader r) => new(
        r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4),
            (StepFailed)StoreJson.Event(r.GetString(5)),
        Time(r.GetInt64(6)));

    /// <inheritdoc />
    public Task<IReadOnlyList<DeadLetter>> ListDeadLettersAsync(int limit = 50, CancellationToken ct = default) =>
        DeadLettersAsync(sql => $"ORDER BY id DESC LIMIT {sql.P(limit)}", ct);

    /// <inheritdoc />
    public async Task<DeadLetter?> GetDeadLetterAsync(long id, CancellationToken ct = default) =>
        (await DeadLettersAsync(sql => $"WHERE id = {sql.P(id)}", ct).ConfigureAwait(false)).FirstOrDefault();

    /// <inheritdoc />
    public Task<bool> DiscardDeadLetterAsync(long id, CancellationToken ct = default) => WriteAsync("discard", async s
        =>
    {
        var sql = new Sql();
        sql.Append($"DELETE FROM {_t}stent_dead_letters WHERE id = {sql.P(id)}");
        return await s.ExecAsync(sql, ct).ConfigureAwait(false) > 0;
    }, ct);

    /// <inheritdoc />
    public Task<int> DeleteEndedAsync(TimeSpan olderThan, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(olderThan, TimeSpan.Zero);
        return WriteAsync("cleanup", async s =>
        {
            var find = new Sql();
            find.Append($"""
                SELECT e.id FROM {_t}stent_executions e
                WHERE e.state NOT IN {Live} AND e.completed_at <= {find.P(s.Now - Ms(olderThan))}
                  AND NOT EXISTS (SELECT 1 FROM {_t}stent_executions r WHERE r.id = e.resumed_by AND r.state IN {Live})
                """);
            var gone = await s.QueryAsync(find, r => r.GetString(0), ct).ConfigureAwait(false);
            foreach (var chunk in gone.Chunk(500))
            {
                var sql = new Sql();
                var ids = sql.List(chunk);
                foreach (var table in new[] { "stent_inbox", "stent_dead_letters", "stent_steps", "stent_timers" })
                    sql.Append($"DELETE FROM {_t}{table} WHERE execution_id IN ({ids});");
                sql.Append($"DELETE FROM {_t}stent_executions WHERE id IN ({ids})");
                await s.ExecAsync(sql, ct).ConfigureAwait(false);
                await s.StreamsAsync(streams => streams.DeleteAsync(s.Connection, s.Tx!, chunk, ct))
                    .ConfigureAwait(false);
            }
            return gone.Count;
        }, ct);
    }

    /// <inheritdoc />
    public Task AnnounceWorkerAsync(WorkerInfo worker, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return WriteAsync("announce", s =>
        {
            var sql = new Sql();
            sql.Append($"""
                INSERT INTO {_t}stent_workers (id, workflows, functions, seen_at) VALUES ({sql.P(worker.Id)},
                    {sql.P(StoreJson.Tags(worker.Workflows))}, {sql.P(StoreJson.Tags(worker.Functions))}, {sql.P(s.Now)})
                ON CONFLICT (id) DO UPDATE SET workflows = excluded.workflows, functions = excluded.functions, seen_at =
                    excluded.seen_at
                """);
            return s.ExecAsync(sql, ct);
        }, ct);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<WorkerInfo>> ListWorkersAsync(TimeSpan seenWithin, CancellationToken ct = default) =>
        ReadAsync<IReadOnlyList<WorkerInfo>>(async s =>
        {
            var sql = new Sql();
            sql.Append($"SELECT id, workflows, functions, seen_at FROM {_t}stent_workers WHERE seen_at >= " +
                $"{sql.P(s.Now - Ms(seenWithin))} ORDER BY id");
            return await s.QueryAsync(sql, r => new WorkerInfo(r.GetString(0), StoreJson.Tags(r.GetString(1)),
                StoreJson.Tags(r.GetString(2)),
                Time(r.GetInt64(3))), ct).ConfigureAwait(false);
        }, ct, clock: true);

    /// <summary>Ends the leases <paramref name="workerId"/> holds, as if they had expired (the test kit's "process
    /// died").</summary>
    internal Task ExpireLeasesAsync(string workerId, CancellationToken ct = default) => WriteAsync("expire", s =>
    {
        var sql = new Sql();
        var (worker, past) = (sql.P(workerId), sql.P(s.Now - 1));
        sql.Append($"""
            UPDATE {_t}stent_executions SET lease_until = {past} WHERE lease_owner = {worker} AND lease_until IS NOT
                NULL;
            UPDATE {_t}stent_steps SET lease_until = {past} WHERE worker = {worker} AND running = 1
            """);
        return s.ExecAsync(sql, ct);
    }, ct);

    /// <inheritdoc />
    public Task<string?> TryGetAsync(string key, CancellationToken ct = default) => ReadAsync(async s =>
    {
        var sql = new Sql();
        sql.Append($"SELECT output FROM {_t}stent_results WHERE key = {sql.P(key)}");
        return (await s.QueryAsync(sql, r => r.GetString(0), ct).ConfigureAwait(false)).FirstOrDefault();
    }, ct);

    /// <inheritdoc />
    public Task PutAsync(string key, string output, CancellationToken ct = default) => WriteAsync("result", s =>
    {
        var sql = new Sql();
        sql.Append($"INSERT INTO {_t}stent_results (key, output) VALUES ({sql.P(key)}, {sql.P(output)}) ON CONFLICT " +
            $"DO NOTHING");
        return s.ExecAsync(sql, ct);
    }, ct);
}
