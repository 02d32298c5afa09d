// Recurring schedules: a row per schedule; firing a tick creates its execution and moves the next tick together.
using System.Data.Common;
using Stent.Scheduling;

namespace Stent.Storage.Relational;

public partial class RelationalWorkStore
{
    private const string ScheduleColumns = "name, cron, time_zone, workflow, version, input, missed, missed_after, " +
        "max_duration, queue, tags, priority, paused, next_tick, last_tick, last_execution";

    private string SchedulesDdl => $"""
        CREATE TABLE IF NOT EXISTS {_t}stent_schedules (
            name TEXT PRIMARY KEY, cron TEXT NOT NULL, time_zone TEXT NOT NULL, workflow TEXT NOT NULL,
            version INTEGER NOT NULL, input TEXT NOT NULL, missed TEXT NOT NULL, missed_after BIGINT NOT NULL,
            max_duration BIGINT, queue TEXT, tags TEXT NOT NULL, priority INTEGER NOT NULL,
            paused INTEGER NOT NULL, next_tick BIGINT, last_tick BIGINT, last_execution TEXT);
        CREATE INDEX IF NOT EXISTS stent_schedules_due ON {_t}stent_schedules (next_tick) WHERE paused = 0;
        """;

    private static ScheduleInfo ReadSchedule(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2),
        r.GetString(3), r.GetInt32(4), r.GetString(5), new ScheduleOptions
        {
            Missed = Enum.Parse<MissedTicks>(r.GetString(6)),
            MissedAfter = TimeSpan.FromMilliseconds(r.GetInt64(7)),
            MaxDuration = r.IsDBNull(8) ? Duration.Zero : TimeSpan.FromMilliseconds(r.GetInt64(8)),
            Queue = Text(r, 9),
            Tags = Tags(r.GetString(10)),
            Priority = r.GetInt32(11),
        }, r.GetInt32(12) != 0, Time(r, 13), Time(r, 14), Text(r, 15));

    /// <summary>Writes a schedule's row, replacing the one of the same name.</summary>
    private static void Upsert(Sql sql, string table, ScheduleInfo x)
    {
        var o = x.Options;
        sql.Append($"""
            INSERT INTO {table} ({ScheduleColumns}) VALUES ({sql.P(x.Name)}, {sql.P(x.Cron)}, {sql.P(x.TimeZone)},
                {sql.P(x.Workflow)}, {sql.P(x.Version)}, {sql.P(x.Input)}, {sql.P(o.Missed.ToString())},
                {sql.P(Ms(o.MissedAfter.Value))}, {sql.P(o.MaxDuration.OrNull is { } m ? Ms(m) : null)},
                {sql.P(o.Queue)}, {sql.P(Tags(o.Tags))}, {sql.P(o.Priority)}, {sql.P(x.Paused ? 1 : 0)},
                {sql.P(x.NextTick is { } n ? Ms(n) : null)}, {sql.P(x.LastTick is { } l ? Ms(l) : null)},
                {sql.P(x.LastExecutionId)})
            ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, time_zone = excluded.time_zone,
                workflow = excluded.workflow, version = excluded.version, input = excluded.input,
                missed = excluded.missed, missed_after = excluded.missed_after, max_duration = excluded.max_duration,
                queue = excluded.queue, tags = excluded.tags, priority = excluded.priority, paused = excluded.paused,
                next_tick = excluded.next_tick, last_tick = excluded.last_tick,
                last_execution = excluded.last_execution;
            """);
    }

    /// <inheritdoc />
    public Task<ScheduleInfo?> ChangeScheduleAsync(string name, Func<ScheduleInfo?, DateTimeOffset, ScheduleInfo?>
        change, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        return WriteAsync("schedule", async s =>
        {
            var read = new Sql();
            read.Append($"SELECT {ScheduleColumns} FROM {_t}stent_schedules WHERE name = {read.P(name)}" +
                _dialect.ForUpdate);
            var current = (await s.QueryAsync(read, ReadSchedule, ct).ConfigureAwait(false)).FirstOrDefault();
            var next = change(current, Time(s.Now));
            if (ReferenceEquals(next, current)) return current;
            var sql = new Sql();
            if (next is null) sql.Append($"DELETE FROM {_t}stent_schedules WHERE name = {sql.P(name)}");
            else if (next.Name != name) throw new ArgumentException(
                $"A change of schedule '{name}' cannot rename it to '{next.Name}'.", nameof(change));
            else Upsert(sql, $"{_t}stent_schedules", next);
            await s.ExecAsync(sql, ct).ConfigureAwait(false);
            return next;
        }, ct);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ScheduleInfo>> ListSchedulesAsync(CancellationToken ct = default) =>
        ReadAsync<IReadOnlyList<ScheduleInfo>>(async s =>
        {
            var sql = new Sql($"SELECT {ScheduleColumns} FROM {_t}stent_schedules ORDER BY name");
            return await s.QueryAsync(sql, ReadSchedule, ct).ConfigureAwait(false);
        }, ct);

    /// <inheritdoc />
    public async Task<IReadOnlyList<ScheduleFired>> FireSchedulesAsync(
        Func<ScheduleInfo, DateTimeOffset, (IReadOnlyList<DateTimeOffset> Ticks, DateTimeOffset? Next)> plan,
        CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        // A read first: a worker polls every second, and most polls find nothing due (no write lock taken then).
        var due = await ReadAsync(async s =>
        {
            var sql = new Sql();
            sql.Append($"SELECT 1 FROM {_t}stent_schedules WHERE paused = 0 AND next_tick <= {sql.P(s.Now)} LIMIT 1");
            return (await s.QueryAsync(sql, r => 1, ct).ConfigureAwait(false)).Count > 0;
        }, ct, clock: true).ConfigureAwait(false);
        if (!due) return [];
        return await WriteAsync<IReadOnlyList<ScheduleFired>>("fire", async s =>
        {
            var read = new Sql();
            read.Append($"SELECT {ScheduleColumns} FROM {_t}stent_schedules WHERE paused = 0 AND next_tick <= " +
                $"{read.P(s.Now)} ORDER BY next_tick LIMIT 50{_dialect.SkipLocked}");
            var schedules = await s.QueryAsync(read, ReadSchedule, ct).ConfigureAwait(false);
            var fired = new List<ScheduleFired>();
            var sql = new Sql();
            foreach (var schedule in schedules)
            {
                var (ticks, next) = plan(schedule, Time(s.Now));
                var executions = ticks.Select(t => (schedule.Execution(t), (string?)null)).ToList();
                // Ids and idempotency keys are the ticks': a tick whose execution exists is not started again.
                if (executions.Count > 0) await InsertAsync(s, executions, ct).ConfigureAwait(false);
                fired.AddRange(ticks.Select(t => new ScheduleFired(schedule.Name, t,
                    ScheduleInfo.ExecutionId(schedule.Name, t))));
                var last = ticks.Count > 0 ? ticks[^1] : schedule.LastTick;
                sql.Append($"""
                    UPDATE {_t}stent_schedules SET next_tick = {sql.P(next is { } n ? Ms(n) : null)},
                        last_tick = {sql.P(last is { } l ? Ms(l) : null)},
                        last_execution = {sql.P(ticks.Count > 0 ? fired[^1].ExecutionId : schedule.LastExecutionId)}
                    WHERE name = {sql.P(schedule.Name)} AND next_tick = {sql.P(Ms(schedule.NextTick!.Value))};
                    """);
            }
            await s.ExecAsync(sql, ct).ConfigureAwait(false);
            if (fired.Count > 0) s.Wakes = true;
            return fired;
        }, ct).ConfigureAwait(false);
    }
}
