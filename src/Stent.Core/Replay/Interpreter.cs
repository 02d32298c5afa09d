// The replay interpreter: walks a workflow against its history, feeds back recorded outcomes, and turns the first
// missing ones into commands.
using Stent.Serialization;
using Stent.Workflows;

namespace Stent.Replay;

/// <summary>
/// Deterministic replay. Every instruction gets a position (a path such as <c>3.17/0</c>: instruction 0
/// of branch 17 of the parallel instruction 3). Recorded outcomes are fed back; an instruction with no
/// record becomes a new event (schedule a step, start a timer, record a value). Each outcome carries the
/// index of the decision that first saw it, and races (fail-fast, first-to-finish) are settled by that
/// index and then by branch order, so a replay of any prefix of the history decides exactly as the
/// original run did. Evaluation is a loop over an explicit frame stack, so long chains cannot overflow.
/// </summary>
internal sealed class Interpreter
{
    private readonly History _history;
    private readonly PayloadSerializer _serializer;
    private readonly RecordContext _record;
    private readonly int _decision;
    private readonly bool _verifyInputs;
    private readonly Carryover _carryover;
    private readonly Checkpoint? _resume;
    private Checkpoint? _checkpoint;
    private int _carriedSignals;
    // The recorded positions this decision must reach (those recorded since its checkpoint, or all without one), in
    // history order, and those it has not reached yet: a position recorded now or earlier is never looked up again.
    private readonly List<string> _toVisit;
    private readonly HashSet<string> _unvisited;
    private Fan? _rootBranches;
    private int _waits;
    private readonly Dictionary<string, Type> _awaiting = new(StringComparer.Ordinal);
    private readonly HashSet<long> _takenNow = [];
    private readonly List<string> _cancelledSteps = [];
    private readonly Dictionary<string, IDurableFunction> _functions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IWorkflowDefinition> _children = new(StringComparer.Ordinal);
    private List<HistoryEvent> _pending = [];
    private readonly StepBatching _batching;

    private Interpreter(History history, PayloadSerializer serializer, DateTimeOffset now, Random random, bool
        verifyInputs, Carryover carryover, Checkpoint? resume, StepBatching batching)
    {
        _batching = batching;
        _verifyInputs = verifyInputs;
        _carryover = carryover;
        _resume = resume;
        // Positions recorded before a checkpoint were checked by the decision that made it.
        _toVisit = [.. resume is null ? history.Positions : history.PositionsFrom(resume.Events)];
        _unvisited = new HashSet<string>(_toVisit, StringComparer.Ordinal);
        if (resume is not null)
        {
            foreach (var (name, fn) in resume.Functions) _functions[name] = fn;
            foreach (var (name, child) in resume.Children) _children[name] = child;
        }
        _history = history;
        _serializer = serializer;
        _record = new RecordContext(now, random);
        _decision = history.DecisionCount + 1;
    }

    /// <summary>Replays <paramref name="events"/> through <paramref name="definition"/> and decides what comes
    /// next.</summary>
    /// <param name="definition">The workflow.</param>
    /// <param name="events">Its history so far.</param>
    /// <param name="serializer">Payload serializer.</param>
    /// <param name="now">The clock reading for new timers and recorded values.</param>
    /// <param name="random">Randomness for jitter and recorded values.</param>
    /// <param name="verifyInputs">Also check that every replayed step gets the input it was recorded with (costs a
    /// serialization per step).</param>
    /// <param name="carryover">For a resumed execution, the finished work of the execution it resumes (reused instead
    /// of run).</param>
    /// <exception cref="NonDeterminismException">The workflow no longer matches its history.</exception>
    public static Decision Decide(
        IWorkflowDefinition definition, IReadOnlyList<HistoryEvent> events, PayloadSerializer serializer, DateTimeOffset
            now, Random random,
        bool verifyInputs = false, Carryover? carryover = null) =>
        Decide(definition, new History(events), serializer, now, random, verifyInputs, carryover);

