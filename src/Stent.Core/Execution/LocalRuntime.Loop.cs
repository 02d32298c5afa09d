// The runtime's loop: decide dirty executions, start ready steps, fold their outcomes in batches, fire due timers.
using Microsoft.Extensions.Logging;
using Stent.Replay;
using Stent.Workflows;

namespace Stent.Execution;

public sealed partial class LocalRuntime
{
    private readonly PriorityQueue<StepWork, (int, long)> _ready = new();
    private readonly List<TimerWork> _timers = [];
    private readonly Dictionary<string, int> _runningByFunction = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _stuck = new(StringComparer.Ordinal);
    private long _seq;
    private bool _recovered;

    /// <summary>Executions that cannot advance (non-determinism, unknown workflow), with the reason.</summary>
    public IReadOnlyDictionary<string, string> Stuck => _stuck;

    private sealed record StepWork(ExecutionState Execution, StepScheduled Step, int Attempt, long Seq);
    private sealed record TimerWork(ExecutionState Execution, string Position, DateTimeOffset Due, StepWork? RetryOf, long Seq);
    private sealed record StepDone(StepWork Work, string? Output, string? BusinessError, Failure? Failure);

    private async Task LoadAsync(CancellationToken ct)
    {
        foreach (var id in await _store.ListStreamsAsync(ct).ConfigureAwait(false))
        {
            if (_executions.ContainsKey(id) || _stuck.ContainsKey(id)) continue;
            var events = (await _store.ReadAsync(id, ct).ConfigureAwait(false)).ToList();
            if (events.Count == 0 || events[0] is not ExecutionStarted started) continue;
            if (Definition(started.Workflow) is not { } definition)
            {
                _stuck[id] = $"unknown workflow '{started.Workflow}' (register it with the runtime)";
                _logger.LogWarning("Execution {ExecutionId} uses unknown workflow {Workflow}", id, started.Workflow);
                continue;
            }
            var finished = events.Any(e => e is ExecutionCompleted or ExecutionFailed);
            var carryover = started.ResumedFrom is { } from ? new Carryover(from, await _store.ReadAsync(from, ct).ConfigureAwait(false)) : null;
            _executions[id] = new ExecutionState(id, definition, events, carryover) { Finished = finished, Dirty = !finished, Recovering = !finished };
        }
        // A child that ended while no runtime ran still reports to its parent.
        foreach (var child in _executions.Values.Where(c => c.Finished && c.Started.ParentId is not null).ToList())
            await ReportToParentAsync(child, ct).ConfigureAwait(false);
    }

    /// <summary>A workflow registered with this runtime, else one defined in this process, by name.</summary>
    private IWorkflowDefinition? Definition(string name) => _workflows.GetValueOrDefault(name) ?? WorkflowRegistry.Find(name);

    private async Task StartChildAsync(ExecutionState parent, ChildStarted c, IWorkflowDefinition definition, CancellationToken ct)
    {
        var id = ChildStarted.ChildId(parent.Id, c.Position);
        if (_executions.ContainsKey(id)) return;
        _stuck.Remove(id);
        var events = (await _store.ReadAsync(id, ct).ConfigureAwait(false)).ToList();
        if (events.Count == 0)
        {
            events = [new ExecutionStarted(c.Workflow, definition.Version, c.Input, _options.Clock.UtcNow, null, parent.Id, c.Position)];
            await _store.AppendAsync(id, 0, events, ct).ConfigureAwait(false);
        }
        var finished = events.Any(e => e is ExecutionCompleted or ExecutionFailed);
        var child = _executions[id] = new ExecutionState(id, definition, events, null) { Finished = finished, Dirty = !finished, Recovering = events.Count > 1 && !finished };
        if (finished) await ReportToParentAsync(child, ct).ConfigureAwait(false);
    }

