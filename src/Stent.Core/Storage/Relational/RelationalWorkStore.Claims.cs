// Claims: decisions and steps under one lease token per claim, routed by queue and tags, with exact caps and rate
// windows.
using System.Data.Common;
using Stent.Replay;

namespace Stent.Storage.Relational;

public partial class RelationalWorkStore
{
    private const string Ready = "((running = 0 AND available_at <= {0}) OR (running = 1 AND lease_until < {0}))";
    private const string Capped = "(max_concurrent IS NOT NULL OR max_per_second IS NOT NULL)";

    /// <summary>The routing condition of a claim: its queues (and the default queue) and its tags (or none).</summary>
    private static string Routing(Sql sql, ClaimRequest q)
    {
        var where = "";
        if (q.Queues is { } queues)
            where += queues.Count == 0 ? " AND queue IS NULL" : $" AND (queue IS NULL OR queue IN " +
                $"({sql.List(queues)}))";
        if (q.Tags is { } tags)
            where += $" AND (tags = " +
                $"''{string.Concat(tags.Select(t => $" OR tags LIKE {sql.P($"%|{Escape(t)}|%")} ESCAPE '!'"))})";
        return where;
    }

    /// <summary>
    /// Only work a claimer can do: decisions of its workflows, steps of its functions — or any work of an execution
    /// tree
    /// whose root workflow it has (it learns the functions and child workflows it does not know yet by replaying).
    /// </summary>
    private static string Names(Sql sql, string column, IReadOnlyList<string>? names, IReadOnlyList<string>? roots) =>
        names is null || roots is null ? ""
            : $" AND ({column} IN ({(names.Count == 0 ? "NULL" : sql.List(names))}) OR root IN " +
                $"({(roots.Count == 0 ? "NULL" : sql.List(roots))}))";

    /// <summary>
    /// Only decisions a claimer can make: of the versions of its workflows it has (when it says), or of an execution
    /// tree whose root workflow it has.
    /// </summary>
    private static string Workflows(Sql sql, ClaimRequest q)
    {
        if (q.Versions is not { } versions || q.Workflows is not { } roots)
            return Names(sql, "workflow", q.Workflows, q.Workflows);
        var pairs = versions.Where(v => v.Value.Count > 0)
            .Select(v => $"(workflow = {sql.P(v.Key)} AND version IN ({sql.List(v.Value.Select(x => (long)x))}))");
        return $" AND ({string.Join(" OR ", [.. pairs, "1 = 0"])} OR (parent_id IS NOT NULL AND root IN " +
            $"({(roots.Count == 0 ? "NULL" : sql.List(roots))})))";
    }

    private static string Escape(string tag) => tag.Replace("!", "!!").Replace("%", "!%").Replace("_", "!_");

    private static StepTask ReadStep(DbDataReader r, long token) =>
        new(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetInt32(5), token)
        {
            Lost = r.GetInt32(6),
            TraceParent = Text(r, 7),
            Items = r.GetInt32(8),
        };

    private const string StepReturning =
        " RETURNING id, execution_id, position, name, input, attempt, lost, trace_parent, items";

    /// <summary>A claim's update of a step: a step whose lease expired while it ran was lost with its worker.</summary>
    private const string Reclaim = "attempt = CASE WHEN running = 1 THEN attempt + 1 ELSE attempt END, " +
        "lost = CASE WHEN running = 1 THEN lost + 1 ELSE lost END";

    /// <summary>The last claim found nothing: the next one looks first, with a read, and takes no write lock (and
    /// commits nothing) while nothing is ready.</summary>
    private volatile bool _idle;

    /// <inheritdoc />
    public async Task<ClaimResult> ClaimAsync(ClaimRequest q, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(q);
        if (_idle && await NothingReadyAsync(q, ct).ConfigureAwait(false) is { } now)
            return new ClaimResult(now, [], []);
        var claimed = await TakeAsync(q, ct).ConfigureAwait(false);
        _idle = claimed.Decisions.Count == 0 && claimed.Steps.Count == 0;
        return claimed;
    }

    /// <summary>The store's time when no decision or step is ready for anyone (whatever its route or function), else
    /// null.</summary>
    private Task<DateTimeOffset?> NothingReadyAsync(ClaimRequest q, CancellationToken ct) => ReadAsync(async s =>
    {
        var sql = new Sql();
        var now = sql.P(s.Now);
        var ready = new List<string>();
        if (q.MaxDecisions > 0)
            ready.Add($"EXISTS (SELECT 1 FROM {_t}stent_executions WHERE runnable_at <= {now} AND " +
                $"(lease_until IS NULL OR lease_until < {now}) AND state IN {Live})");
        if (q.MaxSteps > 0)
            ready.Add($"EXISTS (SELECT 1 FROM {_t}stent_steps WHERE {string.Format(null, Ready, now)})");
        if (ready.Count == 0) return (DateTimeOffset?)Time(s.Now);
        sql.Append($"SELECT CASE WHEN {string.Join(" OR ", ready)} THEN 1 ELSE 0 END");
        var any = (await s.QueryAsync(sql, r => Convert.ToInt32(r.GetValue(0), System.Globalization.CultureInfo
            .InvariantCulture), ct).ConfigureAwait(false))[0];
        return any == 0 ? Time(s.Now) : (DateTimeOffset?)null;
    }, ct, clock: true);

