// Writes under leases: a decision's commit, step outcomes (group commit), lease renewal.
using System.Data.Common;
using Stent.Replay;

namespace Stent.Storage.Relational;

public partial class RelationalWorkStore
{
    /// <inheritdoc />
    public Task<DecisionResult> CommitDecisionAsync(DecisionCommit d, CancellationToken ct = default)
    {
        // A decision without children or final failures that fits in one command, its events included (a step's outcome
        // and the next step, say), is written by one: nothing it writes depends on what its first statements return,
        // and a refused commit rolls all of it back. Where the database runs such a command as a transaction of its
        // own, it is sent so: one round trip (unless a test watches for the moment before each commit: a refused
        // decision would have reached it). Otherwise the execution's row and the steps whose outcomes it records are
        // taken first (in one command when they fit), and the rest follows. A decision with more events than the stream
        // store appends in one command (a large fan-out's first) takes the second way, so its events are turned into
        // JSON a command at a time.
        var whole = d.Children.Count == 0 && !d.Outcomes.SelectMany(o => HistoryEvent.Flatten([o.Event]))
            .Any(e => e is StepFailed) && RowParameters + Parameters(d) <= _dialect.MaxParameters
            && d.Events.Count <= _dialect.Streams.MaxAppendInCommand;
        return WriteAsync("decision", s => CommitDecisionAsync(s, d, whole, ct), ct,
            oneTrip: whole && _dialect.ImplicitTransactions && BeforeCommit is null);
    }

    /// <summary>At most how many parameters the update of a decision's execution row binds.</summary>
    private const int RowParameters = 32;

