// The engine's decision rules: fold the inbox and due timers into the stream, replay, and turn the outcome into writes.
using Microsoft.Extensions.Logging;
using Stent.Replay;
using Stent.Storage;
using Stent.Workflows;

namespace Stent.Execution;

public sealed partial class Worker
{
    /// <summary>
    /// Decides <paramref name="task"/> and commits the decision; returns the new steps claimed for this worker in that
    /// commit (to start at once), or null when the commit was refused. With <paramref name="ran"/> the worker goes on
    /// with an execution whose last decision it wrote, holding no lease: the outcomes of the steps it ran are recorded
    /// in the same commit as the decision that follows them.
    /// </summary>
    /// <param name="task">The decision.</param>
    /// <param name="now">The store's time.</param>
    /// <param name="ct">Stops the decision.</param>
    /// <param name="ran">The outcomes it records, going on with an execution.</param>
    /// <param name="slots">At most how many of its new steps it claims (besides this worker's free slots).</param>
    private async Task<IReadOnlyList<StepTask>?> DecideAsync(DecisionTask task, DateTimeOffset now,
        CancellationToken ct, IReadOnlyList<Finished>? ran = null, int slots = int.MaxValue)
    {
        using var activity = Diagnostics.StentTelemetry.StartDecision(task);
        var (history, checkpoint) = await _histories.TakeAsync(_store, task.ExecutionId, task.Version,
            ct).ConfigureAwait(false);
        var started = history.Started!;
        using var scope = _logger.BeginScope(new Diagnostics.LogScope(("ExecutionId", task.ExecutionId),
            ("Workflow", started.Workflow), ("WorkerId", _options.WorkerId)));
        var known = _registry.Workflow(started.Workflow, started.Version);
        // A history that forgot settled work serves only a decision that starts where the last one stopped.
        if (!_options.Incremental || checkpoint?.Serves(known, history) != true)
            (history, checkpoint) = (history.Complete ? history : await ReadAllAsync(task, ct).ConfigureAwait(false),
                null);
        if (known is null) await LearnAsync(history.Events, ct).ConfigureAwait(false);
        var outcomes = new List<HistoryEvent>(task.Inbox.Select(i => i.Event));
        outcomes.AddRange(task.FiredTimers.Select(p => new TimerFired(p)));
        if (ran is not null) outcomes.AddRange(ran.Select(f => f.Event));
        var carryover = started.ResumedFrom is { } from ? await _histories.LoadCarryoverAsync(_store, from,
            ct).ConfigureAwait(false) : null;
        DecisionCommit commit;
        Interpreter.Checkpoint? next;
        List<HistoryEvent> given = [.. outcomes];
        try
        {
            (commit, next) = Decide(task, history, outcomes, now, carryover, checkpoint);
        }
        catch (ForgottenHistoryException e)
        {
            // Not expected (a decision that starts at its checkpoint reads no settled work): decide from the top.
            _logger.LogWarning(e, "Decision for {ExecutionId} needed forgotten history; replaying the whole stream",
                task.ExecutionId);
            (history, outcomes) = (await ReadAllAsync(task, ct).ConfigureAwait(false), given);
            (commit, next) = Decide(task, history, outcomes, now, carryover, null);
        }
        // Outcomes are never dropped with a parked decision: they are recorded the usual way. (The history taken
        // out, now holding them, is not put back: the next decision reads it again.)
        if (ran is not null && commit.State == ExecutionState.Blocked) return null;
        // What this decision starts (steps, children) continues its trace.
        var trace = Diagnostics.StentTelemetry.Context(activity) ?? task.TraceParent;
        commit = commit with
        {
            Children = [.. commit.Children.Select(c => c with { TraceParent = trace })],
            TraceParent = trace,
            Optimistic = ran is not null,
            Outcomes = ran?.Select(f => f.Outcome).ToList() ?? [],
            Claim = EagerClaim(commit, slots),
        };
        var result = await _store.CommitDecisionAsync(commit, ct).ConfigureAwait(false);
        if (!result.Accepted)
        {
            lock (_gate) _sticky.Remove(task.ExecutionId);
            if (ran is null)
                _logger.LogWarning("Decision for {ExecutionId} was rejected: its lease was lost or the stream moved on",
                    task.ExecutionId);
            return null;
        }
        StopDropped(task.ExecutionId, commit.DropSteps);
        Diagnostics.StentTelemetry.Decided(started.Workflow, commit.State);
        activity?.SetTag("stent.state", commit.State.ToString());
        Remember(task, history, outcomes.Count, commit, next);
        RecordedLogs.Emit(_logger, task.ExecutionId, _options.WorkerId, HistoryEvent.Flatten(commit.Events),
            _options.OnProgress);
        if (commit.Finished)
            _logger.LogInformation("Execution {ExecutionId} ended: {State} {Error}", task.ExecutionId, commit.State,
                commit.Error?.Message);
        return result.Claimed;
    }