    private async Task ReportToParentAsync(ExecutionState child, CancellationToken ct)
    {
        if (child.Started is not { ParentId: { } parentId, ParentPosition: { } position } || !_executions.TryGetValue(parentId, out var parent) || parent.Finished) return;
        if (parent.Events.Any(e => e is ChildEnded d && d.Position == position)) return;
        var ended = child.Events.Last(e => e is ExecutionCompleted or ExecutionFailed) switch
        {
            ExecutionCompleted done => new ChildEnded(position, done.Output, null),
            var failed => new ChildEnded(position, null, ((ExecutionFailed)failed).Error),
        };
        await AppendAsync(parent, [ended], ct).ConfigureAwait(false);
        parent.Dirty = true;
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        var running = new Dictionary<Task<StepDone>, StepWork>();
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            foreach (var state in _executions.Values.Where(s => s.Dirty && !s.Finished).ToList())
                await DecideAsync(state, ct).ConfigureAwait(false);

            if (_recovered)
            {
                // Timers that fell due while no runtime ran fire together, as they would have in one uninterrupted run.
                _recovered = false;
                await FireDueTimersAsync(ct).ConfigureAwait(false);
                continue;
            }
            StartReady(running, ct);
            if (running.Count > 0)
            {
                if (_options.Deterministic) await Task.WhenAll(running.Keys).ConfigureAwait(false);
                else await WaitForAnyAsync(running.Keys, ct).ConfigureAwait(false);
                var done = running.Where(r => r.Key.IsCompleted).OrderBy(r => r.Value.Seq).ToList();
                foreach (var (task, work) in done)
                {
                    running.Remove(task);
                    _runningByFunction[work.Step.Name]--;
                }
                await RecordOutcomesAsync(done.Select(d => d.Key.Result).ToList(), ct).ConfigureAwait(false);
                if (!_options.Deterministic) await FireDueTimersAsync(ct).ConfigureAwait(false);
                continue;
            }
            if (_executions.Values.Any(s => s.Dirty && !s.Finished)) continue;
            if (_timers.Count == 0) break;
            await _options.Clock.WaitUntilAsync(_timers.Min(t => t.Due), ct).ConfigureAwait(false);
            await FireDueTimersAsync(ct).ConfigureAwait(false);
        }
    }

    private async Task WaitForAnyAsync(IEnumerable<Task<StepDone>> steps, CancellationToken ct)
    {
        var waits = new List<Task>(steps);
        if (_timers.Count > 0 && _options.Clock is SystemClock)
            waits.Add(_options.Clock.WaitUntilAsync(_timers.Min(t => t.Due), ct));
        await Task.WhenAny(waits).ConfigureAwait(false);
    }

    private async Task DecideAsync(ExecutionState state, CancellationToken ct)
    {
        state.Dirty = false;
        Decision decision;
        try
        {
            decision = Interpreter.Decide(state.Definition, state.Events, _options.Serializer, _options.Clock.UtcNow, _random,
                carryover: state.Carryover, resume: _options.Incremental ? state.Checkpoint : null);
        }
        catch (NonDeterminismException e)
        {
            state.Finished = true;
            _stuck[state.Id] = e.Message;
            _logger.LogError(e, "Execution {ExecutionId} no longer matches its history", state.Id);
            return;
        }
        foreach (var (name, fn) in decision.Functions) state.Functions[name] = fn;
        foreach (var (name, child) in decision.Children) _workflows.TryAdd(name, child);
        if (decision.NewEvents.Count > 0) await AppendAsync(state, decision.NewEvents, ct).ConfigureAwait(false);
        state.Checkpoint = decision.Checkpoint;

        if (state.Recovering)
        {
            var history = new History(state.Events);
            foreach (var entry in history.Entries.Where(e => e.Outcome is null)) await OpenAsync(state, entry.Start, entry, ct).ConfigureAwait(false);
            state.Recovering = false;
            _recovered = true;
        }
        else
            foreach (var e in decision.Opened) await OpenAsync(state, e, null, ct).ConfigureAwait(false);
        RecordedLogs.Emit(_logger, state.Id, _options.WorkerId, decision.NewEvents, _options.OnProgress);
        if (decision.Status != ExecutionStatus.Running)
        {
            state.Finished = true;
            _logger.LogInformation("Execution {ExecutionId} ended: {Status} {Error}", state.Id, decision.Status, decision.Error?.Message);
            await ReportToParentAsync(state, ct).ConfigureAwait(false);
        }
    }

    private async Task OpenAsync(ExecutionState state, PositionedEvent e, History.Entry? entry, CancellationToken ct)
    {
        switch (e)
        {
            case ChildStarted c:
                if (Definition(c.Workflow) is { } definition)
                    await StartChildAsync(state, c, definition, ct).ConfigureAwait(false);
                else _stuck[ChildStarted.ChildId(state.Id, c.Position)] = $"unknown workflow '{c.Workflow}' (register it with the runtime)";
                break;
            case StepScheduled s:
                var work = new StepWork(state, s, (entry?.FailedAttempts ?? 0) + 1, _seq++);
                if (entry?.RetryAt is { } at) _timers.Add(new TimerWork(state, s.Position, at, work, _seq++));
                else Enqueue(work);
                break;
            case TimerStarted t:
                _timers.Add(new TimerWork(state, t.Position, t.DueAt, null, _seq++));
                break;
        }
    }

    private void Enqueue(StepWork work)
    {
        var priority = work.Execution.Functions.TryGetValue(work.Step.Name, out var fn) ? fn.Options.Priority : 0;
        _ready.Enqueue(work, (-priority, work.Seq));
    }

    private void StartReady(Dictionary<Task<StepDone>, StepWork> running, CancellationToken ct)
    {
        var skipped = new List<StepWork>();
        while (running.Count < _options.MaxConcurrency && _ready.TryDequeue(out var work, out _))
        {
            if (work.Execution.Finished) continue;
            var fn = work.Execution.Functions[work.Step.Name];
            var now = _runningByFunction.GetValueOrDefault(fn.Name);
            if (fn.Options.MaxConcurrent is { } cap && now >= cap) { skipped.Add(work); continue; }
            _runningByFunction[fn.Name] = now + 1;
            running.Add(RunStepAsync(work, fn, ct), work);
        }
        foreach (var w in skipped) Enqueue(w);
    }

    private async Task RecordOutcomesAsync(IReadOnlyList<StepDone> outcomes, CancellationToken ct)
    {
        foreach (var group in outcomes.Where(o => !o.Work.Execution.Finished).GroupBy(o => o.Work.Execution))
        {
            var events = new List<HistoryEvent>();
            foreach (var o in group)
            {
                var w = o.Work;
                var policy = group.Key.Functions[w.Step.Name].Options.Retry;
                var e = StepRunner.ToEvent(new StepRunner.Attempt(o.Output, o.BusinessError, o.Failure), w.Step.Position, w.Attempt, policy, _options.Clock.UtcNow, _random);
                events.Add(e);
                if (e is StepAttemptFailed retry)
                    _timers.Add(new TimerWork(group.Key, w.Step.Position, retry.RetryAt, w with { Attempt = w.Attempt + 1, Seq = _seq++ }, _seq++));
            }
            await AppendAsync(group.Key, events, ct).ConfigureAwait(false);
            if (events.Any(e => e is StepCompleted or StepFailed)) group.Key.Dirty = true;
        }
    }

    private async Task FireDueTimersAsync(CancellationToken ct)
    {
        var now = _options.Clock.UtcNow;
        var due = _timers.Where(t => t.Due <= now).OrderBy(t => t.Due).ThenBy(t => t.Seq).ToList();
        if (due.Count == 0) return;
        foreach (var t in due) _timers.Remove(t);
        foreach (var t in due.Where(t => t.RetryOf is not null)) Enqueue(t.RetryOf!);
        foreach (var group in due.Where(t => t.RetryOf is null && !t.Execution.Finished).GroupBy(t => t.Execution))
        {
            await AppendAsync(group.Key, group.Select(t => (HistoryEvent)new TimerFired(t.Position)).ToList(), ct).ConfigureAwait(false);
            group.Key.Dirty = true;
        }
    }

    private async Task AppendAsync(ExecutionState state, IReadOnlyList<HistoryEvent> events, CancellationToken ct)
    {
        await _store.AppendAsync(state.Id, state.Events.Count, events, ct).ConfigureAwait(false);
        state.Events.AddRange(events);
    }
}