    /// <summary>Decides what comes next for an indexed <paramref name="history"/>, starting where a previous decision
    /// stopped when <paramref name="resume"/> is given.</summary>
    /// <param name="definition">The workflow.</param>
    /// <param name="history">Its history so far.</param>
    /// <param name="serializer">Payload serializer.</param>
    /// <param name="now">The clock reading for new timers and recorded values.</param>
    /// <param name="random">Randomness for jitter and recorded values.</param>
    /// <param name="verifyInputs">Also check that replayed steps get the inputs they were recorded with.</param>
    /// <param name="carryover">For a resumed execution, the finished work of the execution it resumes.</param>
    /// <param name="resume">
    /// Where the previous decision over a prefix of <paramref name="history"/> stopped (<see
    /// cref="Decision.Checkpoint"/>), taken over by this decision (its state is updated in place, not copied):
    /// evaluation starts there instead of replaying everything before it, the branches of a fan-out that had settled
    /// are not evaluated again, and only the positions recorded since are checked, so a decision costs time and memory
    /// in proportion to the events it adds and the work still open, not to the whole history.
    /// </param>
    /// <param name="batching">How new steps are batched (default: not at all).</param>
    /// <exception cref="NonDeterminismException">The workflow no longer matches its history.</exception>
    public static Decision Decide(
        IWorkflowDefinition definition, History history, PayloadSerializer serializer, DateTimeOffset now,
        Random random, bool verifyInputs = false, Carryover? carryover = null, Checkpoint? resume = null,
        StepBatching? batching = null)
    {
        var started = history.Started ?? throw new
            InvalidOperationException("History does not begin with ExecutionStarted.");
        if (started.Workflow != definition.Name)
            throw new NonDeterminismException("start", $"workflow '{started.Workflow}'", $"workflow '{definition.Name}'");
        if (verifyInputs && !history.KeepsInputs)
            throw new ArgumentException("Inputs can only be checked against a history that keeps them.",
                nameof(verifyInputs));
        if (resume is not null && !resume.Serves(definition, history)) resume = null;
        return new Interpreter(history, serializer, now, random, verifyInputs, carryover ?? Carryover.None,
            resume, batching ?? StepBatching.None).Run(definition, started);
    }

    private Decision Run(IWorkflowDefinition definition, ExecutionStarted started)
    {
        Outcome outcome;
        try
        {
            outcome = _resume is { } r
                ? RunThread(r.Node, new Thread(r.Counter) { Time = r.Time, CleanupDepth = r.CleanupDepth }, new
                    Stack<Frame>(r.Stack.Reverse()))
                : RunThread(definition.Build(_serializer.Deserialize(started.Input, definition.InputType)), new
                    Thread());
        }
        catch (Exception e) when (e is not (NonDeterminismException or ForgottenHistoryException))
        {
            outcome = Outcome.Err(Failure.FromException(e), _decision);
        }

        foreach (var position in _toVisit)
            if (_unvisited.Contains(position))
                throw new NonDeterminismException(position, Describe(_history.At(position)!.Start),
                    "nothing (the workflow no longer reaches this position)");

        string? output = null;
        var status = ExecutionState.Running;
        if (outcome.Kind == OutcomeKind.Done)
        {
            status = ExecutionState.Completed;
            output = _serializer.Serialize(outcome.Value, definition.OutputType);
            if (_history.Final is null) _pending.Add(new ExecutionCompleted(output));
        }
        else if (outcome.Kind == OutcomeKind.Error)
        {
            status = outcome.Error is Cancellation ended ? ended.State : ExecutionState.Failed;
            if (_history.Final is null)
                _pending.Add(outcome.Error is Cancellation c ? new ExecutionCancelled(c.Reason) : new
                    ExecutionFailed(outcome.Error!));
        }

        if ((_pending.Count > 0 || _history.HasUnseen()) && _history.Final is null)
            _pending.Add(new DecisionCompleted(_decision));
        _pending = StepBatches.Group(_pending, _functions, _batching);
        var checkpoint = _checkpoint is { } stop && status == ExecutionState.Running
            ? stop with { Definition = definition, Events = _history.Count + _pending.Count }
            : null;
        return new Decision(_pending, status, output, outcome.Error, _cancelledSteps, _functions, _children,
            checkpoint) { Awaiting = _awaiting };
    }

