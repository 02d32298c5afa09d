// Claims, decision commits, step outcomes, lease renewal, signals and cancellation on SQLite.
using Microsoft.Data.Sqlite;
using Stent.Replay;
using Stent.Storage;

namespace Stent.Sqlite;

public sealed partial class SqliteWorkStore
{
    private static long NextToken(SqliteConnection c, SqliteTransaction tx) =>
        Scalar<long>(c, tx, "UPDATE counters SET value = value + 1 WHERE name = 'lease' RETURNING value");

    /// <inheritdoc />
    public Task<ClaimResult> ClaimAsync(ClaimRequest q, CancellationToken ct = default) => Task.FromResult(Write((c, tx, now) =>
    {
        var decisions = new List<DecisionTask>();
        if (q.MaxDecisions > 0)
        {
            var candidates = new List<(string Id, long? Deadline, bool Cancel, long Version)>();
            using (var cmd = Command(c, tx, """
                SELECT id, deadline, cancel_requested, queue, tags, stream_version FROM executions
                WHERE runnable_at <= $now AND (lease_until IS NULL OR lease_until < $now) AND state IN ('Pending', 'Running')
                ORDER BY priority DESC, runnable_at LIMIT $n
                """, ("$now", now), ("$n", q.MaxDecisions * 4)))
            using (var r = cmd.ExecuteReader())
                while (r.Read() && candidates.Count < q.MaxDecisions)
                    if (StoreJson.Routed(r.IsDBNull(3) ? null : r.GetString(3), StoreJson.Tags(r.GetString(4)), q.Queues, q.Tags))
                        candidates.Add((r.GetString(0), r.IsDBNull(1) ? null : r.GetInt64(1), r.GetInt64(2) != 0, r.GetInt64(5)));
            foreach (var (id, deadline, cancel, version) in candidates)
            {
                var token = NextToken(c, tx);
                Exec(c, tx, "UPDATE executions SET lease_token = $t, lease_until = $until WHERE id = $id", ("$t", token), ("$until", now + (long)q.Lease.TotalMilliseconds), ("$id", id));
                var inbox = new List<(long, HistoryEvent)>();
                using (var cmd = Command(c, tx, "SELECT id, data FROM inbox WHERE execution_id = $id ORDER BY id", ("$id", id)))
                using (var r = cmd.ExecuteReader())
                    while (r.Read()) inbox.Add((r.GetInt64(0), StoreJson.Event(r.GetString(1))));
                var fired = new List<string>();
                using (var cmd = Command(c, tx, "SELECT position FROM timers WHERE execution_id = $id AND due_at <= $now ORDER BY due_at, position", ("$id", id), ("$now", now)))
                using (var r = cmd.ExecuteReader())
                    while (r.Read()) fired.Add(r.GetString(0));
                decisions.Add(new DecisionTask(id, token, version, inbox, fired, deadline is { } d ? Time(d) : null, cancel));
            }
        }

        var steps = new List<StepTask>();
        if (q.MaxSteps > 0)
        {
            // Limits per function: a concurrency cap (running steps with a live lease) and a rate (starts in the current one-second window).
            var running = new Dictionary<string, long>(StringComparer.Ordinal);
            var caps = new Dictionary<string, long>(StringComparer.Ordinal);
            var rates = new Dictionary<string, long>(StringComparer.Ordinal);
            var used = new Dictionary<string, (long Start, long Used)>(StringComparer.Ordinal);
            using (var cmd = Command(c, tx, """
                SELECT name, max(max_concurrent), max(max_per_second), sum(CASE WHEN running = 1 AND lease_until >= $now THEN 1 ELSE 0 END)
                FROM steps WHERE max_concurrent IS NOT NULL OR max_per_second IS NOT NULL GROUP BY name
                """, ("$now", now)))
            using (var r = cmd.ExecuteReader())
                while (r.Read())
                {
                    var name = r.GetString(0);
                    if (!r.IsDBNull(1)) caps[name] = r.GetInt64(1);
                    if (!r.IsDBNull(2)) rates[name] = r.GetInt64(2);
                    running[name] = r.GetInt64(3);
                }
            using (var cmd = Command(c, tx, "SELECT name, window_start, used FROM rates WHERE window_start > $start", ("$start", now - 1000)))
            using (var r = cmd.ExecuteReader())
                while (r.Read()) used[r.GetString(0)] = (r.GetInt64(1), r.GetInt64(2));
            bool Full(string name) =>
                (caps.TryGetValue(name, out var cap) && running[name] >= cap) ||
                (rates.TryGetValue(name, out var rate) && used.TryGetValue(name, out var u) && u.Used >= rate);
            var full = caps.Keys.Concat(rates.Keys).Distinct().Where(Full).ToList();
            var exclude = full.Count == 0 ? "" : $"AND name NOT IN ({string.Join(",", full.Select((_, i) => $"$f{i}"))})";
            var args = new List<(string, object?)> { ("$now", now), ("$n", q.MaxSteps * 4) };
            args.AddRange(full.Select((name, i) => ($"$f{i}", (object?)name)));
            var picked = new List<(long Id, string Exec, string Pos, string Name, string Input, int Attempt, bool Reclaim)>();
            using (var cmd = Command(c, tx, $"""
                SELECT id, execution_id, position, name, input, attempt, running, queue, tags FROM steps
                WHERE ((running = 0 AND available_at <= $now) OR (running = 1 AND lease_until < $now)) {exclude}
                ORDER BY priority DESC, id LIMIT $n
                """, [.. args]))
            using (var r = cmd.ExecuteReader())
                while (r.Read() && picked.Count < q.MaxSteps)
                {
                    var name = r.GetString(3);
                    if (!StoreJson.Routed(r.IsDBNull(7) ? null : r.GetString(7), StoreJson.Tags(r.GetString(8)), q.Queues, q.Tags)) continue;
                    if (Full(name)) continue;
                    if (caps.ContainsKey(name)) running[name]++;
                    if (rates.ContainsKey(name)) used[name] = used.TryGetValue(name, out var u) ? (u.Start, u.Used + 1) : (now, 1);
                    picked.Add((r.GetInt64(0), r.GetString(1), r.GetString(2), name, r.GetString(4), r.GetInt32(5), r.GetInt64(6) == 1));
                }
            foreach (var (name, u) in used.Where(kv => rates.ContainsKey(kv.Key)))
                Exec(c, tx, "INSERT OR REPLACE INTO rates (name, window_start, used) VALUES ($n, $s, $u)", ("$n", name), ("$s", u.Start), ("$u", u.Used));
            foreach (var p in picked)
            {
                var token = NextToken(c, tx);
                var attempt = p.Reclaim ? p.Attempt + 1 : p.Attempt;
                Exec(c, tx, "UPDATE steps SET running = 1, attempt = $a, lease_token = $t, lease_until = $until WHERE id = $id",
                    ("$a", attempt), ("$t", token), ("$until", now + (long)q.Lease.TotalMilliseconds), ("$id", p.Id));
                steps.Add(new StepTask(p.Id, p.Exec, p.Pos, p.Name, p.Input, attempt, token));
            }
        }
        return new ClaimResult(Time(now), decisions, steps);
    }));

