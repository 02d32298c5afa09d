// An index of an execution's history by position, with the decision in which each outcome became visible; it grows
// with the stream, so a decision indexes only the events it adds, and it forgets what no later decision will read.
namespace Stent.Replay;

/// <summary>
/// The recorded history of one execution, indexed for replay. Appending extends the index in place: a worker keeps one
/// per execution across decisions, and after each decision <see cref="Forget"/>s the settled work its next decision
/// starts past, so what it holds grows with the work still open, not with the stream.
/// </summary>
internal sealed class History
{
    private readonly List<HistoryEvent> _events = [];
    // Each position's entry; for a step without an outcome in a history that keeps no step inputs, only the name of
    // its function (a large fan-out's waiting items so cost no object each: the entry is made when it is asked for).
    private readonly Dictionary<string, object> _byPosition = new(StringComparer.Ordinal);
    private readonly List<(SignalReceived Signal, int Time)> _signals = [];
    private readonly HashSet<long> _consumed = [];
    // Events forgotten from the front of _events; positions closed and not forgotten yet.
    private int _forgotten;
    private List<string> _closed = [];

    /// <summary>What was recorded at one position.</summary>
    internal sealed class Entry
    {
        // The event that opened the position, or, for a step of a history that keeps no step inputs, its position and
        // function (a large fan-out's open items so cost no event and no input each).
        private readonly PositionedEvent? _start;
        private readonly string? _position, _function;

        /// <summary>The entry of a position <paramref name="start"/> opened.</summary>
        public Entry(PositionedEvent start) => _start = start;

        /// <summary>The entry of a step of <paramref name="function"/> at <paramref name="position"/>, its input not
        /// kept.</summary>
        public Entry(string position, string function) => (_position, _function) = (position, function);

        /// <summary>The event that opened the position (step scheduled, timer started, value or progress recorded);
        /// for a step whose input is not kept, a <see cref="StepScheduled"/> made again with an empty input.</summary>
        public PositionedEvent Start => _start ?? new StepScheduled(_position!, _function!, "");

        /// <summary>The durable function, when a step opened the position.</summary>
        public string? StepName => _function ?? (_start as StepScheduled)?.Name;
        /// <summary>The event that closed it (step completed/failed, timer fired), if any.</summary>
        public PositionedEvent? Outcome { get; set; }
        /// <summary>The decision that first saw <see cref="Outcome"/> (or <see cref="Start"/> for recorded values).</summary>
        public int Time { get; set; }
    }

    /// <summary>An index of <paramref name="events"/>.</summary>
    /// <param name="events">The events.</param>
    /// <param name="keepsInputs">Keep each step's scheduled event, its input included (to check replayed inputs);
    /// a worker's history keeps only where each step is and its function.</param>
    public History(IEnumerable<HistoryEvent> events, bool keepsInputs = true)
    {
        KeepsInputs = keepsInputs;
        Append(events);
    }

    /// <summary>True when every step's input is kept (<see cref="Entry.Start"/> is the recorded event).</summary>
    public bool KeepsInputs { get; }

    /// <summary>Indexes <paramref name="events"/>, which follow those already here.</summary>
    public void Append(IEnumerable<HistoryEvent> events)
    {
        var list = events as IReadOnlyList<HistoryEvent> ?? [.. events];
        Reserve(list);
        foreach (var e in list)
        {
            _events.Add(e);
            if (e is EventBatch batch) foreach (var inner in batch.Events) Index(inner);
            else Index(e);
        }
    }

    /// <summary>Makes room in the index for the steps <paramref name="events"/> schedule in batches: a large
    /// fan-out's positions are indexed at once, and the index grows once, not by doubling through the sizes before.
    /// </summary>
    private void Reserve(IReadOnlyList<HistoryEvent> events)
    {
        var opened = 0;
        foreach (var e in events) opened += e is EventBatch { Events: [StepScheduled, ..] } b ? b.Events.Count : 0;
        if (opened >= 1024) _byPosition.EnsureCapacity(_byPosition.Count + opened);
    }