    private Outcome RunThread(Node start, Thread thread, Stack<Frame>? resumed = null)
    {
        // Made when the first frame is pushed: a fan-out's branch is often a lone step.
        var stack = resumed;
        var node = start;
        while (true)
        {
            Outcome o;
            while (true)
            {
                switch (node)
                {
                    case MapNode m:
                        (stack ??= new()).Push(new MapFrame(m.Map)); node = m.Source; continue;
                    case BindNode b:
                        (stack ??= new()).Push(new BindFrame(b.Next)); node = b.Source; continue;
                    case CatchNode c:
                        (stack ??= new()).Push(new CatchFrame(c.Handler)); node = c.Body; continue;
                    case FinallyNode f:
                        (stack ??= new()).Push(new FinallyFrame(f.Cleanup)); node = f.Body; continue;
                    case AttemptNode a:
                        (stack ??= new()).Push(new AttemptFrame(a.Ok, a.Error)); node = a.Body; continue;
                    case RetryNode r:
                        (stack ??= new()).Push(new RetryFrame(r.Body, r.Policy, 1)); node = r.Body; continue;
                }
                var counter = thread.Counter;
                o = Leaf(node, thread);
                // Where the root thread waits is where the next decision can start (everything before it is settled).
                if (o.Kind == OutcomeKind.Blocked && thread.IsRoot)
                    _checkpoint = new Checkpoint(node, stack?.ToArray() ?? [], counter, thread.Time,
                        thread.CleanupDepth, new Dictionary<string, IDurableFunction>(_functions),
                        new Dictionary<string, IWorkflowDefinition>(_children))
                    { Branches = node is ParallelNode ? _rootBranches : null };
                break;
            }
            if (o.Kind == OutcomeKind.Blocked) return o;
            thread.Time = Math.Max(thread.Time, o.Time);
            o = o with { Time = thread.Time };

            Node? resume = null;
            while (resume is null && stack is { Count: > 0 })
            {
                switch (stack.Pop())
                {
                    // User code (maps, binds, handlers) runs inline, without a closure: this runs for every item of a
                    // fan-out. What it throws fails the thread where it stands.
                    case MapFrame m when o.Kind == OutcomeKind.Done:
                        try { o = Outcome.Ok(m.Map(o.Value), thread.Time); }
                        catch (Exception e) when (e is not NonDeterminismException) { o = Threw(e, thread); }
                        break;
                    case BindFrame b when o.Kind == OutcomeKind.Done:
                        try { resume = b.Next(o.Value); }
                        catch (Exception e) when (e is not NonDeterminismException) { o = Threw(e, thread); }
                        break;
                    case CatchFrame c when o.Kind == OutcomeKind.Error && o.Error is not Cancellation:
                        try { resume = c.Handler(o.Error!); }
                        catch (Exception e) when (e is not NonDeterminismException) { o = Threw(e, thread); }
                        break;
                    case FinallyFrame f:
                        stack.Push(new FinallyResume(o));
                        thread.CleanupDepth++;
                        resume = f.Cleanup;
                        break;
                    case FinallyResume saved:
                        thread.CleanupDepth--;
                        if (o.Kind == OutcomeKind.Done) o = saved.Outcome with { Time = thread.Time };
                        break;
                    case AttemptFrame a when o.Error is not Cancellation:
                        var done = o;
                        try
                        {
                            o = Outcome.Ok(done.Kind == OutcomeKind.Done ? a.Ok(done.Value) : a.Error(done.Error!),
                                thread.Time);
                        }
                        catch (Exception e) when (e is not NonDeterminismException) { o = Threw(e, thread); }
                        break;
                    case RetryFrame r when o.Kind == OutcomeKind.Error && o.Error is not Cancellation &&
                        r.Policy.ShouldRetry(o.Error!, r.Attempt):
                        var timer = Timer(thread.Next(), () => r.Policy.DelayAfter(r.Attempt, _record.Random),
                            TimerPurpose.Retry, thread);
                        if (timer.Kind == OutcomeKind.Blocked) return timer;
                        thread.Time = Math.Max(thread.Time, timer.Time);
                        if (timer.Kind == OutcomeKind.Error) { o = timer; break; }
                        stack.Push(r with { Attempt = r.Attempt + 1 });
                        resume = r.Body;
                        break;
                }
            }
            if (resume is null) return o;
            node = resume;
        }
    }

    /// <summary>The failure of user code that threw <paramref name="e"/> where <paramref name="thread"/> stands.
    /// </summary>
    private static Outcome Threw(Exception e, Thread thread) =>
        Outcome.Err(Failure.FromException(e, null, thread.Peek()), thread.Time);

    private Outcome Leaf(Node node, Thread thread) => node switch
    {
        PureNode p => Outcome.Ok(p.Value, thread.Time),
        FailNode f => Outcome.Err(f.Error, thread.Time),
        StepNode s => Step(thread.Next(), s, thread),
        SleepNode s => Sleep(s, thread),
        RecordNode r => Record(thread.Next(), r, thread),
        PatchNode p => Patch(p, thread),
        ProgressNode p => Progress(thread.Next(), p),
        SignalNode s => Signal(thread.Next(), s, thread),
        StateNode s => State(thread.Next(), s, thread),
        LogNode l => Log(thread.Next(), l),
        ParallelNode p => Parallel(thread.Next(), p, thread.Time, thread.CleanupDepth, thread.IsRoot),
        ChildNode c => Child(thread.Next(), c, thread),
        _ => throw new InvalidOperationException($"Unknown workflow instruction {node.GetType().Name}."),
    };

    // Apart from Leaf: a lambda there would cost every node an allocation (its closure is made on entry).
    private Outcome Sleep(SleepNode s, Thread thread) =>
        Timer(thread.Next(), () => s.Duration, TimerPurpose.Sleep, thread);

