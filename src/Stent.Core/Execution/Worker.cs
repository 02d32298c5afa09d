// A worker: claims decisions and steps from a shared store under leases, runs them, and group-commits step outcomes.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Stent.Replay;
using Stent.Storage;
using Stent.Workflows;

namespace Stent.Execution;

/// <summary>
/// Serves work from an <see cref="IWorkStore"/> that many workers on many machines share. A decision
/// replays an execution and commits its new events, steps and timers atomically; a step runs under a
/// lease that a heartbeat renews, and its outcome is written in a batch with other outcomes. A waiting
/// workflow holds no slot and no memory: it is a row until something wakes it.
/// </summary>
public sealed partial class Worker
{
    private readonly IWorkStore _store;
    private readonly WorkerOptions _options;
    private readonly ILogger _logger;
    private readonly StepRunner _runner;
    private readonly Random _random;
    private readonly StepBatching _batching;
    private readonly TimeProvider _time;
    private readonly Registry _registry;
    private readonly Lock _gate = new();
    // By id and lease token: a step's id may be another's once its row is gone (its lease lost, say, while it runs).
    private readonly Dictionary<LeasedStep, Running> _running = [];
    private readonly List<Finished> _done = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly HistoryCache _histories = new(256);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task>> _learning =
        new(StringComparer.Ordinal);

    /// <summary>A running step; <see cref="Alone"/> when its decision claimed no other step with it.</summary>
    private sealed record Running(StepTask Task, CancellationTokenSource Cancel, DateTimeOffset ClaimedAt,
        StoreClock Clock)
    {
        public bool Alone { get; init; }
    }
    /// <summary>A step that ran: its outcome (for a batch, its items' outcomes, its items, and those that run
    /// again).</summary>
    private sealed record Finished(StepTask Task, HistoryEvent Event, StoreClock Clock)
    {
        public IReadOnlyList<StepItem> Items { get; init; } = [];
        public IReadOnlyList<Requeued> Requeue { get; init; } = [];

        public StepOutcome Outcome => new(Task.Lease, Event)
            { Items = Items, Requeue = Requeue };
    }

    /// <summary>An execution whose last decision this worker wrote: the claim it came from and its stream's version
    /// after that commit.</summary>
    private sealed record Sticky(DecisionTask Task, long Version);

    private const int StickyCapacity = 1024;
    private volatile bool _draining;
    /// <summary>Steps whose threads are recording their outcomes with the next decision (their slots are free).
    /// </summary>
    private int _continuing;
    /// <summary>1 when a step's thread freed its slot without claiming a next step: the loop claims at once.</summary>
    private int _slotFreed;
    private readonly Dictionary<string, Sticky> _sticky = new(StringComparer.Ordinal);

    /// <summary>A worker on <paramref name="store"/> that runs the workflows of <paramref name="registry"/> (and those
    /// registered later).</summary>
    public Worker(IWorkStore store, WorkerOptions? options = null, Registry? registry = null)
    {
        _registry = registry ?? new Registry();
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _options = (options ?? new WorkerOptions()).Validated();
        _logger = (_options.LoggerFactory ?? _options.Services?.GetService<ILoggerFactory>() ??
            NullLoggerFactory.Instance).CreateLogger("Stent.Worker");
        _runner = new StepRunner(_options.Serializer, store as IIdempotencyStore, _logger, _options.WorkerId,
            _options.Services);
        _random = _options.Seed is { } seed ? new Random(seed) : new Random();
        _batching = new StepBatching(_options.MaxBatchSize, _options.MinBatchPieces);
        _time = _options.Time;
    }

    /// <summary>This worker's id.</summary>
    public string Id => _options.WorkerId;

    /// <summary>The workflows and functions this worker runs.</summary>
    public Registry Registry => _registry;

