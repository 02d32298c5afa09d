// The client: dispatch executions, wait for results, inspect, list, cancel and signal them.
using System.Text.Json;
using Stent.Replay;
using Stent.Serialization;
using Stent.Storage;

namespace Stent.Execution;

/// <summary>
/// Starts and observes executions in a shared <see cref="IWorkStore"/>; workers run them. A workflow passed to
/// <see cref="DispatchAsync{TIn, TOut}(WorkflowDef{TIn, TOut}, TIn, DispatchOptions?, CancellationToken)"/> needs no
/// registration; dispatching by name needs the workflow in <paramref name="registry"/>.
/// </summary>
public sealed partial class StentClient(IWorkStore store, PayloadSerializer? serializer = null,
    Registry? registry = null)
{
    private readonly IWorkStore _store = store ?? throw new ArgumentNullException(nameof(store));
    private readonly PayloadSerializer _serializer = serializer ?? PayloadSerializer.Default;

    /// <summary>The workflows this client dispatches by name.</summary>
    public Registry Registry { get; } = registry ?? new Registry();

    /// <summary>Makes a workflow dispatchable by name.</summary>
    public StentClient Register<TIn, TOut>(WorkflowDef<TIn, TOut> workflow)
    {
        Registry.Add(workflow);
        return this;
    }

    /// <summary>
    /// Starts an execution of the registered workflow named <paramref name="workflow"/> on <paramref name="input"/>,
    /// which must be of (or convertible to) its input type.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No workflow of that name is registered (the message lists those that are,
    /// closest first).</exception>
    /// <exception cref="ArgumentException">The input is not of the workflow's input type.</exception>
    public Task<string> DispatchAsync<TIn>(string workflow, TIn input, DispatchOptions? options = null,
        CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workflow);
        var definition = Registry.Workflow(workflow) ?? throw Registry.UnknownWorkflow(workflow);
        if (input is not null && !definition.InputType.IsInstanceOfType(input))
            throw new ArgumentException(
                $"Workflow '{workflow}' takes {definition.InputType.FullName}, not {input.GetType().FullName}.",
                    nameof(input));
        return DispatchAsync(definition, input, options, ct);
    }

    /// <summary>
    /// Starts an execution of <paramref name="workflow"/> (built once first, so bad input is rejected
    /// before anything is recorded). The same execution id or idempotency key returns the existing execution,
    /// unless the one holding the key failed, was cancelled or timed out: then the new execution resumes it,
    /// reusing every step it completed, and runs only the rest (<see cref="ExecutionDetails.ResumedFrom"/> says so).
    /// </summary>
    public Task<string> DispatchAsync<TIn, TOut>(WorkflowDef<TIn, TOut> workflow, TIn input, DispatchOptions? options =
        null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        return DispatchAsync((IWorkflowDefinition)workflow, input, options, ct);
    }

    private async Task<string> DispatchAsync(IWorkflowDefinition workflow, object? input, DispatchOptions? options,
        CancellationToken ct)
    {
        options ??= new DispatchOptions();
        _ = workflow.Build(input);
        var json = _serializer.SerializeChecked(input, workflow.InputType, $"The input of workflow '{workflow.Name}'");
        var id = options.ExecutionId ?? Guid.NewGuid().ToString("N");
        // The execution's decisions and steps, in any process, continue the dispatch's trace.
        using var activity = Diagnostics.StentTelemetry.StartDispatch(workflow.Name);
        var (existing, _) = await _store.CreateExecutionAsync(new NewExecution(
            id, workflow.Name, workflow.Version, json, options.IdempotencyKey, options.Delay.Value,
                options.MaxDuration.OrNull,
            options.Queue, options.Tags, options.Priority)
        {
            TraceParent = Diagnostics.StentTelemetry.Context(activity ?? System.Diagnostics.Activity.Current),
        }, ct).ConfigureAwait(false);
        activity?.SetTag("stent.execution_id", existing);
        return existing;
    }

    /// <summary>
    /// Resumes an execution that failed, was cancelled or timed out: a new execution of the same workflow and
    /// input (and idempotency key) that reuses every step the old one completed — same position, function and
    /// input — its sleeps' due times, recorded values and taken signals, and runs only the rest. Resuming the same
    /// execution
    /// twice returns the first resumption. Returns the new execution's id.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No such execution.</exception>
    /// <exception cref="InvalidOperationException">It is still running or completed.</exception>
    public async Task<string> ResumeAsync(string executionId, CancellationToken ct = default)
    {
        var info = await _store.GetExecutionAsync(executionId, ct).ConfigureAwait(false) ?? throw new
            KeyNotFoundException($"No execution '{executionId}' to resume.");
        if (info.ResumedBy is { } by) return by;
        if (!NewExecution.CanResume(info.State)) throw NewExecution.NotResumable(executionId, info.State);
        var started = (ExecutionStarted)(await _store.ReadAsync(executionId, ct).ConfigureAwait(false))[0];
        var (id, _) = await _store.CreateExecutionAsync(new NewExecution(
            Guid.NewGuid().ToString("N"), info.Workflow, info.Version, started.Input, info.IdempotencyKey,
                TimeSpan.Zero,
            info.Deadline is { } deadline ? deadline - info.CreatedAt : null, info.Queue, info.Tags, info.Priority,
                ResumedFrom: executionId), ct).ConfigureAwait(false);
        return id;
    }

    /// <summary>The result once the execution ends (a cancelled or timed-out one gives its error); <see
    /// cref="TimeoutException"/> after <paramref name="timeout"/>. An execution that ended unsuccessfully and was
    /// resumed (by its idempotency key, <see cref="ResumeAsync"/> or a dead letter's replay) is followed: the result
    /// is its resumption's.</summary>
    /// <exception cref="KeyNotFoundException">No such execution.</exception>
    public async Task<Result<TOut>> WaitAsync<TOut>(string executionId, TimeSpan? timeout = null, CancellationToken ct =
        default)
    {
        var until = DateTime.UtcNow + (timeout ?? Timeout.InfiniteTimeSpan);
        var delay = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            var info = await _store.GetExecutionAsync(executionId, ct).ConfigureAwait(false)
                ?? throw new KeyNotFoundException($"No execution '{executionId}'.");
            switch (info.State)
            {
                case ExecutionState.Completed: return Result<TOut>.Ok((TOut)_serializer.Deserialize(info.Output!,
                    typeof(TOut))!);
                case ExecutionState.Failed or ExecutionState.Cancelled or ExecutionState.TimedOut
                    when info.ResumedBy is { } resumption:
                    executionId = resumption;
                    continue;
                case ExecutionState.Failed or ExecutionState.Cancelled or ExecutionState.TimedOut:
                    return Result<TOut>.Fail(info.Error ?? new BusinessError(info.State.ToString()));
            }
            if (timeout is not null && DateTime.UtcNow >= until)
                throw new
                    TimeoutException($"Execution '{executionId}' did not finish within {timeout}; it is {info.State}.");
            // Wake on the store's notifications (a decision that ends an execution notifies); polling is the safety
            // net.
            if (_store is IWorkNotifications notifications) await notifications.WaitForWorkAsync(delay,
                ct).ConfigureAwait(false);
            else await Task.Delay(delay, ct).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
        }
    }

    /// <summary>The result of an execution of <paramref name="workflow"/>.</summary>
    public Task<Result<TOut>> WaitAsync<TIn, TOut>(WorkflowDef<TIn, TOut> workflow, string executionId, TimeSpan?
        timeout = null, CancellationToken ct = default) =>
        WaitAsync<TOut>(executionId, timeout, ct);

    /// <summary>State, step timeline, progress, counters and timestamps of an execution.</summary>
    public async Task<ExecutionDetails> GetAsync(string executionId, CancellationToken ct = default)
    {
        var info = await _store.GetExecutionAsync(executionId, ct).ConfigureAwait(false) ?? throw new
            KeyNotFoundException($"No execution '{executionId}'.");
        var events = await _store.ReadAsync(executionId, ct).ConfigureAwait(false);
        var steps = new Dictionary<string, StepInfo>(StringComparer.Ordinal);
        var taken = events.OfType<SignalConsumed>().Select(c => c.Sequence).ToHashSet();
        var counters = new Dictionary<string, long> { ["scheduled"] = 0, ["completed"] = 0, ["reused"] = 0, ["failed"] =
            0, ["retried"] = 0, ["timers"] = 0, ["signals"] = 0, ["children"] = 0 };
        ProgressReport? progress = null;
        var state = new Dictionary<string, string>(StringComparer.Ordinal);
        var timers = new Dictionary<string, TimerStarted>(StringComparer.Ordinal);
        var children = new Dictionary<string, ChildStarted>(StringComparer.Ordinal);
        var retryAt = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            if (e is ITimedOutcome { StartedAt: { } started } timed && steps.TryGetValue(timed.Position, out var ran))
                steps[timed.Position] = ran with { StartedAt = ran.StartedAt ?? started, EndedAt = timed.EndedAt };
            switch (e)
            {
                case StepScheduled s: steps[s.Position] = new StepInfo(s.Position, s.Name, "scheduled", 0, null);
                    counters["scheduled"]++; break;
                case TimerStarted t: timers[t.Position] = t; counters["timers"]++; break;
                case TimerFired f: timers.Remove(f.Position); break;
                case SignalConsumed c: timers.Remove(c.Position); break;
                case ChildEnded c: children.Remove(c.Position); break;
                case StepAttemptFailed f: steps[f.Position] = steps[f.Position] with { Status = "retrying", Attempts =
                    f.Attempt, Error = f.Error.Message }; counters["retried"]++; retryAt[f.Position] = f.RetryAt; break;
                case StepCompleted c:
                    var status = c.ReusedFrom is not null ? "reused" : c.BusinessError is null ? "completed" :
                        "business-error";
                    steps[c.Position] = steps[c.Position] with { Status = status, Attempts = c.Attempt, Error =
                        c.BusinessError };
                    counters[c.ReusedFrom is null ? "completed" : "reused"]++;
                    break;
                case ChildStarted c: counters["children"]++; children[c.Position] = c; break;
                case StepFailed f: steps[f.Position] = steps[f.Position] with { Status = "failed", Attempts =
                    f.Attempts, Error = f.Error.Message }; counters["failed"]++; break;
                case SignalReceived: counters["signals"]++; break;
                case ProgressReported p: progress = p.Report; break;
                case StateSet st: state[st.Key] = st.Value; break;
            }
        }
        List<WaitingFor> waiting = info.State.HasEnded() ? [] :
        [
            .. info.Awaiting.Select(a => new WaitingFor("signal", $"'{a.Name}' ({a.Type})")),
            .. timers.Values.Select(t => new WaitingFor("timer", $"{t.Position} ({Purpose(t.Purpose)})", t.DueAt)),
            .. children.Values.Select(c => new WaitingFor("child", ChildStarted.ChildId(executionId, c.Position))),
            .. steps.Values.Where(s => s.Status is "scheduled" or "retrying").Select(s => new WaitingFor("step",
                $"{s.Name} at {s.Position}", s.Status == "retrying" ? retryAt[s.Position] : null)),
        ];
        return new ExecutionDetails(info, [.. steps.Values.OrderBy(s => s.Position, PositionOrder.Instance)], progress,
            counters, state, events.Count, ((ExecutionStarted)events[0]).ResumedFrom,
            await UnservedAsync(info, ct).ConfigureAwait(false))
        {
            UntakenSignals = [.. events.OfType<SignalReceived>().Where(r => !taken.Contains(r.Sequence))
                .Select(r => r.Name)],
            WaitingFor = waiting,
        };
    }

    private static string Purpose(TimerPurpose purpose) => purpose switch
    {
        TimerPurpose.Sleep => "sleep",
        TimerPurpose.Retry => "retry back-off",
        _ => "signal timeout",
    };

    /// <summary>How long a worker counts as alive after its last heartbeat.</summary>
    public static TimeSpan WorkerSeenWithin { get; } = TimeSpan.FromMinutes(1);

    /// <summary>"no worker has workflow 'X'" for an execution that has not ended and that no live worker can
    /// run.</summary>
    public async Task<string?> UnservedAsync(ExecutionInfo info, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (info.State.HasEnded()) return null;
        var workers = await _store.ListWorkersAsync(WorkerSeenWithin, ct).ConfigureAwait(false);
        return workers.Any(w => w.Workflows.Contains(info.Workflow)) ? null
            : $"no worker has workflow '{info.Workflow}' ({workers.Count} live workers); it waits for one that does";
    }

    /// <summary>Executions matching the filter, newest first.</summary>
    public Task<IReadOnlyList<ExecutionInfo>> ListAsync(ExecutionFilter? filter = null, CancellationToken ct = default)
        =>
        _store.ListExecutionsAsync(filter ?? new ExecutionFilter(), ct);

    /// <summary>Cancels an execution: steps not started never start, running ones see their cancellation token within
    /// about a second, late results are ignored. False, and nothing done, when it had already finished.</summary>
    /// <exception cref="KeyNotFoundException">No such execution.</exception>
    public Task<bool> CancelAsync(string executionId, CancellationToken ct = default) => _store.CancelAsync(executionId,
        ct);

    /// <summary>Steps that failed for good (after their last attempt), newest first.</summary>
    public Task<IReadOnlyList<DeadLetter>> ListDeadLettersAsync(int limit = 50, CancellationToken ct = default) =>
        _store.ListDeadLettersAsync(limit, ct);

    /// <summary>One dead letter: the function, its input, the failure with its stack trace and attempts.</summary>
    /// <exception cref="KeyNotFoundException">No dead letter with that id.</exception>
    public async Task<DeadLetter> GetDeadLetterAsync(long id, CancellationToken ct = default) =>
        await _store.GetDeadLetterAsync(id, ct).ConfigureAwait(false) ?? throw new
            KeyNotFoundException($"No dead letter {id}.");

    /// <summary>Removes a dead letter (the failure stays in its execution's history).</summary>
    /// <exception cref="KeyNotFoundException">No dead letter with that id.</exception>
    public async Task DiscardDeadLetterAsync(long id, CancellationToken ct = default)
    {
        if (!await _store.DiscardDeadLetterAsync(id, ct).ConfigureAwait(false))
            throw new KeyNotFoundException($"No dead letter {id}.");
    }

    /// <summary>
    /// Runs a dead-lettered step again, where its result can still count: its execution, which must have ended
    /// unsuccessfully (failed, cancelled, timed out), is resumed — finished work is reused and the dead step runs
    /// afresh with a new set of attempts — and the dead letter is removed. Returns the resuming execution's id.
    /// </summary>
    /// <exception cref="InvalidOperationException">The step's execution is still running or completed (it handled the
    /// failure; nothing would take a new result).</exception>
    public async Task<string> ReplayDeadLetterAsync(long id, CancellationToken ct = default)
    {
        var letter = await GetDeadLetterAsync(id, ct).ConfigureAwait(false);
        var info = await _store.GetExecutionAsync(letter.ExecutionId, ct).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"Dead letter {id} belongs to execution '{letter.ExecutionId}', which " +
                $"no longer exists.");
        if (info.ResumedBy is null && !NewExecution.CanResume(info.State))
            throw new InvalidOperationException(
                $"Dead letter {id} ('{letter.Name}' at {letter.Position}) belongs to execution " +
                    $"'{letter.ExecutionId}', which is {info.State}: " +
                "it took the failure and carried on, so a new result would have nowhere to go. Discard it, or dispatch the work anew.");
        var resumed = await ResumeAsync(letter.ExecutionId, ct).ConfigureAwait(false);
        await _store.DiscardDeadLetterAsync(id, ct).ConfigureAwait(false);
        return resumed;
    }

    /// <summary>
    /// Deletes executions that ended more than <paramref name="olderThan"/> ago, with their histories and dead letters
    /// (one still being resumed is kept). Returns how many were deleted.
    /// </summary>
    public Task<int> CleanupAsync(Duration olderThan, CancellationToken ct = default) =>
        _store.DeleteEndedAsync(olderThan.Value, ct);

    /// <summary>
    /// Sends a signal whose payload is JSON text (from a command line or another service). When the execution waits
    /// for that signal now, a payload of a JSON kind the wait cannot read is refused before anything is written, and
    /// the error names the type the wait expects. False, and nothing delivered, when the execution has finished.
    /// </summary>
    /// <exception cref="PayloadException">The payload is not JSON, or not of a kind the waiting workflow reads.
    /// </exception>
    /// <exception cref="KeyNotFoundException">No such execution.</exception>
    public async Task<bool> SignalJsonAsync(string executionId, string name, string json,
        CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        JsonElement payload;
        try
        {
            using var document = JsonDocument.Parse(json);
            payload = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new PayloadException($"The payload of signal '{name}' is not JSON: {e.Message}", e);
        }
        var info = await _store.GetExecutionAsync(executionId, ct).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"No execution '{executionId}' to signal.");
        if (info.Awaiting.FirstOrDefault(a => a.Name == name) is { } awaited && !awaited.Takes(payload))
            throw new PayloadException($"Execution '{executionId}' waits for signal '{name}' as {awaited.Type} " +
                $"(JSON {string.Join(" or ", awaited.Kinds)}); the payload {json} " +
                $"({AwaitedSignal.KindOf(payload)}) does not read as that: not sent.");
        return await _store.SignalAsync(executionId, name, json, ct).ConfigureAwait(false);
    }

    /// <summary>Sends a declared signal (its payload typed as the workflow waits for it); see
    /// <see cref="SignalAsync{T}(string, string, T, CancellationToken)"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such execution.</exception>
    public Task<bool> SignalAsync<T>(string executionId, Signal<T> signal, T payload, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(signal);
        return SignalAsync(executionId, signal.Name, payload, ct);
    }

    /// <summary>Sends a signal; every send to a running execution is delivered, in order. False, and nothing
    /// delivered, when the execution has already finished.</summary>
    /// <exception cref="KeyNotFoundException">No such execution.</exception>
    public Task<bool> SignalAsync<T>(string executionId, string name, T payload, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return _store.SignalAsync(executionId, name, _serializer.Serialize(payload, typeof(T)), ct);
    }
}