    /// <summary>When the execution is being cancelled, outside Finally cleanups, a wait that had not finished by then
    /// ends with the cancellation.</summary>
    private Outcome? Cancelled(History.Entry? entry, Thread thread)
    {
        if (_history.Cancel is not { } cancel || thread.CleanupDepth > 0) return null;
        if (entry?.Outcome is not null && entry.Time <= cancel.Time) return null;
        return Outcome.Err(new Cancellation(cancel.Reason), Math.Max(thread.Time, cancel.Time));
    }

    /// <summary>Cancellation of a step or child: one still open is moot (its work is dropped or cancelled).</summary>
    private Outcome? CancelledWork(string position, History.Entry? entry, Thread thread)
    {
        if (Cancelled(entry, thread) is not { } cancelled) return null;
        if (entry is not null && entry.Outcome is null) _cancelledSteps.Add(position);
        return cancelled;
    }

    /// <summary>The input as JSON, or (as the error outcome) why it cannot be serialized.</summary>
    private Outcome? SerializeInput(object? value, Type type, string name, string position, Thread thread, out string
        json)
    {
        try
        {
            json = _serializer.Serialize(value, type);
            return null;
        }
        catch (ArgumentException e)
        {
            json = "";
            return Outcome.Err(Failure.FromException(e, name, position), thread.Time);
        }
    }

    private Outcome Step(string position, StepNode step, Thread thread)
    {
        var fn = step.Function;
        // Visited without a closure or a message made per step: this runs once per item of a fan-out.
        Visited(position);
        var entry = At(position);
        if (entry is not null && entry.StepName != fn.Name)
            throw new NonDeterminismException(position, Describe(entry.Start), $"step '{fn.Name}'");
        _functions[fn.Name] = fn;
        if (CancelledWork(position, entry, thread) is { } cancelled) return cancelled;
        if (entry is null)
        {
            if (SerializeInput(step.Input, fn.InputType, fn.Name, position, thread, out var input) is { }
                unserializable) return unserializable;
            _pending.Add(new StepScheduled(position, fn.Name, input));
            if (_carryover.Step(position, fn.Name, input) is not { } reused) return Outcome.Blocked;
            _pending.Add(reused);
            return reused.BusinessError is { } b
                ? Outcome.Err(new BusinessError(b), _decision)
                : Read(reused.Output!, fn.OutputType, "the result of step", fn.Name, position, _decision);
        }
        if (_verifyInputs && entry.Start is StepScheduled recorded)
        {
            var now = _serializer.Serialize(step.Input, fn.InputType);
            if (now != recorded.Input)
                throw new NonDeterminismException(position, $"step '{fn.Name}' with input {recorded.Input}", $"step '{fn.Name}' with input {now}");
        }
        return entry.Outcome switch
        {
            null => Outcome.Blocked,
            StepCompleted { BusinessError: { } b } => Outcome.Err(new BusinessError(b), entry.Time),
            StepCompleted c => Read(c.Output!, fn.OutputType, "the result of step", fn.Name, position,
                entry.Time),
            StepFailed f => Outcome.Err(f.Error, entry.Time),
            var other => throw new InvalidOperationException($"Unexpected {other.GetType().Name} at {position}."),
        };
    }

    private Outcome Timer(string position, Func<TimeSpan> delay, TimerPurpose purpose, Thread thread)
    {
        var entry = Visit(position, Describe(purpose), e => e is TimerStarted t && t.Purpose == purpose,
            $"{Describe(purpose)} timer");
        if (Cancelled(entry, thread) is { } cancelled) return cancelled;
        if (entry is null)
        {
            var due = (purpose == TimerPurpose.Sleep ? _carryover.SleepDue(position) : null) ?? _record.Now + delay();
            _pending.Add(new TimerStarted(position, due, purpose));
            return Outcome.Blocked;
        }
        return entry.Outcome is TimerFired ? Outcome.Ok(Done.Default, entry.Time) : Outcome.Blocked;
    }

    private Outcome Record(string position, RecordNode node, Thread thread)
    {
        var entry = Visit(position, node.Kind, e => e is ValueRecorded v && v.Kind == node.Kind,
            $"recorded {node.Kind}");
        if (entry is not null)
            return Outcome.Ok(_serializer.Deserialize(((ValueRecorded)entry.Start).Value, node.Type), entry.Time);
        if (_carryover.Value(position, node.Kind) is { } old)
        {
            _pending.Add(new ValueRecorded(position, node.Kind, old));
            return Outcome.Ok(_serializer.Deserialize(old, node.Type), Math.Max(thread.Time, _decision));
        }
        var value = _serializer.RoundTrip(node.Make(_record), node.Type, out var json);
        _pending.Add(new ValueRecorded(position, node.Kind, json));
        return Outcome.Ok(value, Math.Max(thread.Time, _decision));
    }

