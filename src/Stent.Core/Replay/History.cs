// An index of an execution's history by position, with the decision in which each outcome became visible; it grows
// with the stream, so a decision indexes only the events it adds.
namespace Stent.Replay;

/// <summary>The recorded history of one execution, indexed for replay. Appending extends the index in place: a
/// worker keeps one per execution across decisions.</summary>
internal sealed class History
{
    private readonly List<HistoryEvent> _events = [];
    private readonly Dictionary<string, Entry> _byPosition = new(StringComparer.Ordinal);
    private readonly List<(SignalReceived Signal, int Time)> _signals = [];
    private readonly HashSet<long> _consumed = [];

    /// <summary>What was recorded at one position.</summary>
    internal sealed class Entry(PositionedEvent start)
    {
        /// <summary>The event that opened the position (step scheduled, timer started, value or progress recorded).</summary>
        public PositionedEvent Start { get; } = start;
        /// <summary>The event that closed it (step completed/failed, timer fired), if any.</summary>
        public PositionedEvent? Outcome { get; set; }
        /// <summary>The decision that first saw <see cref="Outcome"/> (or <see cref="Start"/> for recorded values).</summary>
        public int Time { get; set; }
        /// <summary>Failed attempts so far (for steps).</summary>
        public int FailedAttempts { get; set; }
        /// <summary>When the last failed attempt asked to be retried.</summary>
        public DateTimeOffset? RetryAt { get; set; }
    }

    /// <summary>An index of <paramref name="events"/>.</summary>
    public History(IEnumerable<HistoryEvent> events) => Append(events);

    /// <summary>Indexes <paramref name="events"/>, which follow those already here.</summary>
    public void Append(IEnumerable<HistoryEvent> events)
    {
        foreach (var e in events)
        {
            _events.Add(e);
            if (e is EventBatch batch) foreach (var inner in batch.Events) Index(inner);
            else Index(e);
        }
    }

    private void Index(HistoryEvent e)
    {
        switch (e)
        {
            case ExecutionStarted s: Started = s; break;
            case DecisionCompleted: DecisionCount++; break;
            case StepScheduled or TimerStarted or ChildStarted:
                _byPosition[((PositionedEvent)e).Position] = new Entry((PositionedEvent)e);
                if (e is StepScheduled) OpenSteps++;
                break;
            case SignalReceived r:
                _signals.Add((r, Seen));
                break;
            case SignalConsumed c:
                _byPosition[c.Position] = new Entry(c) { Outcome = c, Time = Seen };
                _consumed.Add(c.Sequence);
                break;
            case ValueRecorded or ProgressReported or StateSet or LogRecorded:
                _byPosition[((PositionedEvent)e).Position] = new Entry((PositionedEvent)e)
                    { Outcome = (PositionedEvent)e, Time = Seen };
                break;
            case StepAttemptFailed f when _byPosition.TryGetValue(f.Position, out var a):
                a.FailedAttempts = f.Attempt;
                a.RetryAt = f.RetryAt;
                break;
            case StepCompleted or StepFailed or TimerFired or ChildEnded:
                var p = (PositionedEvent)e;
                if (!_byPosition.TryGetValue(p.Position, out var entry))
                    throw new InvalidOperationException(
                        $"History is corrupt: {e.GetType().Name} at {p.Position} has no matching start.");
                if (entry.Outcome is not null) break;
                (entry.Outcome, entry.Time) = (p, Seen);
                if (entry.Start is StepScheduled) OpenSteps--;
                break;
            case ExecutionCancelRequested c when Cancel is null: Cancel = (c.Reason, Seen); break;
            case ExecutionCompleted or ExecutionFailed or ExecutionCancelled: Final = e; break;
        }
    }

    /// <summary>All events as stored, in order (an <see cref="EventBatch"/> is one).</summary>
    public IReadOnlyList<HistoryEvent> Events => _events;

    /// <summary>The events stored from index <paramref name="from"/> on, batches opened.</summary>
    public IEnumerable<HistoryEvent> EventsFrom(int from) => HistoryEvent.Flatten(_events.Skip(from));

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

    /// <summary>Steps scheduled that have no outcome yet.</summary>
    public int OpenSteps { get; private set; }

    /// <summary>True when <paramref name="position"/> is a step scheduled that has no outcome yet.</summary>
    public bool IsOpenStep(string position) => At(position) is { Start: StepScheduled, Outcome: null };

    /// <summary>Every position that has an entry.</summary>
    public IEnumerable<string> Positions => _byPosition.Keys;

    /// <summary>The positions that events from index <paramref name="from"/> on opened.</summary>
    public IEnumerable<string> PositionsFrom(int from)
    {
        foreach (var e in EventsFrom(from))
            if (e is PositionedEvent p && p is not (StepCompleted or StepFailed or TimerFired or ChildEnded
                or StepAttemptFailed)) yield return p.Position;
    }

    /// <summary>The entry at a position, or null.</summary>
    public Entry? At(string position) => _byPosition.GetValueOrDefault(position);

    /// <summary>Signals delivered, in order, with the decision that first saw each.</summary>
    public IReadOnlyList<(SignalReceived Signal, int Time)> Signals => _signals;

    /// <summary>True when a recorded wait already took the signal with this sequence.</summary>
    public bool IsConsumed(long sequence) => _consumed.Contains(sequence);

    /// <summary>Every entry.</summary>
    public IEnumerable<Entry> Entries => _byPosition.Values;
}