    /// <summary>
    /// Stores the events appended one by one from index <paramref name="from"/> on as <paramref name="stored"/>: the
    /// same events (some of them in batches) followed by new ones, which are indexed. A decision appends the outcomes
    /// it folds before it runs, and its commit stores them with what it decided as one event.
    /// </summary>
    public void Seal(int from, IReadOnlyList<HistoryEvent> stored)
    {
        if (from < _forgotten || from > Count)
            throw new ArgumentOutOfRangeException(nameof(from), from, $"Between {_forgotten} and {Count}.");
        var start = from - _forgotten;
        var indexed = 0;
        for (var i = start; i < _events.Count; i++) indexed += _events[i] is EventBatch b ? b.Events.Count : 1;
        _events.RemoveRange(start, _events.Count - start);
        Reserve(stored);
        foreach (var e in stored)
        {
            _events.Add(e);
            foreach (var inner in e is EventBatch batch ? batch.Events : [e])
                if (indexed > 0) indexed--;
                else Index(inner);
        }
        if (indexed > 0)
            throw new ArgumentException($"The stored events hold {indexed} fewer than were appended.", nameof(stored));
    }

    private void Index(HistoryEvent e)
    {
        switch (e)
        {
            case ExecutionStarted s: Started = s; break;
            case DecisionCompleted: DecisionCount++; break;
            case StepScheduled s when !KeepsInputs:
                _byPosition[s.Position] = s.Name;
                break;
            case StepScheduled or TimerStarted or ChildStarted:
                _byPosition[((PositionedEvent)e).Position] = new Entry((PositionedEvent)e);
                break;
            case SignalReceived r:
                _signals.Add((r, Seen));
                break;
            case SignalConsumed c:
                _byPosition[c.Position] = new Entry(c) { Outcome = c, Time = Seen };
                _consumed.Add(c.Sequence);
                _closed.Add(c.Position);
                break;
            case ValueRecorded or ProgressReported or StateSet or LogRecorded:
                var recorded = (PositionedEvent)e;
                _byPosition[recorded.Position] = new Entry(recorded) { Outcome = recorded, Time = Seen };
                _closed.Add(recorded.Position);
                break;
            case StepCompleted or StepFailed or TimerFired or ChildEnded:
                var p = (PositionedEvent)e;
                if (!_byPosition.TryGetValue(p.Position, out var kept))
                {
                    // A second outcome of work already settled and forgotten (only open work is kept).
                    if (_forgotten > 0) break;
                    throw new InvalidOperationException(
                        $"History is corrupt: {e.GetType().Name} at {p.Position} has no matching start.");
                }
                if (kept is not Entry entry) _byPosition[p.Position] = entry = new Entry(p.Position, (string)kept);
                else if (entry.Outcome is not null) break;
                (entry.Outcome, entry.Time) = (p, Seen);
                _closed.Add(p.Position);
                break;
            case ExecutionCancelRequested c when Cancel is null: Cancel = (c.Reason, Seen); break;
            case ExecutionCompleted or ExecutionFailed or ExecutionCancelled: Final = e; break;
        }
    }

    /// <summary>All events as stored, in order (an <see cref="EventBatch"/> is one); only while none is forgotten.
    /// </summary>
    public IReadOnlyList<HistoryEvent> Events => _forgotten == 0 ? _events
        : throw new ForgottenHistoryException($"its first {_forgotten} events");

    /// <summary>How many events the stream holds (an <see cref="EventBatch"/> is one), forgotten ones included.
    /// </summary>
    public int Count => _forgotten + _events.Count;

    /// <summary>True while no event is forgotten: the history can be replayed from the top.</summary>
    public bool Complete => _forgotten == 0;

    /// <summary>The events stored from index <paramref name="from"/> on (not before what is forgotten), batches
    /// opened.</summary>
    public IEnumerable<HistoryEvent> EventsFrom(int from) => from >= _forgotten
        ? HistoryEvent.Flatten(_events.Skip(from - _forgotten))
        : throw new ForgottenHistoryException($"events {from} to {_forgotten - 1}");