    /// <summary>
    /// A patch takes a position only where it is recorded, so the positions of code from before it stay as they
    /// were: recorded here means the new path; something else recorded here (the old code's next instruction), or
    /// an ended execution, means the old path; nothing yet means new ground, where the patch is recorded.
    /// </summary>
    private Outcome Patch(PatchNode node, Thread thread)
    {
        var position = thread.Peek();
        var kind = $"patch {node.Id}";
        var entry = At(position);
        if (entry?.Start is ValueRecorded v && v.Kind == kind)
        {
            Visited(thread.Next());
            return Outcome.Ok(true, entry.Time);
        }
        if (entry is not null || _history.Final is not null) return Outcome.Ok(false, thread.Time);
        thread.Next();
        _pending.Add(new ValueRecorded(position, kind, "true"));
        return Outcome.Ok(true, Math.Max(thread.Time, _decision));
    }

    private Outcome State(string position, StateNode node, Thread thread)
    {
        var entry = Visit(position, "state", e => e is StateSet st && st.Key == node.Key, $"state '{node.Key}'");
        if (entry is not null) return Outcome.Ok(Done.Default, entry.Time);
        try { _pending.Add(new StateSet(position, node.Key, _serializer.Serialize(node.Value, node.Type))); }
        catch (ArgumentException e) { return Outcome.Err(Failure.FromException(e, null, position), thread.Time); }
        return Outcome.Ok(Done.Default, _decision);
    }

    private Outcome Log(string position, LogNode node)
    {
        var entry = Visit(position, "log", e => e is LogRecorded, "log line");
        if (entry is null) _pending.Add(new LogRecorded(position, node.Level, node.Template, node.Args));
        return Outcome.Ok(Done.Default, entry?.Time ?? _decision);
    }

    private Outcome Progress(string position, ProgressNode node)
    {
        var entry = Visit(position, "progress", e => e is ProgressReported, "progress report");
        if (entry is null) _pending.Add(new ProgressReported(position, node.Report));
        return Outcome.Ok(Done.Default, entry?.Time ?? _decision);
    }

    private Outcome Signal(string position, SignalNode node, Thread thread)
    {
        var entry = Visit(position, "signal", e => e is SignalConsumed c && c.Name == node.Name, $"wait for signal '{node.Name}'");
        // The timeout timer (position + "t") belongs to this wait whichever way it ends: a signal, the timeout, or
        // cancellation.
        if (node.Timeout is not null) Visited(position + "t");
        if (Cancelled(entry, thread) is { } cancelled) return cancelled;
        if (entry is not null)
        {
            var taken = (SignalConsumed)entry.Start;
            if (taken.TimedOut) return Outcome.Ok(node.TimedOut(), entry.Time);
            var payload = _history.Signals.First(s => s.Signal.Sequence == taken.Sequence).Signal.Payload;
            return SignalRead(payload, node, position, entry.Time);
        }
        if (_carryover.Signal(position, node.Name) is { } carried)
        {
            // The execution this one resumes took a signal here (or timed out): take the same one again. Carried
            // signals get sequences of their own (SignalConsumed.CarriedSequence), apart from the store's and a
            // timeout's.
            if (carried.TimedOut)
            {
                _pending.Add(new SignalConsumed(position, node.Name, SignalConsumed.TimedOutSequence));
                return Outcome.Ok(node.TimedOut(), _decision);
            }
            var sequence = SignalConsumed.CarriedSequence(
                _history.Signals.Count(s => s.Signal.Sequence < SignalConsumed.TimedOutSequence) + _carriedSignals++);
            _pending.Add(new SignalReceived(node.Name, carried.Payload!, sequence));
            _pending.Add(new SignalConsumed(position, node.Name, sequence));
            return SignalRead(carried.Payload!, node, position, _decision);
        }
        foreach (var (signal, _) in _history.Signals)
        {
            if (signal.Name != node.Name || _history.IsConsumed(signal.Sequence) || !_takenNow.Add(signal.Sequence))
                continue;
            _pending.Add(new SignalConsumed(position, node.Name, signal.Sequence));
            return SignalRead(signal.Payload, node, position, _decision);
        }
        if (node.Timeout is not { } timeout)
        {
            _awaiting[node.Name] = node.Type;
            _waits++;
            return Outcome.Blocked;
        }
        var timer = Timer(position + "t", () => timeout, TimerPurpose.SignalTimeout, thread);
        if (timer.Kind == OutcomeKind.Blocked)
        {
            _awaiting[node.Name] = node.Type;
            _waits++;
            return timer;
        }
        _pending.Add(new SignalConsumed(position, node.Name, SignalConsumed.TimedOutSequence));
        return Outcome.Ok(node.TimedOut(), _decision);
    }