    /// <summary>
    /// After a commit, puts back what the next decision needs: the history (which holds the <paramref name="folded"/>
    /// outcomes the decision saw, appended one by one; it now holds the commit's events as they were stored) and where
    /// replay stopped, so this worker can go on with the execution when it has the outcomes of the steps it waits for.
    /// </summary>
    private void Remember(DecisionTask task, History history, int folded, DecisionCommit commit,
        Interpreter.Checkpoint? next)
    {
        lock (_gate)
        {
            _sticky.Remove(task.ExecutionId);
            // Ended, or parked without folding what it saw: the stream is not what the history holds.
            if (commit.Finished || (commit.Events.Count == 0 && folded > 0)) return;
            history.Seal((int)commit.ExpectedVersion, commit.Events);
            // What the next decision starts past is settled for good: only open work is kept.
            if (_options.Incremental && next is not null && next.Events == history.Count)
                history.Forget(next.Events, next.Settled);
            _histories.Put(task.ExecutionId, history, next);
            // Entries of executions others went on with are stale: when too many pile up, start afresh.
            if (_sticky.Count >= StickyCapacity) _sticky.Clear();
            _sticky[task.ExecutionId] = new Sticky(task, history.Count);
        }
    }

    /// <summary>
    /// The new steps of <paramref name="commit"/> this worker claims in the commit itself, to run them at once: those
    /// of functions it has, that no cap or rate limits and that its queues and tags take, up to its free slots and
    /// <paramref name="slots"/>.
    /// </summary>
    private StepClaim? EagerClaim(DecisionCommit commit, int slots)
    {
        if (commit.Finished || commit.Steps.Count == 0 || _draining) return null;
        var free = Math.Min(FreeSlots(), slots);
        var positions = commit.Steps.Where(s => s.MaxConcurrent is null && s.MaxPerSecond is null
                && Function(s.Name) is not null
                && (s.Queue is null || _options.Queues is null || _options.Queues.Contains(s.Queue))
                && (s.Tags.Count == 0 || _options.Tags is null || s.Tags.Intersect(_options.Tags).Any()))
            .Take(free).Select(s => s.Position).ToList();
        return positions.Count == 0 ? null : new StepClaim(_options.WorkerId, _options.LeaseDuration, positions);
    }