    /// <summary>Claims in one write transaction.</summary>
    private Task<ClaimResult> TakeAsync(ClaimRequest q, CancellationToken ct) => WriteAsync("claim", async s =>
    {
        var token = Random.Shared.NextInt64(1, long.MaxValue);
        var until = s.Now + Ms(q.Lease);
        var decisions = q.MaxDecisions > 0 ? await ClaimDecisionsAsync(s, q, token, until, ct).ConfigureAwait(false) :
            [];
        var steps = new List<StepTask>();
        if (q.MaxSteps > 0)
        {
            var sql = new Sql();
            var now = sql.P(s.Now);
            // Steps waiting to run and steps whose runner's lease expired, each taken in claim order from an index
            // (stent_steps_next serves the first): a claim reads the rows it takes, however many are pending.
            var only = $"max_concurrent IS NULL AND max_per_second IS NULL{Routing(sql, q)}" +
                $"{Names(sql, "name", q.Functions, q.Workflows)} ORDER BY priority DESC, id LIMIT {sql.P(q.MaxSteps)}" +
                _dialect.SkipLocked;
            sql.Append($"""
                UPDATE {_t}stent_steps SET running = 1, {Reclaim},
                    lease_token = {sql.P(token)}, lease_until = {sql.P(until)}, worker = {sql.P(q.WorkerId)}
                WHERE id IN (SELECT id FROM (
                    SELECT id, priority FROM (SELECT id, priority FROM {_t}stent_steps
                        WHERE running = 0 AND available_at <= {now} AND {only}) AS waiting
                    UNION ALL SELECT id, priority FROM (SELECT id, priority FROM {_t}stent_steps
                        WHERE running = 1 AND lease_until < {now} AND {only}) AS lost) AS ready
                    ORDER BY priority DESC, id LIMIT {sql.P(q.MaxSteps)})
                """);
            sql.Append(StepReturning);
            steps.AddRange(await s.QueryAsync(sql, r => ReadStep(r, token), ct).ConfigureAwait(false));
            if (steps.Count < q.MaxSteps)
                steps.AddRange(await ClaimCappedAsync(s, q, q.MaxSteps - steps.Count, token, ct).ConfigureAwait(false));
        }
        return new ClaimResult(Time(s.Now), decisions, steps);
    }, ct);

    private async Task<List<DecisionTask>> ClaimDecisionsAsync(Session s, ClaimRequest q, long token, long until,
        CancellationToken ct)
    {
        var sql = new Sql();
        var now = sql.P(s.Now);
        sql.Append($"""
            UPDATE {_t}stent_executions SET lease_token = {sql.P(token)}, lease_until = {sql.P(until)},
                lease_owner = {sql.P(q.WorkerId)}, updated_at = {now}
            WHERE id IN (SELECT id FROM {_t}stent_executions WHERE runnable_at <= {now}
                AND (lease_until IS NULL OR lease_until < {now}) AND state IN
                    {Live}{Routing(sql, q)}{Workflows(sql, q)}
                ORDER BY priority DESC, runnable_at LIMIT {sql.P(q.MaxDecisions)}{_dialect.SkipLocked})
            RETURNING id, deadline, cancel_requested, stream_version, queue, tags, priority, root, trace_parent
            """);
        var claimed = await s.QueryAsync(sql, r => (Id: r.GetString(0), Deadline: Time(r, 1), Cancel: r.GetInt32(2) !=
            0,
            Version: r.GetInt64(3), Route: new Route(Text(r, 4), Tags(r.GetString(5)), r.GetInt32(6)), Root:
                r.GetString(7), Trace: Text(r, 8)), ct)
            .ConfigureAwait(false);
        if (claimed.Count == 0) return [];
        var read = new Sql();
        var ids = read.List(claimed.Select(c => c.Id));
        read.Append($"SELECT execution_id, id, data FROM {_t}stent_inbox WHERE execution_id IN ({ids}) ORDER BY id;");
        read.Append($"SELECT execution_id, position FROM {_t}stent_timers WHERE execution_id IN ({ids}) ");
        read.Append($"AND due_at <= {read.P(s.Now)} ORDER BY due_at, position");
        var inbox = new List<(string Execution, (long, HistoryEvent) Item)>();
        var timers = new List<(string Execution, string Position)>();
        await s.ReadSetsAsync(read, [r => inbox.Add((r.GetString(0), (r.GetInt64(1), StoreJson.Event(r.GetString(2))))),
            r => timers.Add((r.GetString(0), r.GetString(1)))], ct).ConfigureAwait(false);
        var inboxBy = inbox.ToLookup(i => i.Execution, i => i.Item);
        var timersBy = timers.ToLookup(t => t.Execution, t => t.Position);
        return claimed.Select(c => new DecisionTask(c.Id, token, c.Version, [.. inboxBy[c.Id]], [.. timersBy[c.Id]],
            c.Deadline,
            c.Cancel, c.Route) { Root = c.Root, TraceParent = c.Trace }).ToList();
    }