    /// <summary>
    /// A recorded payload read as the type the workflow expects. One that does not read (the type changed, or a
    /// signal was sent with the wrong shape) fails at <paramref name="position"/> like a failing step, so Catch and
    /// Attempt see it; the data decides, so replay fails the same way. The failure names the payload as <paramref
    /// name="what"/> (e.g. "the result of step") and <paramref name="name"/>, put together only then.
    /// </summary>
    private Outcome Read(string json, Type type, string what, string name, string position, int time)
    {
        try
        {
            return Outcome.Ok(_serializer.Deserialize(json, type), time);
        }
        catch (PayloadException e)
        {
            var bad = new PayloadException($"At {position}, {what} '{name}' cannot be read as '{type.FullName}': " +
                $"{e.InnerException?.Message ?? e.Message}", e.InnerException);
            return Outcome.Err(Failure.FromException(bad, name, position), time);
        }
    }

    private Outcome SignalRead(string payload, SignalNode node, string position, int time)
    {
        var read = Read(payload, node.Type, "signal", node.Name, position, time);
        return read.Kind == OutcomeKind.Done ? Outcome.Ok(node.Found(read.Value), time) : read;
    }

    private Outcome Child(string position, ChildNode node, Thread thread)
    {
        var child = node.Definition;
        var entry = Visit(position, child.Name, e => e is ChildStarted c && c.Workflow == child.Name,
            $"child workflow '{child.Name}'");
        _children[child.Name] = child;
        if (CancelledWork(position, entry, thread) is { } cancelled) return cancelled;
        if (entry is null)
        {
            if (SerializeInput(node.Input, child.InputType, child.Name, position, thread, out var input) is { }
                unserializable) return unserializable;
            _pending.Add(new ChildStarted(position, child.Name, input));
            if (_carryover.Child(position, child.Name, input) is not { } reused) return Outcome.Blocked;
            _pending.Add(reused);
            return Read(reused.Output!, child.OutputType, "the result of child workflow", child.Name,
                position, _decision);
        }
        return entry.Outcome switch
        {
            null => Outcome.Blocked,
            // A child that was cancelled or timed out on its own is a failure the parent can handle, not the parent's
            // cancellation.
            ChildEnded { Error: Cancellation c } => Outcome.Err(new Failure(
                "Stent.ChildCancelled", $"Child workflow '{child.Name}' at {position} ended: {c.Reason}", ["Stent.ChildCancelled"], null, child.Name, position), entry.Time),
            ChildEnded { Error: { } error } => Outcome.Err(error, entry.Time),
            ChildEnded ended => Read(ended.Output!, child.OutputType, "the result of child workflow",
                child.Name, position, entry.Time),
            var other => throw new InvalidOperationException($"Unexpected {other.GetType().Name} at {position}."),
        };
    }

    /// <summary>
    /// Runs the branches. Where the root thread waited on this very instruction at the last decision, what it learnt of
    /// the branches then is reused: a settled branch is taken as it was (a settled outcome never changes as the
    /// history grows, and replaying it records nothing), and an open branch that waits for no signal runs again only
    /// when something recorded since concerns it (an event at a position inside it, a signal, a cancellation). A
    /// decision over a large fan-out so costs in proportion to the outcomes it folds, not to the items.
    /// </summary>
    private Outcome Parallel(string position, ParallelNode node, int floor, int cleanupDepth, bool root)
    {
        var outer = _pending;
        var count = node.Branches.Count;
        var known = root && _resume is { Branches: { } b } && ReferenceEquals(_resume.Node, node)
            && b.Position == position && b.Outcomes.Length == count ? b : null;
        var touched = known is null ? null : Touched(position, count, _resume!.Events);
        // The checkpoint is this decision's own: its arrays are updated in place.
        var fan = known ?? new Fan(position, new Outcome[count], new bool[count]);
        // What the branches record goes into one list, in branch order; each branch that recorded something notes
        // where its events end (a list per branch would be an object per item of a fan-out, alive until every branch
        // has run). A first decision runs every branch; a later one only those its new events concern.
        // A first decision's branches are often one new step each: the list is made that large at once (and room
        // for the decision's marker and an ending).
        var recorded = new List<HistoryEvent>(known is null ? count + 2 : 0);
        var ran = new List<(int Branch, int End)>(known is null ? count : 0);
        Thread? thread = null;
        _pending = recorded;
        for (var i = 0; i < count; i++)
        {
            if (known is not null && (known.Outcomes[i].Kind != OutcomeKind.Blocked
                || known.Quiet[i] && touched is not null && !touched[i])) continue;
            var (waits, start) = (_waits, recorded.Count);
            // One thread object serves the branches in turn: nothing keeps a branch's thread once it has run.
            thread = thread is null ? new Thread(position, i) : thread.Restart(i);
            (thread.Time, thread.CleanupDepth) = (floor, cleanupDepth);
            fan.Outcomes[i] = RunThread(node.Branches[i], thread);
            fan.Quiet[i] = _waits == waits;
            if (recorded.Count > start) ran.Add((i, recorded.Count));
        }
        _pending = outer;
        if (root) _rootBranches = fan;

        var outcomes = fan.Outcomes;
        var decided = -1;
        for (var i = 0; i < count; i++)
        {
            var o = outcomes[i];
            var candidate = node.Mode == ParallelMode.Any ? o.Kind != OutcomeKind.Blocked : o.Kind == OutcomeKind.Error;
            if (candidate && (decided < 0 || o.Time < outcomes[decided].Time)) decided = i;
        }
        if (decided >= 0)
        {
            // Branches that lost the race record nothing: signals they would have taken stay free for later waits.
            for (var (k, from) = (0, 0); k < ran.Count; from = ran[k++].End)
                if (ran[k].Branch == decided) _pending.AddRange(recorded.GetRange(from, ran[k].End - from));
                else foreach (var taken in recorded.GetRange(from, ran[k].End - from).OfType<SignalConsumed>())
                    _takenNow.Remove(taken.Sequence);
            return outcomes[decided];
        }
        // The root thread's list is no branch's: when empty, the branches' list takes its place (a large fan-out's
        // events are not copied).
        if (root && _pending.Count == 0) _pending = recorded;
        else _pending.AddRange(recorded);
        if (outcomes.Any(o => o.Kind == OutcomeKind.Blocked)) return Outcome.Blocked;
        return Outcome.Ok(outcomes.Select(o => o.Value).ToArray(), count == 0 ? floor : outcomes.Max(o => o.Time));
    }