    /// <inheritdoc />
    public Task<bool> CommitDecisionAsync(DecisionCommit d, CancellationToken ct = default) => Task.FromResult(Write((c, tx, now) =>
    {
        using (var check = Command(c, tx, "SELECT lease_token, lease_until, stream_version FROM executions WHERE id = $id", ("$id", d.ExecutionId)))
        using (var r = check.ExecuteReader())
        {
            if (!r.Read() || r.GetInt64(0) != d.LeaseToken || r.IsDBNull(1) || r.GetInt64(1) < now || r.GetInt64(2) != d.ExpectedVersion) return false;
        }
        var version = d.ExpectedVersion;
        foreach (var e in d.Events)
            Exec(c, tx, "INSERT INTO events (execution_id, version, data) VALUES ($id, $v, $data)", ("$id", d.ExecutionId), ("$v", ++version), ("$data", StoreJson.Event(e)));
        foreach (var i in d.FoldedInbox) Exec(c, tx, "DELETE FROM inbox WHERE id = $i", ("$i", i));
        foreach (var p in d.FiredTimers) Exec(c, tx, "DELETE FROM timers WHERE execution_id = $id AND position = $p", ("$id", d.ExecutionId), ("$p", p));
        foreach (var s in d.Steps)
            Exec(c, tx, """
                INSERT INTO steps (execution_id, position, name, input, queue, tags, priority, max_concurrent, max_per_second, available_at)
                VALUES ($id, $pos, $name, $input, $queue, $tags, $prio, $cap, $rate, $now)
                """, ("$id", d.ExecutionId), ("$pos", s.Position), ("$name", s.Name), ("$input", s.Input), ("$queue", s.Queue),
                ("$tags", StoreJson.Tags(s.Tags)), ("$prio", s.Priority), ("$cap", s.MaxConcurrent), ("$rate", s.MaxPerSecond), ("$now", now));
        foreach (var p in d.DropSteps)
        {
            Exec(c, tx, "DELETE FROM steps WHERE execution_id = $id AND position = $p", ("$id", d.ExecutionId), ("$p", p));
            RequestCancel(c, tx, ChildStarted.ChildId(d.ExecutionId, p), now);
        }
        foreach (var child in d.Children)
            if (Scalar<long>(c, tx, "SELECT count(*) FROM executions WHERE id = $id", ("$id", child.Id)) == 0) Insert(c, tx, child, now, null);
        foreach (var (p, due) in d.Timers)
            Exec(c, tx, "INSERT OR REPLACE INTO timers (execution_id, position, due_at) VALUES ($id, $p, $due)", ("$id", d.ExecutionId), ("$p", p), ("$due", Ms(due)));
        var finished = d.Finished;
        if (finished)
        {
            Exec(c, tx, "DELETE FROM steps WHERE execution_id = $id", ("$id", d.ExecutionId));
            Exec(c, tx, "DELETE FROM timers WHERE execution_id = $id", ("$id", d.ExecutionId));
            Exec(c, tx, "UPDATE executions SET cancel_requested = 1, runnable_at = $now WHERE parent_id = $id AND state IN ('Pending', 'Running')",
                ("$now", now), ("$id", d.ExecutionId));
            using var parent = Command(c, tx, """
                SELECT p.id, e.parent_position FROM executions e JOIN executions p ON p.id = e.parent_id
                WHERE e.id = $id AND p.state IN ('Pending', 'Running')
                """, ("$id", d.ExecutionId));
            using var r = parent.ExecuteReader();
            if (r.Read())
            {
                var parentId = r.GetString(0);
                Exec(c, tx, "INSERT INTO inbox (execution_id, data) VALUES ($e, $data)", ("$e", parentId), ("$data", StoreJson.Event(d.EndedAt(r.GetString(1)))));
                Exec(c, tx, "UPDATE executions SET runnable_at = $now WHERE id = $e", ("$now", now), ("$e", parentId));
            }
        }
        Exec(c, tx, """
            UPDATE executions SET state = $state, updated_at = $now, stream_version = $v, lease_until = NULL,
              completed_at = CASE WHEN $fin THEN $now END, output = $out, error = $err,
              runnable_at = CASE WHEN $fin THEN NULL
                WHEN cancel_requested = 1 OR EXISTS (SELECT 1 FROM inbox WHERE execution_id = $id AND id NOT IN (SELECT value FROM json_each($folded))) THEN $now
                ELSE (SELECT min(t) FROM (SELECT min(due_at) AS t FROM timers WHERE execution_id = $id UNION ALL SELECT deadline)) END
            WHERE id = $id
            """, ("$state", d.State.ToString()), ("$now", now), ("$v", version), ("$fin", finished), ("$out", d.Output),
            ("$err", StoreJson.Error(d.Error)), ("$id", d.ExecutionId), ("$folded", System.Text.Json.JsonSerializer.Serialize(d.FoldedInbox)));
        return true;
    }, wakesWorkers: true));