    /// <summary>
    /// Goes on with an execution whose last decision this worker wrote, when <paramref name="ran"/> holds outcomes of
    /// steps it waits for (all of them down a chain, those that have ended of a fan-out): one commit records them and
    /// the decision that folds them, with no claim and no inbox in between. Null when that does not apply or the store
    /// refused (someone else decided, or another worker's outcome came in, meanwhile); the outcomes are then recorded
    /// the usual way.
    /// </summary>
    private async Task<IReadOnlyList<StepTask>?> ContinueAsync(List<Finished> ran, CancellationToken ct)
    {
        var id = ran[0].Task.ExecutionId;
        Sticky? sticky;
        // Taken out: one thread at a time goes on with an execution (a chain's step thread, or the loop).
        lock (_gate) _sticky.Remove(id, out sticky);
        // Steps its last decision waits for, that history still at hand (a step scheduled by someone else's later
        // decision means this worker's history is behind).
        if (sticky is null) return null;
        // A batch counts by its items; one with items that run again goes the usual way.
        var outcomes = HistoryEvent.Flatten(ran.Select(f => f.Event)).ToList();
        var distinct = new HashSet<string>(outcomes.Count, StringComparer.Ordinal);
        if (outcomes.Any(e => e is not (StepCompleted or StepFailed))
            || ran.Any(f => f.Requeue.Count > 0)
            || _histories.Peek(id, sticky.Version) is not { } history
            || !outcomes.All(e => history.IsOpenStep(((PositionedEvent)e).Position)
                && distinct.Add(((PositionedEvent)e).Position)))
        {
            lock (_gate) _sticky.TryAdd(id, sticky);
            return null;
        }
        var task = sticky.Task with { Version = sticky.Version, Inbox = [], FiredTimers = [], CancelRequested = false };
        return await DecideAsync(task, ran.Max(f => f.Clock.Now), ct, ran).ConfigureAwait(false);
    }

    /// <summary>Appends <paramref name="outcomes"/> to <paramref name="history"/> and decides what comes next.
    /// </summary>
    private (DecisionCommit Commit, Interpreter.Checkpoint? Next) Decide(
        DecisionTask task, History history, List<HistoryEvent> outcomes, DateTimeOffset now, Carryover? carryover,
        Interpreter.Checkpoint? checkpoint)
    {
        // Cancellation and timeout are recorded once; the workflow then unwinds, running its Finally blocks.
        var stopping = task.CancelRequested ? Cancellation.Cancelled
            : task.Deadline is { } deadline && deadline <= now ? Cancellation.TimedOut : null;
        if (stopping is not null && history.Cancel is null) outcomes.Add(new ExecutionCancelRequested(stopping));

        var started = history.Started!;
        var version = history.Count;
        // Claims are filtered by the registry: the workflow is registered, or learned from the root of its tree.
        // Each execution runs on the version it started with.
        var definition = _registry.Workflow(started.Workflow, started.Version)
            ?? throw new InvalidOperationException($"Worker '{_options.WorkerId}' claimed a decision of unknown " +
                $"workflow '{started.Workflow}' version {started.Version}.");

        Decision decision;
        try
        {
            history.Append(outcomes);
            lock (_random)
                decision = Interpreter.Decide(definition, history, _options.Serializer, now, _random,
                    carryover: carryover, resume: checkpoint, batching: _batching);
        }
        catch (NonDeterminismException e)
        {
            // Parked, nothing written, unless the workflow asks to fail or the execution is being stopped: another
            // worker, or a later try, may have code that matches.
            if (definition.FailsOnMismatch || stopping is not null)
            {
                _logger.LogError(e, "Execution {ExecutionId} no longer matches its history; it fails",
                    task.ExecutionId);
                return (Fail(task, history, version, outcomes, e, stopping is null ? null : new Cancellation(stopping)),
                    null);
            }
            _logger.LogError(e, "Execution {ExecutionId} no longer matches its history; it is blocked until code " +
                "that matches runs it (next try in {Retry})", task.ExecutionId, _options.BlockedRetry);
            return (new DecisionCommit(task.ExecutionId, task.LeaseToken, version, [], ExecutionState.Blocked)
            {
                Error = Failure.FromException(e),
                RetryAt = now + _options.BlockedRetry,
                Root = task.Root,
            }, null);
        }

        _registry.Learn(decision.Functions, decision.Children);
        // Children inherit their parent's route.
        var children = decision.NewChildren.Select(c => new NewExecution(
            ChildStarted.ChildId(task.ExecutionId, c.Position), c.Workflow, decision.Children[c.Workflow].Version,
                c.Input, null,
            TimeSpan.Zero, null, task.Route.Queue, task.Route.Tags, task.Route.Priority, ParentId: task.ExecutionId,
            ParentPosition: c.Position, Root: task.Root ?? started.Workflow)).ToList();
        // A priority given at dispatch orders the execution's steps (children inherit it); without one, the
        // function's own priority does.
        // A batch of steps is one piece of work: its first position, its items as input.
        var steps = decision.NewSteps.Select(batch =>
        {
            var s = batch[0];
            var o = decision.Functions[s.Name].Options;
            var priority = task.Route.Priority != 0 ? task.Route.Priority : o.Priority;
            var input = batch.Count == 1 ? s.Input : StepItems.Encode(batch);
            return new NewStep(s.Position, s.Name, input, o.Queue, o.Tags, priority, o.MaxConcurrent,
                o.MaxPerSecond) { Items = batch.Count == 1 ? 0 : batch.Count };
        }).ToList();
        var state = decision.State;
        // Work made moot by cancellation (open work recorded before): scheduled steps are dropped, children are asked
        // to cancel.
        bool IsChild(string position) => history.At(position)?.Start is ChildStarted;
        var commit = Ending(task, history, decision.NewEvents, new DecisionCommit(task.ExecutionId,
            task.LeaseToken, version, DecisionEvents.Stored([.. outcomes, .. decision.NewEvents]), state)
        {
            FoldedInbox = task.Inbox.Select(i => i.Id).ToList(),
            FiredTimers = task.FiredTimers,
            Steps = steps,
            Timers = decision.NewTimers.Select(t => (t.Position, t.DueAt)).ToList(),
            DropSteps = decision.CancelledSteps.Where(p => !IsChild(p)).ToList(),
            Cancel = decision.CancelledSteps.Where(IsChild).Select(p => ChildStarted.ChildId(task.ExecutionId, p))
                .ToList(),
            Children = children,
            Output = decision.Output,
            Error = decision.Error,
            Root = task.Root,
            Awaiting = [.. decision.Awaiting.Select(a =>
            {
                var (kinds, pattern) = _options.Serializer.JsonShape(a.Value);
                return new AwaitedSignal(a.Key, a.Value.FullName ?? a.Value.Name, kinds, pattern);
            })],
        });
        // The next decision starts past this one's events, however they are stored.
        return (commit, decision.Checkpoint is { } next ? next with { Events = version + commit.Events.Count } : null);
    }