    /// <summary>
    /// Makes a workflow runnable by this worker: it claims decisions of that workflow only once registered (others
    /// stay pending for a worker that has them), and learns the functions and child workflows it uses as it runs it.
    /// </summary>
    public Worker Register<TIn, TOut>(WorkflowDef<TIn, TOut> definition)
    {
        _registry.Add(definition);
        return this;
    }

    /// <summary>Makes a durable function runnable by this worker before it meets the function in a decision.</summary>
    public Worker Register<TIn, TOut>(Durable<TIn, TOut> function)
    {
        _registry.Add(function);
        return this;
    }

    /// <summary>
    /// Claims and runs work until <paramref name="ct"/> is cancelled, then drains: finishes the round under way (its
    /// claim and decisions), claims nothing more, waits for running steps and records their outcomes.
    /// </summary>
    public async Task ServeAsync(CancellationToken ct)
    {
        using var stopHeartbeat = new CancellationTokenSource();
        var heartbeat = HeartbeatAsync(stopHeartbeat.Token);
        var schedules = _options.RunSchedules ? SchedulesAsync(stopHeartbeat.Token) : Task.CompletedTask;
        var idle = _options.PollMin;
        var claim = true;
        var lastClaim = _time.GetTimestamp();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                bool worked;
                try
                {
                    // A wake by this worker's own finished steps only records them (going on with their executions
                    // where it can); the store is polled for other work at the usual pace, not once per step.
                    claim = claim || Interlocked.Exchange(ref _slotFreed, 0) == 1
                        || _time.GetElapsedTime(lastClaim) >= idle;
                    if (claim) lastClaim = _time.GetTimestamp();
                    // A stop takes effect between rounds: a round's claim and decisions are not cancelled halfway,
                    // which could leave an execution or a step leased to this worker (a commit the database made but
                    // whose answer was cancelled) until the lease expires.
                    worked = await RoundAsync(CancellationToken.None, claim).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    // The store is unreachable or refused a write: nothing recorded is lost (leases expire, outcomes
                    // are kept), so back off and try again.
                    _logger.LogWarning(e, "Worker {WorkerId}: store call failed; retrying", _options.WorkerId);
                    worked = false;
                    idle = _options.PollMax;
                }
                if (worked) { (idle, claim) = (_options.PollMin, true); continue; }
                claim = !await WaitAsync(idle, ct).ConfigureAwait(false);
                if (claim) idle = TimeSpan.FromTicks(Math.Min(idle.Ticks * 2, _options.PollMax.Ticks));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        finally
        {
            await DrainAsync().ConfigureAwait(false);
            stopHeartbeat.Cancel();
            try { await heartbeat.ConfigureAwait(false); } catch (OperationCanceledException) { }
            try { await schedules.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
    }

    /// <summary>
    /// One round: record finished steps, claim decisions and steps, start the steps, decide. True when anything
    /// happened. With <see cref="WorkerOptions.InlineSteps"/> the round also waits for its steps and records them, so
    /// the same work always writes the same history (the test kit drives workers this way).
    /// </summary>
    internal async Task<bool> RoundAsync(CancellationToken ct, bool claim = true)
    {
        var (worked, _) = await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        if (!claim) return worked;
        if (_options.InlineSteps)
        {
            // Decisions first, then the steps they scheduled and claimed, then other steps, each claimed apart: a
            // crash at a decision's commit then leaves no other step of this round claimed, and the decision is made
            // again on exactly what it saw. Outcomes are recorded (and the decisions after them made) until no step
            // of this round runs.
            var decisions = await ClaimAsync(_options.MaxDecisionsPerClaim, 0, ct).ConfigureAwait(false);
            var clock = StoreClock.Read(decisions.Now, _time);
            var running = new List<Task>();
            foreach (var d in decisions.Decisions)
                running.AddRange(StartAll(await DecideAsync(d, clock.Now, ct).ConfigureAwait(false), clock));
            var claimed = await ClaimAsync(0, FreeSlots(), ct).ConfigureAwait(false);
            running.AddRange(StartAll(claimed.Steps, StoreClock.Read(claimed.Now, _time)));
            while (running.Count > 0)
            {
                await Task.WhenAll(running).ConfigureAwait(false);
                (_, running) = await FlushAsync(ct).ConfigureAwait(false);
            }
            return worked || decisions.Decisions.Count > 0 || claimed.Steps.Count > 0;
        }
        // The round's decisions claim what was free when it claimed: a slot that a step's thread frees meanwhile goes
        // to the next claim, in claim order, not to whichever of these decisions comes next.
        var free = FreeSlots();
        var got = await ClaimAsync(_options.MaxDecisionsPerClaim, free, ct).ConfigureAwait(false);
        var now = StoreClock.Read(got.Now, _time);
        StartAll(got.Steps, now);
        var slots = free - got.Steps.Count;
        foreach (var d in got.Decisions)
        {
            var steps = await DecideAsync(d, now.Now, ct, slots: slots).ConfigureAwait(false);
            slots -= steps?.Count ?? 0;
            StartAll(steps, now);
        }
        return worked || got.Decisions.Count > 0 || got.Steps.Count > 0;
    }

    /// <summary>
    /// Slots for more steps: a step holds one from its start until its outcome is taken to be recorded, so how many
    /// steps a round claims does not depend on how many of the steps it started have finished yet.
    /// </summary>
    private int FreeSlots()
    {
        lock (_gate) return Math.Max(0, _options.MaxConcurrency - _running.Count - _done.Count);
    }

    /// <summary>Starts <paramref name="steps"/>, each claimed at the store's time when it starts.</summary>
    private List<Task> StartAll(IReadOnlyList<StepTask>? steps, StoreClock clock) =>
        steps is null ? [] : [.. steps.Select(s => Start(s, clock, alone: steps.Count == 1))];

    /// <summary>Claims work of the workflows and functions this worker has; the rest stays for workers that have
    /// it.</summary>
    private Task<ClaimResult> ClaimAsync(int decisions, int steps, CancellationToken ct) => _store.ClaimAsync(new
        ClaimRequest(
        _options.WorkerId, decisions, steps, _options.LeaseDuration, _options.Queues, _options.Tags)
    {
        Workflows = _registry.Workflows,
        Versions = _registry.Versions,
        Functions = _registry.Functions,
    }, ct);

    /// <summary>Waits for work; true when only a step of this worker finished.</summary>
    private async Task<bool> WaitAsync(TimeSpan idle, CancellationToken ct)
    {
        try
        {
            var local = _wake.WaitAsync(idle, ct);
            if (_store is not IWorkNotifications notifications) return await local.ConfigureAwait(false);
            var store = notifications.WaitForWorkAsync(idle, ct);
            await Task.WhenAny(local, store).ConfigureAwait(false);
            return local.IsCompletedSuccessfully && local.Result && !store.IsCompleted;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { return false; }
    }

    /// <summary>
    /// Stops: claims nothing more, records the outcomes of steps that finish within the shutdown grace, then fires the
    /// tokens of those still running and hands them back to the store unfinished.
    /// </summary>
    private async Task DrainAsync()
    {
        _draining = true;
        var grace = System.Diagnostics.Stopwatch.StartNew();
        for (var failures = 0; ;)
        {
            int running;
            lock (_gate) running = _running.Count + _continuing;
            try { await FlushAsync(CancellationToken.None).ConfigureAwait(false); }
            catch (Exception e) when (++failures < 20)
            {
                _logger.LogWarning(e, "Worker {WorkerId}: recording outcomes while draining failed; retrying",
                    _options.WorkerId);
                await Task.Delay(_options.PollMax).ConfigureAwait(false);
                continue;
            }
            if (running == 0) return;
            if (grace.Elapsed >= _options.ShutdownGrace) break;
            await _wake.WaitAsync(TimeSpan.FromMilliseconds(50)).ConfigureAwait(false);
        }
        List<Running> unfinished;
        lock (_gate) unfinished = [.. _running.Values];
        // Their outcomes are not recorded from here on (a body that ignores its token is abandoned).
        foreach (var r in unfinished) Stop(r);
        try
        {
            await _store.ReleaseStepsAsync([.. unfinished.Select(r => r.Task.Lease)],
                CancellationToken.None).ConfigureAwait(false);
            await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Worker {WorkerId}: handing back {Count} unfinished steps failed; their leases " +
                "expire instead", _options.WorkerId, unfinished.Count);
        }
        _logger.LogInformation("Worker {WorkerId} stopped {Count} steps still running after the shutdown grace of " +
            "{Grace} and handed them back", _options.WorkerId, unfinished.Count, _options.ShutdownGrace);
    }

    /// <summary>Fires a running step's token; its outcome will not be recorded.</summary>
    private static void Stop(Running running)
    {
        try { running.Cancel.Cancel(); } catch (ObjectDisposedException) { }
    }

    /// <summary>Fires the tokens of this worker's running steps of <paramref name="executionId"/> at
    /// <paramref name="positions"/>: a decision dropped them (the execution is being cancelled or timed out).</summary>
    private void StopDropped(string executionId, IReadOnlyList<string> positions)
    {
        if (positions.Count == 0) return;
        var dropped = positions.ToHashSet(StringComparer.Ordinal);
        List<Running> stop;
        lock (_gate) stop = [.. _running.Values.Where(r => r.Task.ExecutionId == executionId
            && dropped.Contains(r.Task.Position))];
        foreach (var r in stop) Stop(r);
    }

    private IDurableFunction? Function(string name) => _registry.Function(name);

    /// <summary>The history this worker holds for deciding <paramref name="executionId"/>, if any (for tests).
    /// </summary>
    internal Replay.History? HeldHistory(string executionId) => _histories.Held(executionId);

    /// <summary>Starts <paramref name="task"/> on the thread pool. A step claimed <paramref name="alone"/> (the only
    /// one its decision claimed) records its outcome itself where it can: see <see cref="RunAsync(Running)"/>.
    /// </summary>
    private Task Start(StepTask task, StoreClock clock, bool alone = false)
    {
        var running = Track(task, clock, alone);
        return Task.Run(() => RunAsync(running));
    }

    /// <summary>Counts <paramref name="task"/> as running from now on (its slot and its lease).</summary>
    private Running Track(StepTask task, StoreClock clock, bool alone)
    {
        var running = new Running(task, new CancellationTokenSource(), clock.Now, clock) { Alone = alone };
        lock (_gate) _running[task.Lease] = running;
        return running;
    }

    /// <summary>
    /// Runs a step, then the steps after it down a chain: a step that ran alone, of an execution whose last decision
    /// this worker wrote, records its outcome on its own thread in one commit with the next decision, and runs the
    /// one step that decision claims at once (a chain crosses no thread and waits for no round of the worker's loop).
    /// Any other outcome — of a fan-out's steps, or one that could not go on so — is left for the loop to record.
    /// </summary>
    private async Task RunAsync(Running running)
    {
        while (true)
        {
            var finished = await RunStepAsync(running).ConfigureAwait(false);
            IReadOnlyList<StepTask>? next = null;
            var goOn = finished is not null && running.Alone && !_options.InlineSteps;
            lock (_gate)
            {
                _running.Remove(running.Task.Lease);
                if (goOn) _continuing++;
                else if (finished is not null) _done.Add(finished);
            }
            if (goOn)
            {
                try
                {
                    next = await ContinueAsync([finished!], CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    _logger.LogWarning(e, "Recording step {Step} at {Position} of {ExecutionId} with the next " +
                        "decision failed; recording it the usual way", running.Task.Name, running.Task.Position,
                        running.Task.ExecutionId);
                }
                lock (_gate)
                {
                    _continuing--;
                    if (next is null) _done.Add(finished!);
                }
            }
            running.Cancel.Dispose();
            if (next is null) { _wake.Release(); return; }
            if (next.Count == 0)
            {
                Volatile.Write(ref _slotFreed, 1);
                _wake.Release();
                return;
            }
            if (next.Count != 1)
            {
                StartAll(next, running.Clock);
                return;
            }
            running = Track(next[0], running.Clock, alone: true);
        }
    }

    /// <summary>Runs one step (a batch's items one after the other); null when its lease was lost or it could not
    /// run.</summary>
    private async Task<Finished?> RunStepAsync(Running running)
    {
        var (task, cancel) = (running.Task, running.Cancel);
        try
        {
            using var activity = Diagnostics.StentTelemetry.StartStep(task);
            // A step of a registered workflow's tree whose function this worker has not met yet: learn it by
            // replaying.
            var fn = Function(task.Name);
            if (fn is null) await LearnOnceAsync(task.ExecutionId, task.Name, cancel.Token).ConfigureAwait(false);
            fn ??= Function(task.Name);
            var finished = task.Items == 0
                ? new Finished(task, await RunAsync(fn, task, task.Position, task.Input, running, activity)
                    .ConfigureAwait(false), running.Clock)
                : await RunBatchAsync(fn, task, running, activity).ConfigureAwait(false);
            // The lease was lost (cancelled, timed out, or taken over): the outcome would be rejected anyway.
            return cancel.IsCancellationRequested ? null : finished;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception e)
        {
            // Not the step's own failure (that is its outcome): learning its workflow failed, say. Its lease expires
            // and it runs again.
            _logger.LogWarning(e, "Step {Step} at {Position} of {ExecutionId} could not be run; it runs again when " +
                "its lease expires", task.Name, task.Position, task.ExecutionId);
            return null;
        }
    }

    /// <summary>How long a batch runs before it records the items it has finished (a lost worker then costs at most
    /// this much of a batch's work).</summary>
    private static readonly TimeSpan BatchRecordEvery = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs the items of a batch one after the other, each with its own attempt, retry and outcome: an item whose
    /// attempt failed runs again alone, as a step of its own. What it has finished is recorded at least every <see
    /// cref="BatchRecordEvery"/>, its row keeping the rest. A batch whose worker was lost runs nothing: its items are
    /// handed back as steps of their own, so a poisonous item is found and fails alone.
    /// </summary>
    private async Task<Finished> RunBatchAsync(IDurableFunction? fn, StepTask task, Running running,
        System.Diagnostics.Activity? activity)
    {
        var items = StepItems.Decode(task.Input);
        if (task.Lost > 0)
            return new Finished(task, new EventBatch([]), running.Clock)
            {
                Items = items,
                Requeue = [.. items.Select(i => new Requeued(i, task.Attempt, task.Lost, running.ClaimedAt))],
            };
        var events = new List<HistoryEvent>(items.Count);
        var again = new List<Requeued>();
        var (from, recorded) = (0, _time.GetTimestamp());
        for (var i = 0; i < items.Count; i++)
        {
            var e = await RunAsync(fn, task, items[i].Position, items[i].Input, running, activity)
                .ConfigureAwait(false);
            events.Add(e);
            if (e is StepAttemptFailed f) again.Add(new Requeued(items[i], task.Attempt + 1, 0, f.RetryAt));
            if (i == items.Count - 1 || _time.GetElapsedTime(recorded) < BatchRecordEvery) continue;
            recorded = _time.GetTimestamp();
            var part = new StepOutcome(task.Lease, new EventBatch(events[from..]))
            {
                Items = items[from..(i + 1)], Requeue = [.. again], Remaining = items[(i + 1)..],
            };
            bool accepted;
            try
            {
                accepted = (await _store.CompleteStepsAsync([part], running.Cancel.Token).ConfigureAwait(false))[0];
            }
            catch (Exception x) when (x is not OperationCanceledException)
            {
                // Kept for the next try or the batch's end.
                _logger.LogWarning(x, "Recording part of batch {Step} at {Position} failed; going on", task.Name,
                    task.Position);
                continue;
            }
            if (!accepted)
            {
                // The lease was lost: nothing more of this batch is recorded.
                Stop(running);
                running.Cancel.Token.ThrowIfCancellationRequested();
            }
            (from, again) = (i + 1, []);
        }
        // Copied only when part of the batch was recorded already.
        return new Finished(task, new EventBatch(from == 0 ? events : events[from..]), running.Clock)
            { Items = from == 0 ? items : items[from..], Requeue = again };
    }

    /// <summary>Runs one attempt of the step (or batch item) at <paramref name="position"/> and returns its
    /// outcome.</summary>
    private async ValueTask<HistoryEvent> RunAsync(IDurableFunction? fn, StepTask task, string position, string input,
        Running running, System.Diagnostics.Activity? activity)
    {
        var policy = fn?.Options.Retry ?? RetryPolicy.None;
        // Runs lost with their worker count apart from the policy's attempts (a crash never changes what a step's
        // policy decides), up to a limit: a step that took down that many workers fails for good rather than killing
        // worker after worker.
        var lost = task.Lost >= WorkerLostException.MaxLost;
        var attempt = lost ? task.Attempt - 1 : task.Attempt - task.Lost;
        var started = running.Clock.Now;
        var startedAt = _time.GetTimestamp();
        StepRunner.Attempt a;
        if (lost)
            a = new StepRunner.Attempt(null, null, Failure.FromException(new WorkerLostException(task.Name,
                position, task.Lost), task.Name, position), Final: true);
        else if (fn is null)
            a = new StepRunner.Attempt(null, null, Failure.FromException(
                new InvalidOperationException($"Unknown durable function '{task.Name}': worker " +
                    $"'{_options.WorkerId}' has no function of that name, and its workflow does not use " +
                        $"one."), task.Name, position));
        else a = await _runner.RunAsync(fn, task.ExecutionId, position, input, task.Attempt,
            running.Cancel.Token).ConfigureAwait(false);
        var at = running.Clock.Now;
        // Jitter without a seed comes from the shared generator: no lock on the one decisions hold.
        var e = StepRunner.ToEvent(a, position, attempt, policy, started, at, _options.Seed is { } seed
            ? StepRandom(seed, task.ExecutionId, position, task.Attempt) : Random.Shared);
        Diagnostics.StentTelemetry.StepEnded(task.Name, e, _time.GetElapsedTime(startedAt));
        if (a.Failure is { } failure) activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error,
            failure.Message);
        return e;
    }

    /// <summary>With a seed, a step's jitter depends on the step and attempt, not on which concurrent step finished
    /// first.</summary>
    private static Random StepRandom(int seed, string executionId, string position, int attempt)
    {
        var hash = 2166136261u ^ (uint)seed;
        foreach (var c in $"{executionId}/{position}#{attempt}") hash = (hash ^ c) * 16777619u;
        return new Random((int)hash);
    }

    /// <summary>
    /// Records finished steps: where this worker wrote an execution's last decision and now holds the outcomes of
    /// every step it waits for, in one commit with the next decision (whose new steps it runs at once: returned);
    /// the rest in one group commit that wakes their executions.
    /// </summary>
    private async Task<(bool Worked, List<Task> Started)> FlushAsync(CancellationToken ct)
    {
        List<Finished> batch;
        lock (_gate)
        {
            if (_done.Count == 0) return (false, []);
            // In claim order, so the same work records the same history whichever step finished first.
            batch = [.. _done.OrderBy(f => f.Task.Id)];
            _done.Clear();
        }
        var started = new List<Task>();
        var rest = new List<Finished>();
        var groups = batch.GroupBy(f => f.Task.ExecutionId).Select(g => g.ToList()).ToList();
        for (var i = 0; i < groups.Count; i++)
        {
            IReadOnlyList<StepTask>? next;
            try
            {
                next = await ContinueAsync(groups[i], ct).ConfigureAwait(false);
            }
            catch
            {
                lock (_gate) _done.InsertRange(0, [.. rest, .. groups.Skip(i).SelectMany(g => g)]);
                throw;
            }
            if (next is null) rest.AddRange(groups[i]);
            else started.AddRange(StartAll(next, groups[i][0].Clock));
        }
        // Outcomes recorded with the decision after them leave nothing to claim.
        if (rest.Count == 0) return (false, started);
        IReadOnlyList<bool> accepted;
        try
        {
            accepted = await _store.CompleteStepsAsync(rest.Select(f => f.Outcome).ToList(), ct)
                .ConfigureAwait(false);
        }
        catch
        {
            lock (_gate) _done.InsertRange(0, rest);
            throw;
        }
        for (var i = 0; i < rest.Count; i++)
            if (!accepted[i])
                _logger.LogWarning("Outcome of step {Step} at {Position} of {ExecutionId} was rejected: its lease " +
                    "was lost", rest[i].Task.Name, rest[i].Task.Position, rest[i].Task.ExecutionId);
        return (true, started);
    }

    /// <summary>Tells the store this worker is alive and what it has, so an execution nobody can run is reported as
    /// such.</summary>
    private async Task AnnounceAsync(CancellationToken ct)
    {
        try
        {
            await _store.AnnounceWorkerAsync(new WorkerInfo(_options.WorkerId, _registry.Workflows,
                _registry.Functions), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning(e, "Worker {WorkerId}: announcing itself failed; retrying", _options.WorkerId);
        }
    }

    /// <summary>The longest time between two checks of the running steps' leases.</summary>
    private static readonly TimeSpan LeaseCheck = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Announces the worker at its heartbeat interval, and renews its running steps' leases at least every half second:
    /// a step whose lease is lost (its execution was cancelled or timed out and the step dropped, or another worker
    /// took it over) sees its token fire within about a second.
    /// </summary>
    private async Task HeartbeatAsync(CancellationToken ct)
    {
        var every = _options.HeartbeatInterval ?? TimeSpan.FromTicks(_options.LeaseDuration.Ticks / 3);
        var check = every < LeaseCheck ? every : LeaseCheck;
        var checksPerAnnounce = Math.Max(1, (int)(every.Ticks / check.Ticks));
        for (var round = 0L; !ct.IsCancellationRequested; round++)
        {
            if (round % checksPerAnnounce == 0) await AnnounceAsync(ct).ConfigureAwait(false);
            await Task.Delay(check, ct).ConfigureAwait(false);
            List<Running> running;
            List<LeasedStep> leases;
            lock (_gate)
            {
                running = [.. _running.Values];
                // Finished steps keep their lease until their outcome is written: a slow or failing store must not
                // let another worker run them again.
                leases = [.. running.Select(r => r.Task.Lease), .. _done.Select(f => f.Task.Lease)];
            }
            if (leases.Count == 0) continue;
            try
            {
                var lost = (await _store.RenewLeasesAsync(leases, _options.LeaseDuration, ct).ConfigureAwait(false))
                    .ToHashSet();
                foreach (var r in running.Where(r => lost.Contains(r.Task.Lease)))
                {
                    _logger.LogWarning("Lease of step {Step} at {Position} of {ExecutionId} was lost; cancelling it",
                        r.Task.Name, r.Task.Position, r.Task.ExecutionId);
                    Stop(r);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogWarning(e, "Lease renewal failed; retrying");
            }
        }
    }
}