    /// <inheritdoc />
    public Task<IReadOnlyList<bool>> CompleteStepsAsync(IReadOnlyList<StepOutcome> outcomes, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<bool>>(Write((c, tx, now) => outcomes.Select(o =>
        {
            string execution;
            using (var cmd = Command(c, tx, "SELECT execution_id FROM steps WHERE id = $id AND running = 1 AND lease_token = $t AND lease_until >= $now",
                       ("$id", o.Step.Id), ("$t", o.Step.LeaseToken), ("$now", now)))
            {
                if (cmd.ExecuteScalar() is not string e) return false;
                execution = e;
            }
            Exec(c, tx, "INSERT INTO inbox (execution_id, data) VALUES ($e, $data)", ("$e", execution), ("$data", StoreJson.Event(o.Event)));
            if (o.Event is StepAttemptFailed retry)
                Exec(c, tx, "UPDATE steps SET running = 0, attempt = attempt + 1, available_at = $at, lease_until = NULL WHERE id = $id", ("$at", Ms(retry.RetryAt)), ("$id", o.Step.Id));
            else
            {
                if (o.Event is StepFailed)
                    Exec(c, tx, """
                        INSERT INTO dead_letters (execution_id, position, name, input, failure, at)
                        SELECT execution_id, position, name, input, $f, $now FROM steps WHERE id = $id
                        """, ("$f", StoreJson.Event(o.Event)), ("$now", now), ("$id", o.Step.Id));
                Exec(c, tx, "DELETE FROM steps WHERE id = $id", ("$id", o.Step.Id));
                Exec(c, tx, """
                    UPDATE executions SET runnable_at = min(coalesce(runnable_at, $now + 86400000000), $now +
                        CASE WHEN EXISTS (SELECT 1 FROM steps WHERE execution_id = $e) THEN min($max, stream_version / $per) ELSE 0 END)
                    WHERE id = $e AND state IN ('Pending', 'Running')
                    """, ("$now", now), ("$e", execution), ("$max", (long)WakeDelay.Max.TotalMilliseconds), ("$per", WakeDelay.EventsPerMillisecond));
            }
            return true;
        }).ToList(), wakesWorkers: true));

    /// <inheritdoc />
    public Task<IReadOnlyList<long>> RenewLeasesAsync(IReadOnlyList<LeasedStep> steps, TimeSpan lease, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<long>>(Write((c, tx, now) => steps.Where(s =>
            Exec(c, tx, "UPDATE steps SET lease_until = $until WHERE id = $id AND running = 1 AND lease_token = $t AND lease_until >= $now",
                ("$until", now + (long)lease.TotalMilliseconds), ("$id", s.Id), ("$t", s.LeaseToken), ("$now", now)) == 0).Select(s => s.Id).ToList()));

    /// <inheritdoc />
    public Task SignalAsync(string executionId, string name, string payload, CancellationToken ct = default) => Task.FromResult(Write((c, tx, now) =>
    {
        var state = State(c, tx, executionId) ?? throw new KeyNotFoundException($"No execution '{executionId}' to signal.");
        if (state is not ("Pending" or "Running")) throw new InvalidOperationException($"Execution '{executionId}' has finished ({state}); signal '{name}' was not delivered.");
        var seq = Scalar<long>(c, tx, "UPDATE executions SET signals = signals + 1, runnable_at = $now WHERE id = $id RETURNING signals", ("$now", now), ("$id", executionId));
        Exec(c, tx, "INSERT INTO inbox (execution_id, data) VALUES ($e, $data)", ("$e", executionId), ("$data", StoreJson.Event(new SignalReceived(name, payload, seq))));
        return true;
    }, wakesWorkers: true));

    /// <inheritdoc />
    public Task<bool> CancelAsync(string executionId, CancellationToken ct = default) => Task.FromResult(Write((c, tx, now) =>
    {
        _ = State(c, tx, executionId) ?? throw new KeyNotFoundException($"No execution '{executionId}' to cancel.");
        return RequestCancel(c, tx, executionId, now);
    }, wakesWorkers: true));

    private static bool RequestCancel(SqliteConnection c, SqliteTransaction tx, string executionId, long now) =>
        Exec(c, tx, "UPDATE executions SET cancel_requested = 1, runnable_at = $now WHERE id = $id AND state IN ('Pending', 'Running')", ("$now", now), ("$id", executionId)) > 0;

    private static string? State(SqliteConnection c, SqliteTransaction tx, string id)
    {
        using var cmd = Command(c, tx, "SELECT state FROM executions WHERE id = $id", ("$id", id));
        return cmd.ExecuteScalar() as string;
    }
}
