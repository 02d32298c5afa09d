// A worker's decisions: fold the inbox and due timers into the stream, replay, and commit what comes next.
using Microsoft.Extensions.Logging;
using Stent.Replay;
using Stent.Storage;
using Stent.Workflows;

namespace Stent.Execution;

public sealed partial class Worker
{
    private async Task DecideAsync(DecisionTask task, DateTimeOffset now, CancellationToken ct)
    {
        using var activity = Diagnostics.StentTelemetry.StartDecision(task.ExecutionId);
        var (history, checkpoint) = await _histories.LoadAsync(_store, task.ExecutionId, task.Version, ct).ConfigureAwait(false);
        var outcomes = new List<HistoryEvent>(task.Inbox.Select(i => i.Event));
        outcomes.AddRange(task.FiredTimers.Select(p => new TimerFired(p)));
        var started = (ExecutionStarted)history[0];
        var carryover = started.ResumedFrom is { } from ? await _histories.LoadCarryoverAsync(_store, from, ct).ConfigureAwait(false) : null;
        var (commit, next) = Decide(task, history, outcomes, now, carryover, checkpoint);
        if (!await _store.CommitDecisionAsync(commit, ct).ConfigureAwait(false))
        {
            _histories.Forget(task.ExecutionId);
            _logger.LogWarning("Decision for {ExecutionId} was rejected: its lease was lost or the stream moved on", task.ExecutionId);
            return;
        }
        Diagnostics.StentTelemetry.Decided(started.Workflow, commit.State);
        activity?.SetTag("stent.state", commit.State.ToString());
        if (commit.State is ExecutionState.Running or ExecutionState.Pending) _histories.Put(task.ExecutionId, [.. history, .. commit.Events], next);
        else _histories.Forget(task.ExecutionId);
        RecordedLogs.Emit(_logger, task.ExecutionId, _options.WorkerId, commit.Events, _options.OnProgress);
        if (commit.State is not ExecutionState.Running)
            _logger.LogInformation("Execution {ExecutionId} ended: {State} {Error}", task.ExecutionId, commit.State, commit.Error?.Message);
    }

    private (DecisionCommit Commit, Interpreter.Checkpoint? Next) Decide(
        DecisionTask task, IReadOnlyList<HistoryEvent> history, List<HistoryEvent> outcomes, DateTimeOffset now, Carryover? carryover, Interpreter.Checkpoint? checkpoint)
    {
        (DecisionCommit, Interpreter.Checkpoint?) Final(ExecutionState state, HistoryEvent end, WorkflowError? error) =>
            (new(task.ExecutionId, task.LeaseToken, history.Count, [.. outcomes, end, new DecisionCompleted(history.Count(e => e is DecisionCompleted) + 1)],
                task.Inbox.Select(i => i.Id).ToList(), task.FiredTimers, [], [], [], state, null, error, []), null);

        // Cancellation and timeout are recorded once; the workflow then unwinds, running its Finally blocks.
        var stopping = task.CancelRequested ? "cancelled" : task.Deadline is { } deadline && deadline <= now ? "timed out" : null;
        if (stopping is not null && !history.Any(e => e is ExecutionCancelRequested))
            outcomes.Add(new ExecutionCancelRequested(stopping));

        var started = (ExecutionStarted)history[0];
        IWorkflowDefinition? definition;
        lock (_gate) definition = _workflows.GetValueOrDefault(started.Workflow) ?? WorkflowRegistry.Find(started.Workflow);
        if (definition is null)
        {
            var error = Failure.FromException(new InvalidOperationException($"Unknown workflow '{started.Workflow}': worker '{_options.WorkerId}' has no workflow of that name registered, and none is defined in its process."));
            return Final(ExecutionState.Failed, new ExecutionFailed(error), error);
        }

        Decision decision;
        try
        {
            lock (_random) decision = Interpreter.Decide(definition, [.. history, .. outcomes], _options.Serializer, now, _random, carryover: carryover, resume: checkpoint);
        }
        catch (NonDeterminismException e)
        {
            _logger.LogError(e, "Execution {ExecutionId} no longer matches its history", task.ExecutionId);
            var error = Failure.FromException(e);
            return Final(ExecutionState.Failed, new ExecutionFailed(error), error);
        }

        lock (_gate)
        {
            foreach (var (name, fn) in decision.Functions) _functions.TryAdd(name, fn);
            foreach (var (name, child) in decision.Children) _workflows.TryAdd(name, child);
        }
        var children = decision.NewChildren.Select(c => new NewExecution(
            ChildStarted.ChildId(task.ExecutionId, c.Position), c.Workflow, decision.Children[c.Workflow].Version, c.Input, null, TimeSpan.Zero, null,
            null, [], 0, ParentId: task.ExecutionId, ParentPosition: c.Position)).ToList();
        var steps = decision.NewSteps.Select(s =>
        {
            var o = decision.Functions[s.Name].Options;
            return new NewStep(s.Position, s.Name, s.Input, o.Queue, o.Tags, o.Priority, o.MaxConcurrent, o.MaxPerSecond);
        }).ToList();
        var state = decision.Status switch
        {
            ExecutionStatus.Completed => ExecutionState.Completed,
            ExecutionStatus.Failed when decision.Error is Cancellation { Reason: "timed out" } => ExecutionState.TimedOut,
            ExecutionStatus.Failed when decision.Error is Cancellation => ExecutionState.Cancelled,
            ExecutionStatus.Failed => ExecutionState.Failed,
            _ => ExecutionState.Running,
        };
        var commit = new DecisionCommit(task.ExecutionId, task.LeaseToken, history.Count, [.. outcomes, .. decision.NewEvents],
            task.Inbox.Select(i => i.Id).ToList(), task.FiredTimers, steps, decision.NewTimers.Select(t => (t.Position, t.DueAt)).ToList(),
            decision.CancelledSteps, state, decision.Output, decision.Error, children);
        return (commit, decision.Checkpoint);
    }
}