    /// <summary>
    /// The branches (of <paramref name="count"/>) of the fan-out at <paramref name="position"/> that events recorded
    /// from index <paramref name="from"/> on concern; null when they may concern every branch (a signal arrived, or a
    /// cancellation).
    /// </summary>
    private System.Collections.BitArray? Touched(string position, int count, int from)
    {
        var prefix = position + ".";
        var touched = new System.Collections.BitArray(count);
        foreach (var e in _history.EventsFrom(from))
            switch (e)
            {
                case SignalReceived or ExecutionCancelRequested: return null;
                case PositionedEvent p when p.Position.StartsWith(prefix, StringComparison.Ordinal):
                    var rest = p.Position.AsSpan(prefix.Length);
                    var slash = rest.IndexOf('/');
                    if (slash < 0 || !int.TryParse(rest[..slash], System.Globalization.NumberStyles.None,
                        System.Globalization.CultureInfo.InvariantCulture, out var branch) || branch >= count)
                        return null;
                    touched[branch] = true;
                    break;
            }
        return touched;
    }

    /// <summary>Marks <paramref name="position"/> reached (a position this decision must reach, if it is one).
    /// </summary>
    private void Visited(string position)
    {
        if (_unvisited.Count > 0) _unvisited.Remove(position);
    }

    private History.Entry? Visit(string position, string name, Func<PositionedEvent, bool> matches, string found)
    {
        Visited(position);
        var entry = At(position);
        if (entry is not null && !matches(entry.Start))
            throw new NonDeterminismException(position, Describe(entry.Start), found);
        return entry;
    }

    /// <summary>The entry at <paramref name="position"/>, or null when nothing is recorded there; a position the
    /// worker's history forgot (settled work) is never taken for new ground.</summary>
    private History.Entry? At(string position)
    {
        var entry = _history.At(position);
        if (entry is null && !_history.Complete && (_resume is null || _resume.Settled(position)))
            throw new ForgottenHistoryException($"position {position}");
        return entry;
    }

    private static string Describe(PositionedEvent e) => e switch
    {
        StepScheduled s => $"step '{s.Name}'",
        TimerStarted t => $"{Describe(t.Purpose)} timer",
        ValueRecorded v => $"recorded {v.Kind}",
        SignalConsumed c => $"wait for signal '{c.Name}'",
        ProgressReported => "progress report",
        StateSet st => $"state '{st.Key}'",
        LogRecorded => "log line",
        ChildStarted c => $"child workflow '{c.Workflow}'",
        _ => e.GetType().Name,
    };

    private static string Describe(TimerPurpose purpose) => purpose switch
    {
        TimerPurpose.Sleep => "sleep",
        TimerPurpose.Retry => "retry",
        _ => "signal timeout",
    };

    /// <summary>Where a thread of the workflow stands: the root's positions are 0, 1, …; those of branch i of the
    /// fan-out at p are p.i/0, p.i/1, … (a branch's prefix is made only when it takes a second position: a fan-out's
    /// branch is often one step).</summary>
    private sealed class Thread
    {
        private readonly string? _fanOut;
        private int _branch;
        private string? _prefix;

        /// <summary>The root thread, at <paramref name="counter"/>.</summary>
        public Thread(int counter = 0) => (_prefix, Counter) = ("", counter);