    /// <summary>
    /// Learns the durable functions and child workflows an execution uses by replaying it (and, for a child whose
    /// workflow is not known yet, its parents first): a worker that just started knows only what was registered.
    /// Replay has no effects, so nothing is written; an execution that cannot be replayed teaches nothing.
    /// </summary>
    private async Task LearnAsync(IReadOnlyList<HistoryEvent> history, CancellationToken ct)
    {
        var started = (ExecutionStarted)history[0];
        if (_registry.Workflow(started.Workflow, started.Version) is null && started.ParentId is { } parent)
            await LearnAsync(await _store.ReadAsync(parent, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
        if (_registry.Workflow(started.Workflow, started.Version) is not { } definition) return;
        try
        {
            var replay = Interpreter.Decide(definition, history, _options.Serializer, started.StartedAt, new Random(0));
            _registry.Learn(replay.Functions, replay.Children);
        }
        catch (Exception e) when (e is NonDeterminismException or InvalidOperationException)
        {
            _logger.LogWarning(e, "Worker {WorkerId} could not replay {Workflow} to learn what it uses",
                _options.WorkerId, started.Workflow);
        }
    }

    /// <summary>
    /// Learns what the execution of <paramref name="executionId"/> uses (see <see
    /// cref="LearnAsync(IReadOnlyList{HistoryEvent}, CancellationToken)"/>), once however many of its steps ask at the
    /// same time: the steps of a fan-out all start together, and each replay reads the whole stream. A step that
    /// asks after the learning ended (it found <paramref name="function"/> unknown just before) reads nothing.
    /// </summary>
    private async Task LearnOnceAsync(string executionId, string function, CancellationToken ct)
    {
        var learning = _learning.GetOrAdd(executionId, id => new Lazy<Task>(async () =>
        {
            if (Function(function) is not null) return;
            await LearnAsync(await _store.ReadAsync(id, CancellationToken.None).ConfigureAwait(false),
                CancellationToken.None).ConfigureAwait(false);
        }));
        try
        {
            await learning.Value.WaitAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _learning.TryRemove(new KeyValuePair<string, Lazy<Task>>(executionId, learning));
        }
    }

    /// <summary>An execution that no longer matches its workflow fails with <paramref name="e"/> — or, when it is
    /// being cancelled or timed out, ends so (its Finally blocks cannot run on code that does not match).</summary>
    /// <param name="task">The decision task.</param>
    /// <param name="history">The history, <paramref name="outcomes"/> appended.</param>
    /// <param name="version">Events in the stream (before the outcomes).</param>
    /// <param name="outcomes">What the decision folds.</param>
    /// <param name="e">Why it no longer matches.</param>
    /// <param name="stopping">The cancellation or timeout under way, if any.</param>
    private static DecisionCommit Fail(DecisionTask task, History history, long version, List<HistoryEvent>
        outcomes, Exception e, Cancellation? stopping = null)
    {
        WorkflowError error = stopping ?? (WorkflowError)Failure.FromException(e);
        HistoryEvent end = stopping is null ? new ExecutionFailed(error) : new ExecutionCancelled(stopping.Reason);
        var state = stopping?.State ?? ExecutionState.Failed;
        return Ending(task, history, [], new DecisionCommit(task.ExecutionId, task.LeaseToken,
            version, DecisionEvents.Stored([.. outcomes, end, new DecisionCompleted(history.DecisionCount + 1)]), state)
        {
            FoldedInbox = task.Inbox.Select(i => i.Id).ToList(),
            FiredTimers = task.FiredTimers,
            Error = error,
        });
    }

    /// <summary>The whole stream of <paramref name="task"/>'s execution, read from the store as stored (batches
    /// whole), so the history counts what the stream's version counts.</summary>
    private async Task<History> ReadAllAsync(DecisionTask task, CancellationToken ct) =>
        new(await _store.ReadAfterAsync(task.ExecutionId, 0, ct).ConfigureAwait(false));

    /// <summary>
    /// The rules of an ending execution: its parent (if any) learns how it ended, and its children still running (open
    /// in <paramref name="history"/> and not ended by <paramref name="newEvents"/>) are asked to cancel — in the same
    /// commit.
    /// </summary>
    private static DecisionCommit Ending(DecisionTask task, History history, IReadOnlyList<HistoryEvent> newEvents,
        DecisionCommit commit)
    {
        if (!commit.Finished) return commit;
        var started = history.Started!;
        var ended = newEvents.OfType<ChildEnded>().Select(c => c.Position).ToHashSet(StringComparer.Ordinal);
        var running = history.Entries.Where(e => e is { Start: ChildStarted, Outcome: null }).Select(e => e.Start)
            .Concat(newEvents.OfType<ChildStarted>()).Where(c => !ended.Contains(c.Position))
            .Select(c => ChildStarted.ChildId(task.ExecutionId, c.Position));
        var ok = commit.State == ExecutionState.Completed;
        return commit with
        {
            Cancel = [.. commit.Cancel.Union(running)],
            Messages = started is { ParentId: { } parent, ParentPosition: { } position }
                ? [new Message(parent, new ChildEnded(position, ok ? commit.Output : null, ok ? null : commit.Error))]
                : [],
        };
    }
}