    /// <summary>True when an outcome (or the start, a signal, a cancellation) was recorded after the last decision.
    /// </summary>
    public bool HasUnseen()
    {
        for (var i = _events.Count - 1; i >= 0; i--)
        {
            // A decision stored as one batch ends with its marker: what it holds was seen.
            if (_events[i] is DecisionCompleted or EventBatch { Events: [.., DecisionCompleted] }) return false;
            if (HistoryEvent.Flatten([_events[i]]).Any(e => e is ExecutionStarted or StepCompleted or StepFailed
                or TimerFired or SignalReceived or ExecutionCancelRequested)) return true;
        }
        return false;
    }

    /// <summary>
    /// Forgets the events before <paramref name="upTo"/> and the closed positions <paramref name="settled"/> says no
    /// later decision reads; open work stays. Each closed position
    /// is looked at until it is forgotten, so forgetting costs in proportion to the work settled since, and to the
    /// closed work of branches still open.
    /// </summary>
    /// <param name="upTo">Where the next decision starts reading: a count of events up to which the last decision saw
    /// everything (a decision that forgets nothing before it never needs what is dropped).</param>
    /// <param name="settled">Whether a position is settled for good.</param>
    public void Forget(int upTo, Func<string, bool> settled)
    {
        if (upTo < _forgotten || upTo > Count)
            throw new ArgumentOutOfRangeException(nameof(upTo), upTo, $"Between {_forgotten} and {Count}.");
        _events.RemoveRange(0, upTo - _forgotten);
        _forgotten = upTo;
        var kept = new List<string>();
        foreach (var position in _closed)
        {
            if (!settled(position)) { kept.Add(position); continue; }
            _byPosition.Remove(position);
        }
        _closed = kept;
    }

    /// <summary>The first event.</summary>
    public ExecutionStarted? Started { get; private set; }

    /// <summary>The terminal event, if the execution ended.</summary>
    public HistoryEvent? Final { get; private set; }

    /// <summary>Why and from which decision on the execution is being cancelled, if it is.</summary>
    public (string Reason, int Time)? Cancel { get; private set; }

    /// <summary>The decision that sees what is appended now: the one after those recorded.</summary>
    private int Seen => DecisionCount + 1;

    /// <summary>Decisions recorded so far.</summary>
    public int DecisionCount { get; private set; }

    /// <summary>True when <paramref name="position"/> is a step scheduled that has no outcome yet.</summary>
    public bool IsOpenStep(string position) => _byPosition.TryGetValue(position, out var kept)
        && kept is string or Entry { StepName: not null, Outcome: null };

    /// <summary>Every position that has an entry (only while none is forgotten).</summary>
    public IEnumerable<string> Positions => Complete ? _byPosition.Keys
        : throw new ForgottenHistoryException("settled positions");

    /// <summary>The positions that events from index <paramref name="from"/> on opened.</summary>
    public IEnumerable<string> PositionsFrom(int from)
    {
        foreach (var e in EventsFrom(from))
            if (e is PositionedEvent p && p is not (StepCompleted or StepFailed or TimerFired or ChildEnded
                or StepAttemptFailed)) yield return p.Position;
    }

    /// <summary>The entry at a position, or null.</summary>
    public Entry? At(string position) =>
        _byPosition.TryGetValue(position, out var kept) ? Materialized(position, kept) : null;

    /// <summary>The entry <paramref name="kept"/> is, or stands for.</summary>
    private static Entry Materialized(string position, object kept) =>
        kept as Entry ?? new Entry(position, (string)kept);

    /// <summary>Signals delivered, in order, with the decision that first saw each.</summary>
    public IReadOnlyList<(SignalReceived Signal, int Time)> Signals => _signals;

    /// <summary>True when a recorded wait already took the signal with this sequence.</summary>
    public bool IsConsumed(long sequence) => _consumed.Contains(sequence);

    /// <summary>Every entry (forgotten ones aside: open work is never forgotten).</summary>
    public IEnumerable<Entry> Entries => _byPosition.Select(p => Materialized(p.Key, p.Value));
}