    private async Task<DecisionResult> CommitDecisionAsync(Session s, DecisionCommit d, bool whole,
        CancellationToken ct)
    {
        var id = d.ExecutionId;
        var row = new Sql();
        // Without a lease, the decision holds only if nothing else came in since: nobody leases the execution and
        // its inbox is empty (a signal or a retried attempt is folded by a claimed decision, in order).
        var lease = d.Optimistic ? $"(lease_until IS NULL OR lease_until < {row.P(s.Now)}) AND state IN {Live} AND " +
                $"NOT EXISTS (SELECT 1 FROM {_t}stent_inbox i WHERE i.execution_id = {row.P(id)})"
            : $"lease_token = {row.P(d.LeaseToken)} AND lease_until >= {row.P(s.Now)}";
        // When the execution is next due depends on its timers and inbox: a decision that changes neither sets it in
        // this same update where writes run one at a time. Elsewhere a signal or step outcome committed by another
        // writer between this statement's start and its lock on the row is not in what the update reads of the inbox
        // (it rechecks the row, not the inbox), but the row is as that writer left it, woken: a decision without a
        // lease keeps the earlier of the two times (before it, the row was due at its next timer or deadline at the
        // earliest, which such a decision leaves in place). A leased decision's row still holds the time its claim
        // found due, so its commit's last statement sets the time instead.
        var due = (_dialect.WritesOneAtATime || d.Optimistic) && d.FoldedInbox.Count == 0
            && d.FiredTimers.Count == 0 && d.Timers.Count == 0;
        var next = due ? NextDue(row, d, row.P(id), row.P(s.Now), inboxEmpty: d.Optimistic) : "";
        if (due && !_dialect.WritesOneAtATime && !d.Finished)
            next = $"nullif({_dialect.Least}(coalesce(runnable_at, {long.MaxValue}), coalesce({next}, " +
                $"{long.MaxValue})), {long.MaxValue})";
        var update = $"""
            UPDATE {_t}stent_executions SET state = {row.P(d.State.ToString())}, updated_at = {row.P(s.Now)},
                stream_version = {row.P(d.ExpectedVersion + d.Events.Count)}, lease_until = NULL,
                completed_at = {(d.Finished ? row.P(s.Now) : "NULL")}, output = {row.P(d.Output)},
                error = {row.P(StoreJson.Error(d.Error))}, awaiting = {row.P(StoreJson.Awaiting(d.Awaiting))}
                {(due ? $", runnable_at = {next}" : "")}
            WHERE id = {row.P(id)} AND {lease} AND stream_version = {row.P(d.ExpectedVersion)} RETURNING id
            """;
        row.Append(s.OneTrip ? Sql.Refusal(update, "id", 1, 1) : update);
        var claimed = d.Claim?.Positions.ToHashSet(StringComparer.Ordinal) ?? [];
        var mine = d.Claim is not null && !d.Finished ? d.Steps.Where(st => claimed.Contains(st.Position)).ToList()
            : [];
        var token = Random.Shared.NextInt64(1, long.MaxValue);
        var takeWith = d.Outcomes.Count > 0 && row.ParameterCount + 2 * d.Outcomes.Count <= _dialect.MaxParameters;
        // Down a chain, the step whose outcome this records gives its row to the one step this worker runs next.
        var recycle = whole && takeWith && mine.Count == 1 && d.Outcomes is [{ Event: StepCompleted }];
        if (takeWith)
        {
            var take = recycle ? Recycle(row, d, d.Outcomes[0], mine[0], s.Now, token)
                : TakeOutcomes(row, d.Outcomes, s.Now);
            row.EndStatement().Append(s.OneTrip ? Sql.Refusal(take, TakenColumns, 5, d.Outcomes.Count) : take);
        }
        var appended = false;
        if (whole)
        {
            await WritesAsync(row.EndStatement(), d, s, claimed, due, flush: false, ct).ConfigureAwait(false);
            if (mine.Count > 0 && !recycle)
                row.EndStatement().Append(ClaimedInsert(row, d, d.Claim!, mine, s.Now, token));
            // The events go last, in the same command where the stream store can write them so.
            appended = d.Events.Count > 0 && _dialect.Streams.TryAppend(row.EndStatement(),
                new StreamAppend(id, d.ExpectedVersion, d.Events));
            if (s.OneTrip && d.Events.Count > 0 && !appended)
                throw new InvalidOperationException("A dialect with implicit transactions needs a stream store that " +
                    "appends within a command.");
        }
        var (updated, taken, ids) = (new List<string>(), new List<TakenStep>(), new Dictionary<string, long>());
        Action<DbDataReader> readId = r => ids[r.GetString(1)] = r.GetInt64(0);
        List<Action<DbDataReader>> sets = [r => updated.Add(r.GetString(0))];
        if (takeWith) sets.Add(r =>
        {
            taken.Add(ReadTaken(r));
            if (recycle) ids[taken[^1].Position] = taken[^1].Id;
        });
        if (whole && mine.Count > 0 && !recycle) sets.Add(readId);
        if (s.OneTrip && s.Wakes && _dialect.Notify is { } notify) row.EndStatement().Append(notify);
        try
        {
            await s.ReadSetsAsync(row, sets, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (s.OneTrip && Sql.IsRefusal(e))
        {
            s.Refused = true;
            return DecisionResult.Refused;
        }
        if (!takeWith && d.Outcomes.Count > 0 && updated.Count == 1)
        {
            var take = new Sql();
            taken = await s.QueryAsync(take.Append(TakeOutcomes(take, d.Outcomes, s.Now)), ReadTaken, ct)
                .ConfigureAwait(false);
        }
        if (updated.Count != 1 || taken.Count != d.Outcomes.Count)
        {
            s.Refused = true;
            return DecisionResult.Refused;
        }
        if (!whole)
        {
            if (d.Children.Count > 0) await InsertAsync(s, d.Children.Select(c => (c, (string?)null)).ToList(),
                ct).ConfigureAwait(false);
            var sql = new Sql();
            var byId = taken.ToDictionary(t => t.Id);
            DeadLetters(sql, d.Outcomes.SelectMany(o => Dead(byId[o.Step.Id], o)), s.Now);
            sql = await WritesAsync(sql, d, s, claimed, due, flush: true, ct).ConfigureAwait(false);
            // The steps this worker runs at once go in with the rest, in the same command when it fits in one.
            if (mine.Count > 0 && sql.ParameterCount + mine.Count * 13 + 8 > _dialect.MaxParameters)
            {
                await s.ExecAsync(sql, ct).ConfigureAwait(false);
                sql = new Sql();
            }
            if (mine.Count == 0) await s.ExecAsync(sql, ct).ConfigureAwait(false);
            else await s.ReadSetsAsync(sql.Prepend(ClaimedInsert(sql, d, d.Claim!, mine, s.Now, token) + ";"),
                [readId], ct).ConfigureAwait(false);
        }
        if (d.Events.Count > 0 && !appended)
            await s.StreamsAsync(streams => streams.AppendAsync(s.Connection, s.Tx!,
                [new StreamAppend(id, d.ExpectedVersion, d.Events)], ct)).ConfigureAwait(false);
        return new DecisionResult(true, [.. mine.Select(st => new StepTask(ids[st.Position], d.ExecutionId,
            st.Position, st.Name, st.Input, 1, token) { TraceParent = d.TraceParent, Items = st.Items })]);
    }

    /// <summary>At most how many parameters <see cref="WritesAsync"/>, the outcomes' removal, the claimed steps'
    /// insert and the events' append bind for <paramref name="d"/>.</summary>
    private static int Parameters(DecisionCommit d) => 20 + 2 * d.Outcomes.Count + 14 * d.Steps.Count +
        2 * d.Events.Count + d.FoldedInbox.Count + d.FiredTimers.Count + 2 * d.Timers.Count + d.DropSteps.Count +
        3 * d.Messages.Count + d.Cancel.Count;

    /// <summary>
    /// Appends to <paramref name="sql"/> what a decision writes besides its execution's row, its steps' outcomes and
    /// the steps the committing worker runs itself (<paramref name="claimed"/>): folded inbox items and fired timers
    /// removed, new steps and timers, dropped steps, messages, cancellations, and when the execution is next due
    /// (unless <paramref name="dueSet"/>: the row's update set it). With <paramref name="flush"/>, a large fan-out is
    /// written a command at a time, not built whole in memory first; returns the command being built.
    /// </summary>
    private async Task<Sql> WritesAsync(Sql sql, DecisionCommit d, Session s, HashSet<string> claimed, bool dueSet,
        bool flush, CancellationToken ct)
    {
        var id = d.ExecutionId;
        var self = sql.P(id);
        var now = sql.P(s.Now);
        var rows = Math.Clamp(_dialect.MaxParameters / 10, 1, 200);
        foreach (var chunk in d.FoldedInbox.Chunk(rows * 4))
            sql.Append($"DELETE FROM {_t}stent_inbox WHERE id IN ({sql.List(chunk)});");
        if (d.FiredTimers.Count > 0)
            sql.Append($"DELETE FROM {_t}stent_timers WHERE execution_id = {self} AND position IN " +
                $"({sql.List(d.FiredTimers)});");
        foreach (var chunk in d.Steps.Where(st => !claimed.Contains(st.Position)).Chunk(rows))
        {
            if (flush && sql.ParameterCount >= _dialect.MaxParameters)
            {
                await s.ExecAsync(sql, ct).ConfigureAwait(false);
                sql = new Sql();
                (self, now) = (sql.P(id), sql.P(s.Now));
            }
            var root = d.Root is null ? $"(SELECT root FROM {_t}stent_executions WHERE id = {self})" : sql.P(d.Root);
            var trace = sql.P(d.TraceParent);
            sql.Append($"""
                INSERT INTO {_t}stent_steps (execution_id, position, name, input, queue, tags, priority, max_concurrent,
                    max_per_second, available_at, root, trace_parent, items) VALUES
                """);
            sql.Append(string.Join(", ", chunk.Select(st => $"({self}, {sql.P(st.Position)}, {sql.P(st.Name)}, " +
                $"{sql.P(st.Input)}, "
                + $"{sql.P(st.Queue)}, {sql.P(Tags(st.Tags))}, {sql.P(st.Priority)}, {sql.P(st.MaxConcurrent)}, "
                + $"{sql.P(st.MaxPerSecond)}, {now}, {root}, {trace}, {sql.P(st.Items)})")));
            sql.Append(";");
        }
        if (d.Timers.Count > 0)
        {
            sql.Append($"INSERT INTO {_t}stent_timers (execution_id, position, due_at) VALUES ");
            sql.Append(string.Join(", ", d.Timers.Select(t => $"({self}, {sql.P(t.Position)}, {sql.P(Ms(t.DueAt))})")));
            sql.Append(" ON CONFLICT (execution_id, position) DO UPDATE SET due_at = excluded.due_at;");
        }
        if (d.DropSteps.Count > 0)
            sql.Append($"DELETE FROM {_t}stent_steps WHERE execution_id = {self} AND position IN " +
                $"({sql.List(d.DropSteps)});");
        foreach (var m in d.Messages)
        {
            var target = sql.P(m.ExecutionId);
            sql.Append($"""
                INSERT INTO {_t}stent_inbox (execution_id, data)
                    SELECT id, {sql.P(StoreJson.Event(m.Event))} FROM {_t}stent_executions WHERE id = {target} AND state
                        IN {Live};
                UPDATE {_t}stent_executions SET runnable_at = {now} WHERE id = {target} AND state IN {Live};
                """);
        }
        if (d.Cancel.Count > 0)
            sql.Append($"""
                UPDATE {_t}stent_executions SET cancel_requested = 1, runnable_at = {now}
                WHERE id IN ({sql.List(d.Cancel)}) AND state IN {Live};
                """);
        if (d.Finished)
            sql.Append($"DELETE FROM {_t}stent_steps WHERE execution_id = {self}; DELETE FROM {_t}stent_timers WHERE " +
                $"execution_id = {self};");
        if (!dueSet) sql.Append($"UPDATE {_t}stent_executions SET runnable_at = {NextDue(sql, d, self, now)} WHERE " +
            $"id = {self}");
        // Other workers (and waiting clients) are woken only when there is something for them.
        s.Wakes = d.Finished || d.Steps.Count > claimed.Count || d.Children.Count > 0 || d.Messages.Count > 0
            || d.Cancel.Count > 0 || d.Timers.Count > 0 || d.FoldedInbox.Count > 0 || !d.Optimistic;
        return sql;
    }

    /// <summary>
    /// When the execution of <paramref name="d"/> is next due, as an expression over its row (<paramref name="self"/>
    /// its id, <paramref name="now"/> the time, both parameters of <paramref name="sql"/>): never once finished;
    /// when asked (a blocked execution's next try); at once with a cancellation or unfolded inbox items (looked for
    /// unless <paramref name="inboxEmpty"/>: the statement refuses an execution with any); else its first timer or
    /// its deadline.
    /// </summary>
    private string NextDue(Sql sql, DecisionCommit d, string self, string now, bool inboxEmpty = false)
    {
        var retry = d.RetryAt is { } at ? $"WHEN 1 = 1 THEN {sql.P(Ms(at))} " : "";
        var inbox = inboxEmpty ? "" : $" OR EXISTS (SELECT 1 FROM {_t}stent_inbox i WHERE i.execution_id = {self})";
        return $"""
            CASE WHEN {sql.P(d.Finished)} = 1 THEN NULL {retry}
                WHEN cancel_requested = 1{inbox} THEN {now}
                ELSE (SELECT min(t) FROM (SELECT min(due_at) AS t FROM {_t}stent_timers WHERE execution_id = {self}
                    UNION ALL SELECT stent_executions.deadline) AS due) END
            """;
    }

    /// <summary>A step a commit took to record its outcome.</summary>
    private sealed record TakenStep(long Id, string Execution, string Position, string Name, string Input);

    private static TakenStep ReadTaken(DbDataReader r) =>
        new(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4));

    /// <summary>The removal (its parameters added to <paramref name="sql"/>) of the steps whose outcomes a commit
    /// records, those whose lease still holds, returning them: fewer rows than outcomes means a lease was lost.
    /// </summary>
    private string TakeOutcomes(Sql sql, IReadOnlyList<StepOutcome> outcomes, long now) =>
        $"DELETE FROM {_t}stent_steps WHERE running = 1 AND lease_until >= {sql.P(now)} AND (" +
        string.Join(" OR ", outcomes.Select(o => $"(id = {sql.P(o.Step.Id)} AND lease_token = " +
            $"{sql.P(o.Step.LeaseToken)})")) + $") RETURNING {TakenColumns}";

    /// <summary>
    /// The update (its parameters added to <paramref name="sql"/>) that makes the row of the step whose <paramref
    /// name="outcome"/> a commit records — if that step's lease still holds — the row of <paramref name="next"/>,
    /// claimed by the committing worker under lease <paramref name="token"/>; returns it as <see cref="TakeOutcomes"/>
    /// does (with the new step's position). A statement and a row written fewer than a removal and an insert, and no
    /// indexed column changes (its time of readiness is read only while it waits) unless the priority does.
    /// </summary>
    private string Recycle(Sql sql, DecisionCommit d, StepOutcome outcome, NewStep next, long now, long token) => $"""
        UPDATE {_t}stent_steps SET position = {sql.P(next.Position)}, name = {sql.P(next.Name)},
            input = {sql.P(next.Input)}, queue = {sql.P(next.Queue)}, tags = {sql.P(Tags(next.Tags))},
            priority = {sql.P(next.Priority)}, max_concurrent = {sql.P(next.MaxConcurrent)},
            max_per_second = {sql.P(next.MaxPerSecond)}, attempt = 1, lost = 0,
            lease_token = {sql.P(token)}, lease_until = {sql.P(now + Ms(d.Claim!.Lease))},
            worker = {sql.P(d.Claim.WorkerId)}, trace_parent = {sql.P(d.TraceParent)}, items = {sql.P(next.Items)}
        WHERE running = 1 AND lease_until >= {sql.P(now)} AND id = {sql.P(outcome.Step.Id)}
            AND lease_token = {sql.P(outcome.Step.LeaseToken)}
        RETURNING {TakenColumns}
        """;

    /// <summary>What <see cref="TakeOutcomes"/> returns of each step it takes (see <see cref="ReadTaken"/>).</summary>
    private const string TakenColumns = "id, execution_id, position, name, input";

    /// <summary>The final failures an outcome of <paramref name="step"/> records (for a batch, its items'), each with
    /// the input it failed on.</summary>
    private static IEnumerable<(TakenStep Step, StepFailed Failure)> Dead(TakenStep step, StepOutcome outcome)
    {
        if (outcome.Event is StepFailed failed) return [(step, failed)];
        // Most batches hold no final failure: their items' inputs are not indexed.
        if (outcome.Event is not EventBatch batch || !batch.Events.Any(e => e is StepFailed)) return [];
        var inputs = outcome.Items.ToDictionary(i => i.Position, i => i.Input, StringComparer.Ordinal);
        return batch.Events.OfType<StepFailed>().Select(f => (step with { Position = f.Position, Input =
            inputs.GetValueOrDefault(f.Position, "null") }, f));
    }

    /// <summary>Appends the insert of a dead letter for each final failure.</summary>
    private void DeadLetters(Sql sql, IEnumerable<(TakenStep Step, StepFailed Failure)> failures, long now)
    {
        var dead = failures.ToList();
        if (dead.Count == 0) return;
        sql.Append($"INSERT INTO {_t}stent_dead_letters (execution_id, position, name, input, failure, at) VALUES ");
        sql.Append(string.Join(", ", dead.Select(x => $"({sql.P(x.Step.Execution)}, {sql.P(x.Step.Position)}, " +
            $"{sql.P(x.Step.Name)}, {sql.P(x.Step.Input)}, {sql.P(StoreJson.Event(x.Failure))}, {sql.P(now)})")) + ";");
    }

    /// <summary>Appends the insert of the items of batch <paramref name="batch"/> that run again as steps of their
    /// own, with the batch's routing and limits (before the batch's row is removed).</summary>
    private void Requeue(Sql sql, long batch, IReadOnlyList<Requeued> items)
    {
        if (items.Count == 0) return;
        var rows = string.Join(" UNION ALL ", items.Select(r => $"SELECT {sql.P(r.Item.Position)} AS position, " +
            $"{sql.P(r.Item.Input)} AS input, {sql.P(Ms(r.At))} AS at, {sql.P(r.Attempt)} AS attempt, " +
            $"{sql.P(r.Lost)} AS lost"));
        sql.Append($"""
            INSERT INTO {_t}stent_steps (execution_id, position, name, input, queue, tags, priority, max_concurrent,
                max_per_second, available_at, root, trace_parent, attempt, lost)
            SELECT s.execution_id, v.position, s.name, v.input, s.queue, s.tags, s.priority, s.max_concurrent,
                s.max_per_second, v.at, s.root, s.trace_parent, v.attempt, v.lost
            FROM {_t}stent_steps s JOIN ({rows}) v ON s.id = {sql.P(batch)};
            """);
    }

    /// <summary>The insert (its parameters added to <paramref name="sql"/>) of new steps already claimed by the
    /// committing worker under lease <paramref name="token"/>, returning their ids and positions.</summary>
    private string ClaimedInsert(Sql sql, DecisionCommit d, StepClaim claim, List<NewStep> steps, long now,
        long token)
    {
        var (self, at, until, worker, trace) = (sql.P(d.ExecutionId), sql.P(now), sql.P(now + Ms(claim.Lease)),
            sql.P(claim.WorkerId), sql.P(d.TraceParent));
        var root = d.Root is null ? $"(SELECT root FROM {_t}stent_executions WHERE id = {self})" : sql.P(d.Root);
        return $"""
            INSERT INTO {_t}stent_steps (execution_id, position, name, input, queue, tags, priority, max_concurrent,
                max_per_second, available_at, root, running, lease_token, lease_until, worker, trace_parent, items)
                VALUES
            """ + string.Join(", ", steps.Select(st => $"({self}, {sql.P(st.Position)}, {sql.P(st.Name)}, " +
            $"{sql.P(st.Input)}, {sql.P(st.Queue)}, {sql.P(Tags(st.Tags))}, {sql.P(st.Priority)}, " +
            $"{sql.P(st.MaxConcurrent)}, {sql.P(st.MaxPerSecond)}, {at}, {root}, 1, {sql.P(token)}, {until}, " +
            $"{worker}, {trace}, {sql.P(st.Items)})")) + " RETURNING id, position";
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<bool>> CompleteStepsAsync(IReadOnlyList<StepOutcome> outcomes, CancellationToken ct =
        default) =>
        outcomes.Count == 0 ? Task.FromResult<IReadOnlyList<bool>>([]) : WriteAsync<IReadOnlyList<bool>>("complete",
            async s =>
        {
            var find = new Sql();
            find.Append($"""
                SELECT id, execution_id, position, name, input, lease_token FROM {_t}stent_steps
                WHERE id IN ({find.List(outcomes.Select(o => o.Step.Id).Distinct())}) AND running = 1
                    AND lease_until >= {find.P(s.Now)}{_dialect.ForUpdate}
                """);
            var held = (await s.QueryAsync(find, r => (Id: r.GetInt64(0), Execution: r.GetString(1), Position:
                r.GetString(2),
                Name: r.GetString(3), Input: r.GetString(4), Token: r.GetInt64(5)),
                    ct).ConfigureAwait(false)).ToDictionary(h => h.Id);
            var accepted = outcomes.Select(o => held.TryGetValue(o.Step.Id, out var h) && h.Token ==
                o.Step.LeaseToken).ToList();
            var ok = outcomes.Where((_, i) => accepted[i]).Select(o => (o.Event, Step: held[o.Step.Id], Outcome: o))
                .ToList();
            if (ok.Count == 0) return accepted;

            var sql = new Sql();
            var now = sql.P(s.Now);
            // A batch whose items all run again (its worker was lost) records nothing.
            var recorded = ok.Where(o => o.Event is not EventBatch { Events.Count: 0 }).ToList();
            if (recorded.Count > 0)
            {
                sql.Append($"INSERT INTO {_t}stent_inbox (execution_id, data) VALUES ");
                sql.Append(string.Join(", ", recorded.Select(o => $"({sql.P(o.Step.Execution)}, " +
                    $"{sql.P(StoreJson.Event(o.Event))})")) + ";");
            }
            DeadLetters(sql, ok.SelectMany(o => Dead(new TakenStep(o.Step.Id, o.Step.Execution, o.Step.Position,
                o.Step.Name, o.Step.Input), o.Outcome)), s.Now);
            foreach (var (e, step, _) in ok.Where(o => o.Event is StepAttemptFailed))
                sql.Append($"""
                    UPDATE {_t}stent_steps SET running = 0, attempt = attempt + 1, lease_until = NULL,
                        available_at = {sql.P(Ms(((StepAttemptFailed)e).RetryAt))} WHERE id = {sql.P(step.Id)};
                    """);
            foreach (var o in ok) Requeue(sql, o.Step.Id, o.Outcome.Requeue);
            if (ok.Any(o => o.Outcome.Requeue.Count > 0)) s.Wakes = true;
            // A batch that goes on running keeps its row (and lease) with the items it has not run yet.
            foreach (var (id, rest) in ok.Where(o => o.Outcome.Remaining is { Count: > 0 })
                .Select(o => (o.Step.Id, o.Outcome.Remaining!)))
                sql.Append($"UPDATE {_t}stent_steps SET input = {sql.P(StepItems.Encode(rest))}, items = " +
                    $"{sql.P(rest.Count)}, position = {sql.P(rest[0].Position)} WHERE id = {sql.P(id)};");
            var done = ok.Where(o => o.Event is not StepAttemptFailed && o.Outcome.Remaining is not { Count: > 0 })
                .ToList();
            // The executions that have an outcome to decide on (a retried attempt waits for its retry).
            var woken = ok.Where(o => HistoryEvent.Flatten([o.Event]).Any(e => e is StepCompleted or StepFailed))
                .Select(o => o.Step.Execution).Distinct().ToList();
            if (done.Count > 0)
                sql.Append($"DELETE FROM {_t}stent_steps WHERE id IN ({sql.List(done.Select(o => o.Step.Id))});");
            if (woken.Count > 0)
            {
                // The decision after a step waits a little while other steps of its execution still run, so a fan-out's
                // completions are folded together; the last one, or a step of a sequential chain, wakes it at once.
                var least = _dialect.Least;
                sql.Append($"""
                    UPDATE {_t}stent_executions SET runnable_at = {least}(coalesce(runnable_at, {now} + 86400000), {now}
                        +
                        CASE WHEN EXISTS (SELECT 1 FROM {_t}stent_steps o WHERE o.execution_id = stent_executions.id)
                        THEN {least}({sql.P(Ms(WakeDelay.Max))}, stream_version /
                            {sql.P(WakeDelay.EventsPerMillisecond)}) ELSE 0 END)
                    WHERE id IN ({sql.List(woken)}) AND state IN {Live}
                    """);
                s.Wakes = true;
            }
            await s.ExecAsync(sql, ct).ConfigureAwait(false);
            return accepted;
        }, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<LeasedStep>> RenewLeasesAsync(IReadOnlyList<LeasedStep> steps, TimeSpan lease,
        CancellationToken ct = default) =>
        steps.Count == 0 ? Task.FromResult<IReadOnlyList<LeasedStep>>([]) : WriteAsync<IReadOnlyList<LeasedStep>>(
            "renew", async s =>
        {
            var kept = new HashSet<LeasedStep>();
            foreach (var chunk in steps.Chunk(400))
            {
                var sql = new Sql();
                var now = sql.P(s.Now);
                sql.Append($"UPDATE {_t}stent_steps SET lease_until = {sql.P(s.Now + Ms(lease))} WHERE running = 1 " +
                    $"AND lease_until >= {now} AND (");
                sql.Append(string.Join(" OR ", chunk.Select(l => $"(id = {sql.P(l.Id)} AND lease_token = " +
                    $"{sql.P(l.LeaseToken)})")));
                sql.Append(") RETURNING id, lease_token");
                kept.UnionWith(await s.QueryAsync(sql, r => new LeasedStep(r.GetInt64(0), r.GetInt64(1)), ct)
                    .ConfigureAwait(false));
            }
            return steps.Where(l => !kept.Contains(l)).ToList();
        }, ct);

    /// <inheritdoc />
    public Task ReleaseStepsAsync(IReadOnlyList<LeasedStep> steps, CancellationToken ct = default) =>
        steps.Count == 0 ? Task.CompletedTask : WriteAsync("release", async s =>
        {
            foreach (var chunk in steps.Chunk(400))
            {
                var sql = new Sql();
                sql.Append($"UPDATE {_t}stent_steps SET running = 0, lease_until = NULL, worker = NULL, " +
                    $"available_at = {sql.P(s.Now)} WHERE running = 1 AND (");
                sql.Append(string.Join(" OR ", chunk.Select(l => $"(id = {sql.P(l.Id)} AND lease_token = " +
                    $"{sql.P(l.LeaseToken)})")));
                sql.Append(")");
                if (await s.ExecAsync(sql, ct).ConfigureAwait(false) > 0) s.Wakes = true;
            }
            return true;
        }, ct);
}