    /// <summary>
    /// Claims capped or rate-limited steps in one round trip: serialized across processes (where the database has
    /// several writers), counting each function's running steps and its starts in the current one-second window, so a
    /// cap or a rate holds exactly. Full functions are skipped, so their backlog never blocks other work. Windows and
    /// leases count from when the claim holds the lock (the dialect's clock as the statement runs).
    /// </summary>
    private async Task<List<StepTask>> ClaimCappedAsync(Session s, ClaimRequest q, int room, long token,
        CancellationToken ct)
    {
        var sql = new Sql();
        var now = _dialect.Clock ?? sql.P(s.Now);
        var names = Names(sql, "name", q.Functions, q.Workflows);
        var skip = 0;
        if (_dialect.SerializeCaps is { } serialize)
        {
            // The lock only when there is capped work to claim: other claims never wait for it.
            sql.Append($"SELECT {serialize} WHERE EXISTS (SELECT 1 FROM {_t}stent_steps WHERE {Capped} AND " +
                $"{string.Format(null, Ready, now)}{names});");
            skip = 1;
        }
        const long unlimited = 1_000_000_000;
        sql.Append($"""
            WITH caps AS (
                SELECT name, max(max_concurrent) AS cap, max(max_per_second) AS rate,
                    sum(CASE WHEN running = 1 AND lease_until >= {now} THEN 1 ELSE 0 END) AS busy
                FROM {_t}stent_steps WHERE {Capped} GROUP BY name),
            budget AS (
                SELECT c.name AS fn, CASE WHEN c.cap IS NULL THEN {unlimited} ELSE c.cap - c.busy END AS by_cap,
                    CASE WHEN c.rate IS NULL THEN {unlimited} ELSE c.rate - coalesce((SELECT w.used FROM
                        {_t}stent_rates w WHERE w.name = c.name AND w.window_start > {now} - 1000), 0) END AS by_rate
                FROM caps c),
            ranked AS (
                SELECT s.id, s.priority, b.by_cap, b.by_rate,
                    row_number() OVER (PARTITION BY s.name ORDER BY s.priority DESC, s.id) AS rank
                FROM {_t}stent_steps s JOIN budget b ON b.fn = s.name
                WHERE {Capped} AND {string.Format(null, Ready, now)}{Routing(sql, q)}{names}),
            picked AS (
                SELECT id FROM ranked WHERE rank <= by_cap AND rank <= by_rate ORDER BY priority DESC, id
                LIMIT {sql.P(room)})
            UPDATE {_t}stent_steps SET running = 1, {Reclaim}, lease_token = {sql.P(token)},
                lease_until = {now} + {sql.P(Ms(q.Lease))}, worker = {sql.P(q.WorkerId)}
            WHERE id IN (SELECT id FROM picked){StepReturning};
            """);
        // The starts counted in each rated function's window: a new window when the last one is over.
        sql.Append($"""
            INSERT INTO {_t}stent_rates (name, window_start, used)
                SELECT name, {now}, count(*) FROM {_t}stent_steps
                WHERE lease_token = {sql.P(token)} AND running = 1 AND max_per_second IS NOT NULL GROUP BY name
            ON CONFLICT (name) DO UPDATE SET
                window_start = CASE WHEN stent_rates.window_start > {now} - 1000 THEN stent_rates.window_start
                    ELSE excluded.window_start END,
                used = CASE WHEN stent_rates.window_start > {now} - 1000 THEN stent_rates.used + excluded.used
                    ELSE excluded.used END
            """);
        var steps = new List<StepTask>();
        await s.ReadSetsAsync(sql, [.. Enumerable.Repeat<Action<DbDataReader>>(_ => { }, skip),
            r => steps.Add(ReadStep(r, token))], ct).ConfigureAwait(false);
        return steps;
    }
}
