// The in-memory work store: the IWorkStore contract in process memory, one lock, a clock you choose.
using Stent.Execution;
using Stent.Replay;

namespace Stent.Storage;

/// <summary>
/// <see cref="IWorkStore"/> in memory, for tests and single-process use: the same semantics as the
/// database stores (leases, caps, inbox, timers), with time from an <see cref="IClock"/>.
/// </summary>
public sealed class InMemoryWorkStore(IClock? clock = null) : IWorkStore, IIdempotencyStore, IWorkNotifications
{
    private readonly IClock _clock = clock ?? SystemClock.Instance;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Exec> _executions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _keys = new(StringComparer.Ordinal);
    private readonly Dictionary<long, Step> _steps = [];
    private readonly Dictionary<string, string> _results = new(StringComparer.Ordinal);
    private readonly List<DeadLetter> _dead = [];
    private readonly Dictionary<string, (DateTimeOffset Start, int Used)> _rates = new(StringComparer.Ordinal);
    private long _ids;
    private long _roundTrips;
    private readonly WorkPulse _pulse = new();

    /// <inheritdoc />
    public Task WaitForWorkAsync(TimeSpan timeout, CancellationToken ct) => _pulse.WaitForWorkAsync(timeout, ct);

    /// <inheritdoc />
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    private sealed class Exec(NewExecution n, DateTimeOffset now, string? resumedFrom)
    {
        public NewExecution New { get; } = n;
        public List<HistoryEvent> Events { get; } = [n.Started(now, resumedFrom)];
        public string? Key { get; set; } = n.IdempotencyKey;
        public string? ResumedBy { get; set; }
        public ExecutionState State { get; set; } = ExecutionState.Pending;
        public DateTimeOffset CreatedAt { get; } = now;
        public DateTimeOffset UpdatedAt { get; set; } = now;
        public DateTimeOffset? CompletedAt { get; set; }
        public DateTimeOffset? Deadline { get; } = n.MaxDuration is { } m ? now + n.Delay + m : null;
        public DateTimeOffset? RunnableAt { get; set; } = now + n.Delay;
        public long LeaseToken { get; set; }
        public DateTimeOffset? LeaseUntil { get; set; }
        public bool CancelRequested { get; set; }
        public List<(long Id, HistoryEvent Event)> Inbox { get; } = [];
        public Dictionary<string, DateTimeOffset> Timers { get; } = new(StringComparer.Ordinal);
        public long Signals { get; set; }
        public int StepCount { get; set; }
        public string? Output { get; set; }
        public WorkflowError? Error { get; set; }
        public bool Finished => State is ExecutionState.Completed or ExecutionState.Failed or ExecutionState.Cancelled or ExecutionState.TimedOut;

        public ExecutionInfo Info() => new(New.Id, New.Workflow, New.Version, State, CreatedAt, UpdatedAt, CompletedAt, Deadline,
            New.Queue, New.Tags, New.Priority, Output, Error, Key, ResumedBy, New.ParentId);

        public void Recompute(DateTimeOffset now)
        {
            if (Finished) { RunnableAt = null; return; }
            DateTimeOffset? next = CancelRequested ? now : null;
            foreach (var due in Timers.Values) next = Min(next, due);
            next = Min(next, Deadline);
            RunnableAt = next;
        }
    }

    private sealed class Step(long id, string executionId, NewStep s, DateTimeOffset now)
    {
        public long Id { get; } = id;
        public string ExecutionId { get; } = executionId;
        public NewStep New { get; } = s;
        public int Attempt { get; set; } = 1;
        public DateTimeOffset AvailableAt { get; set; } = now;
        public bool Running { get; set; }
        public DateTimeOffset LeaseUntil { get; set; }
        public long LeaseToken { get; set; }
    }