        /// <summary>Branch <paramref name="branch"/> of the fan-out at <paramref name="fanOut"/>.</summary>
        public Thread(string fanOut, int branch) => (_fanOut, _branch) = (fanOut, branch);

        /// <summary>This thread, made branch <paramref name="branch"/> of the same fan-out, at its start.</summary>
        public Thread Restart(int branch)
        {
            (_branch, _prefix, Counter) = (branch, null, 0);
            return this;
        }

        public bool IsRoot => _fanOut is null;
        public int Counter { get; private set; }
        public int Time { get; set; }
        public int CleanupDepth { get; set; }
        private string Prefix => _prefix ??= $"{_fanOut}.{_branch}/";

        public string Next()
        {
            var position = _prefix is null && Counter == 0 ? $"{_fanOut}.{_branch}/0" : Peek();
            Counter++;
            return position;
        }

        public string Peek() => Prefix + Counter.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    internal enum OutcomeKind { Done, Error, Blocked }

    internal readonly record struct Outcome(OutcomeKind Kind, object? Value, WorkflowError? Error, int Time)
    {
        public static Outcome Ok(object? value, int time) => new(OutcomeKind.Done, value, null, time);
        public static Outcome Err(WorkflowError error, int time) => new(OutcomeKind.Error, null, error, time);
        public static Outcome Blocked => new(OutcomeKind.Blocked, null, null, int.MaxValue);
    }

    /// <summary>
    /// Where a decision's root thread stopped: the instruction it waits on, the frames around it and the thread's
    /// counters, with what the replay before it had seen. Valid for any history that extends the one it was made on.
    /// </summary>
    internal sealed record Checkpoint(
        Node Node, Frame[] Stack, int Counter, int Time, int CleanupDepth,
        IReadOnlyDictionary<string, IDurableFunction> Functions, IReadOnlyDictionary<string, IWorkflowDefinition>
            Children)
    {
        /// <summary>The workflow it belongs to.</summary>
        public IWorkflowDefinition? Definition { get; init; }

        /// <summary>Events in the history it was made on, the decision's own events included.</summary>
        public int Events { get; init; }

        /// <summary>When <see cref="Node"/> is a fan-out: what its branches came to.</summary>
        public Fan? Branches { get; init; }

        /// <summary>True when a decision over <paramref name="history"/> with <paramref name="definition"/> can start
        /// here: the same workflow, and a history that extends the one this was made on.</summary>
        public bool Serves(IWorkflowDefinition? definition, History history) =>
            Definition == definition && Events <= history.Count;

        /// <summary>
        /// True when no decision starting here reads <paramref name="position"/> again: it lies before the instruction
        /// the root thread waits on (or inside an instruction before it), or in a settled branch of the fan-out it
        /// waits on. Positions read as <c>root[.branch/rest]</c> (see <see cref="Interpreter"/>).
        /// </summary>
        public bool Settled(string position)
        {
            var span = position.AsSpan();
            var digits = 0;
            while (digits < span.Length && char.IsAsciiDigit(span[digits])) digits++;
            if (!int.TryParse(span[..digits], System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var root)) return false;
            if (root != Counter) return root < Counter;
            if (Branches is not { } fan || digits == span.Length || span[digits] != '.'
                || !span[..digits].SequenceEqual(fan.Position)) return false;
            var rest = span[(digits + 1)..];
            var slash = rest.IndexOf('/');
            return slash > 0 && int.TryParse(rest[..slash], System.Globalization.NumberStyles.None,
                    System.Globalization.CultureInfo.InvariantCulture, out var branch)
                && branch < fan.Outcomes.Length && fan.Outcomes[branch].Kind != OutcomeKind.Blocked;
        }
    }

    /// <summary>What the branches of a fan-out came to at a decision.</summary>
    /// <param name="Position">The fan-out's position.</param>
    /// <param name="Outcomes">Each branch's outcome (blocked: still open).</param>
    /// <param name="Quiet">Each open branch that waits for no signal (it can change only through events at its own
    /// positions).</param>
    internal sealed record Fan(string Position, Outcome[] Outcomes, bool[] Quiet);

    internal abstract record Frame;
    internal sealed record MapFrame(Func<object?, object?> Map) : Frame;
    internal sealed record BindFrame(Func<object?, Node> Next) : Frame;
    internal sealed record CatchFrame(Func<WorkflowError, Node?> Handler) : Frame;
    internal sealed record FinallyFrame(Node Cleanup) : Frame;
    internal sealed record FinallyResume(Outcome Outcome) : Frame;
    internal sealed record AttemptFrame(Func<object?, object?> Ok, Func<WorkflowError, object?> Error) : Frame;
    internal sealed record RetryFrame(Node Body, RetryPolicy Policy, int Attempt) : Frame;
}