    private static DateTimeOffset? Min(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a < b ? a : b;

    private T Locked<T>(Func<DateTimeOffset, T> f, bool wakesWorkers = false)
    {
        Interlocked.Increment(ref _roundTrips);
        T result;
        lock (_gate) result = f(_clock.UtcNow);
        if (wakesWorkers) _pulse.Pulse();
        return result;
    }

    /// <inheritdoc />
    public Task<(string Id, bool Created)> CreateExecutionAsync(NewExecution execution, CancellationToken ct = default) => Task.FromResult(Locked(now =>
    {
        if (_executions.ContainsKey(execution.Id)) return (execution.Id, false);
        var resumedFrom = execution.ResumedFrom;
        if (execution.IdempotencyKey is { } key && _keys.TryGetValue(key, out var existing))
        {
            if (!NewExecution.CanResume(_executions[existing].State)) return (existing, false);
            resumedFrom = existing;
        }
        if (resumedFrom is not null)
        {
            if (!_executions.TryGetValue(resumedFrom, out var old)) throw new KeyNotFoundException($"No execution '{resumedFrom}' to resume.");
            if (old.ResumedBy is { } by) return (by, false);
            if (!NewExecution.CanResume(old.State)) throw NewExecution.NotResumable(resumedFrom, old.State);
            old.ResumedBy = execution.Id;
            if (old.Key is { } moved) { _keys.Remove(moved); old.Key = null; }
        }
        _executions[execution.Id] = new Exec(execution, now, resumedFrom);
        if (execution.IdempotencyKey is { } k) _keys[k] = execution.Id;
        return (execution.Id, true);
    }, wakesWorkers: true));

    /// <inheritdoc />
    public Task<ExecutionInfo?> GetExecutionAsync(string id, CancellationToken ct = default) =>
        Task.FromResult(Locked(_ => _executions.TryGetValue(id, out var e) ? e.Info() : null));

    /// <inheritdoc />
    public Task<IReadOnlyList<ExecutionInfo>> ListExecutionsAsync(ExecutionFilter filter, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<ExecutionInfo>>(Locked(_ => _executions.Values
            .Where(e => (filter.State is null || e.State == filter.State) && (filter.Workflow is null || e.New.Workflow == filter.Workflow))
            .OrderByDescending(e => e.CreatedAt).Skip(filter.Offset).Take(filter.Limit).Select(e => e.Info()).ToList()));

    /// <inheritdoc />
    public Task<IReadOnlyList<HistoryEvent>> ReadAsync(string id, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<HistoryEvent>>(Locked(_ => _executions.TryGetValue(id, out var e) ? e.Events.ToArray() : []));

    /// <inheritdoc />
    public Task<IReadOnlyList<HistoryEvent>> ReadAfterAsync(string id, long after, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<HistoryEvent>>(Locked(_ => _executions.TryGetValue(id, out var e) ? e.Events.Skip((int)after).ToArray() : []));

    /// <inheritdoc />
    public Task<ClaimResult> ClaimAsync(ClaimRequest request, CancellationToken ct = default) => Task.FromResult(Locked(now =>
    {
        bool Routed(string? queue, IReadOnlyList<string> tags) => StoreJson.Routed(queue, tags, request.Queues, request.Tags);

        var decisions = new List<DecisionTask>();
        foreach (var e in _executions.Values
                     .Where(e => !e.Finished && e.RunnableAt <= now && (e.LeaseUntil is null || e.LeaseUntil < now) && Routed(e.New.Queue, e.New.Tags))
                     .OrderByDescending(e => e.New.Priority).ThenBy(e => e.RunnableAt).Take(request.MaxDecisions))
        {
            e.LeaseToken = ++_ids;
            e.LeaseUntil = now + request.Lease;
            decisions.Add(new DecisionTask(e.New.Id, e.LeaseToken, e.Events.Count, e.Inbox.ToArray(),
                e.Timers.Where(t => t.Value <= now).Select(t => t.Key).ToArray(), e.Deadline, e.CancelRequested));
        }

        var running = _steps.Values.Where(s => s.Running && s.LeaseUntil >= now).GroupBy(s => s.New.Name).ToDictionary(g => g.Key, g => g.Count());
        var steps = new List<StepTask>();
        foreach (var s in _steps.Values
                     .Where(s => s.Running ? s.LeaseUntil < now : s.AvailableAt <= now)
                     .Where(s => Routed(s.New.Queue, s.New.Tags))
                     .OrderByDescending(s => s.New.Priority).ThenBy(s => s.Id))
        {
            if (steps.Count >= request.MaxSteps) break;
            var busy = running.GetValueOrDefault(s.New.Name);
            if (s.New.MaxConcurrent is { } cap && busy >= cap) continue;
            if (s.New.MaxPerSecond is { } rate)
            {
                var window = _rates.TryGetValue(s.New.Name, out var w) && w.Start > now - TimeSpan.FromSeconds(1) ? w : (Start: now, Used: 0);
                if (window.Used >= rate) continue;
                _rates[s.New.Name] = (window.Start, window.Used + 1);
            }
            running[s.New.Name] = busy + 1;
            if (s.Running) s.Attempt++;
            s.Running = true;
            s.LeaseToken = ++_ids;
            s.LeaseUntil = now + request.Lease;
            steps.Add(new StepTask(s.Id, s.ExecutionId, s.New.Position, s.New.Name, s.New.Input, s.Attempt, s.LeaseToken));
        }
        return new ClaimResult(now, decisions, steps);
    }));

    /// <inheritdoc />
    public Task<bool> CommitDecisionAsync(DecisionCommit c, CancellationToken ct = default) => Task.FromResult(Locked(now =>
    {
        if (!_executions.TryGetValue(c.ExecutionId, out var e) || e.LeaseToken != c.LeaseToken || e.LeaseUntil < now || e.Events.Count != c.ExpectedVersion)
            return false;
        e.Events.AddRange(c.Events);
        var folded = c.FoldedInbox.ToHashSet();
        e.Inbox.RemoveAll(i => folded.Contains(i.Id));
        foreach (var t in c.FiredTimers) e.Timers.Remove(t);
        foreach (var s in c.Steps) { var id = ++_ids; _steps[id] = new Step(id, e.New.Id, s, now); e.StepCount++; }
        foreach (var (position, due) in c.Timers) e.Timers[position] = due;
        var drop = c.DropSteps.ToHashSet(StringComparer.Ordinal);
        if (drop.Count > 0)
            foreach (var s in _steps.Values.Where(s => s.ExecutionId == e.New.Id && drop.Contains(s.New.Position)).ToList()) { _steps.Remove(s.Id); e.StepCount--; }
        foreach (var child in c.Children)
            if (!_executions.ContainsKey(child.Id))
                _executions[child.Id] = new Exec(child with { Queue = e.New.Queue, Tags = e.New.Tags, Priority = e.New.Priority }, now, null);
        foreach (var position in c.DropSteps) RequestCancel(ChildStarted.ChildId(e.New.Id, position), now);
        e.State = c.State;
        e.UpdatedAt = now;
        e.LeaseUntil = null;
        if (e.Finished)
        {
            e.CompletedAt = now;
            e.Output = c.Output;
            e.Error = c.Error;
            e.Timers.Clear();
            foreach (var s in _steps.Values.Where(s => s.ExecutionId == e.New.Id).ToList()) _steps.Remove(s.Id);
            e.StepCount = 0;
            foreach (var child in _executions.Values.Where(x => x.New.ParentId == e.New.Id).ToList()) RequestCancel(child.New.Id, now);
            if (e.New.ParentId is { } parentId && _executions.TryGetValue(parentId, out var parent) && !parent.Finished)
            {
                parent.Inbox.Add((++_ids, c.EndedAt(e.New.ParentPosition!)));
                parent.RunnableAt = now;
            }
        }
        e.Recompute(now);
        if (e.Inbox.Count > 0 && !e.Finished) e.RunnableAt = now;
        return true;
    }, wakesWorkers: true));

    /// <inheritdoc />
    public Task<IReadOnlyList<bool>> CompleteStepsAsync(IReadOnlyList<StepOutcome> outcomes, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<bool>>(Locked(now => outcomes.Select(o =>
        {
            if (!_steps.TryGetValue(o.Step.Id, out var s) || !s.Running || s.LeaseToken != o.Step.LeaseToken || s.LeaseUntil < now) return false;
            var e = _executions[s.ExecutionId];
            e.Inbox.Add((++_ids, o.Event));
            if (o.Event is StepAttemptFailed retry)
            {
                s.Running = false;
                s.Attempt++;
                s.AvailableAt = retry.RetryAt;
            }
            else
            {
                _steps.Remove(s.Id);
                e.StepCount--;
                e.RunnableAt = Min(e.RunnableAt, now + WakeDelay.After(e.StepCount > 0, e.Events.Count));
                if (o.Event is StepFailed failed) _dead.Add(new DeadLetter(++_ids, s.ExecutionId, s.New.Position, s.New.Name, s.New.Input, failed, now));
            }
            return true;
        }).ToList(), wakesWorkers: true));

    /// <inheritdoc />
    public Task<IReadOnlyList<long>> RenewLeasesAsync(IReadOnlyList<LeasedStep> steps, TimeSpan lease, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<long>>(Locked(now => steps.Where(l =>
        {
            if (_steps.TryGetValue(l.Id, out var s) && s.Running && s.LeaseToken == l.LeaseToken && s.LeaseUntil >= now)
            {
                s.LeaseUntil = now + lease;
                return false;
            }
            return true;
        }).Select(l => l.Id).ToList()));

    /// <inheritdoc />
    public Task SignalAsync(string executionId, string name, string payload, CancellationToken ct = default) => Task.FromResult(Locked(now =>
    {
        if (!_executions.TryGetValue(executionId, out var e)) throw new KeyNotFoundException($"No execution '{executionId}' to signal.");
        if (e.Finished) throw new InvalidOperationException($"Execution '{executionId}' has finished ({e.State}); signal '{name}' was not delivered.");
        e.Inbox.Add((++_ids, new SignalReceived(name, payload, ++e.Signals)));
        e.RunnableAt = now;
        return true;
    }, wakesWorkers: true));

    /// <inheritdoc />
    public Task<bool> CancelAsync(string executionId, CancellationToken ct = default) => Task.FromResult(Locked(now =>
    {
        if (!_executions.ContainsKey(executionId)) throw new KeyNotFoundException($"No execution '{executionId}' to cancel.");
        return RequestCancel(executionId, now);
    }, wakesWorkers: true));

    private bool RequestCancel(string executionId, DateTimeOffset now)
    {
        if (!_executions.TryGetValue(executionId, out var e) || e.Finished) return false;
        e.CancelRequested = true;
        e.RunnableAt = now;
        return true;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<DeadLetter>> ListDeadLettersAsync(int limit = 50, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<DeadLetter>>(Locked(_ => _dead.AsEnumerable().Reverse().Take(limit).ToList()));

    /// <inheritdoc />
    public Task<int> DeleteEndedAsync(TimeSpan olderThan, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(olderThan, TimeSpan.Zero);
        return Task.FromResult(Locked(now =>
        {
            var gone = _executions.Values
                .Where(e => e.Finished && e.CompletedAt <= now - olderThan && (e.ResumedBy is null || _executions.GetValueOrDefault(e.ResumedBy)?.Finished != false))
                .Select(e => e.New.Id).ToHashSet(StringComparer.Ordinal);
            foreach (var id in gone)
                if (_executions.Remove(id, out var e) && e.Key is { } key) _keys.Remove(key);
            _dead.RemoveAll(d => gone.Contains(d.ExecutionId));
            return gone.Count;
        }));
    }

    /// <inheritdoc />
    public Task<DeadLetter?> GetDeadLetterAsync(long id, CancellationToken ct = default) =>
        Task.FromResult(Locked(_ => _dead.Find(d => d.Id == id)));

    /// <inheritdoc />
    public Task<bool> DiscardDeadLetterAsync(long id, CancellationToken ct = default) =>
        Task.FromResult(Locked(_ => _dead.RemoveAll(d => d.Id == id) > 0));

    /// <inheritdoc />
    public Task<string?> TryGetAsync(string key, CancellationToken ct = default) =>
        Task.FromResult(Locked(_ => _results.GetValueOrDefault(key)));

    /// <inheritdoc />
    public Task PutAsync(string key, string output, CancellationToken ct = default) =>
        Task.FromResult(Locked(_ => _results.TryAdd(key, output)));
}
