// What a resumed execution may reuse from the ended execution it resumes: finished work, matched by position and input.
namespace Stent.Replay;

/// <summary>
/// The reusable outcomes of an ended execution (failed, cancelled or timed out) that a new execution
/// resumes. A step is reused only when the new run reaches the same position with the same function and
/// the same input and the old run completed it; a sleep keeps its original due time; a recorded value
/// (clock, GUID, random) is the same value; a child that completed is not started again; a signal wait takes the
/// signal the old run's wait took (or times out as it did). Everything else runs afresh, so a resumed run can take a
/// different path after the point where the old one failed without being mistaken for non-determinism.
/// </summary>
internal sealed class Carryover
{
    private readonly Dictionary<string, (StepScheduled Scheduled, StepCompleted Completed)> _steps =
        new(StringComparer.Ordinal);
    private readonly Dictionary<string, TimerStarted> _sleeps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ValueRecorded> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ChildStarted Started, ChildEnded Ended)> _children =
        new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Name, string? Payload, bool TimedOut)> _signals =
        new(StringComparer.Ordinal);

    /// <summary>No carryover: a fresh execution.</summary>
    public static Carryover None { get; } = new("", []);

    /// <summary>The reusable outcomes in <paramref name="events"/>, the stream of execution <paramref
    /// name="from"/>.</summary>
    public Carryover(string from, IReadOnlyList<HistoryEvent> events)
    {
        From = from;
        var scheduled = new Dictionary<string, StepScheduled>(StringComparer.Ordinal);
        var children = new Dictionary<string, ChildStarted>(StringComparer.Ordinal);
        var received = new Dictionary<long, string>();
        foreach (var e in events)
        {
            switch (e)
            {
                case StepScheduled s: scheduled[s.Position] = s; break;
                case StepCompleted c when scheduled.TryGetValue(c.Position, out var s): _steps[c.Position] = (s, c);
                    break;
                case TimerStarted { Purpose: TimerPurpose.Sleep } t: _sleeps[t.Position] = t; break;
                case ValueRecorded v: _values[v.Position] = v; break;
                case ChildStarted c: children[c.Position] = c; break;
                case SignalReceived r: received[r.Sequence] = r.Payload; break;
                case SignalConsumed { TimedOut: true } t: _signals[t.Position] = (t.Name, null, true); break;
                case SignalConsumed t when received.TryGetValue(t.Sequence, out var payload): _signals[t.Position] =
                    (t.Name, payload, false); break;
                case ChildEnded { Error: null } d when children.TryGetValue(d.Position, out var c):
                    _children[d.Position] = (c, d); break;
            }
        }
    }

    /// <summary>The execution reused from.</summary>
    public string From { get; }

    /// <summary>The old completion of the step <paramref name="name"/> on <paramref name="input"/> at <paramref
    /// name="position"/>, if any.</summary>
    public StepCompleted? Step(string position, string name, string input) =>
        _steps.TryGetValue(position, out var s) && s.Scheduled.Name == name && s.Scheduled.Input == input
            ? s.Completed with { ReusedFrom = From }
            : null;

    /// <summary>The old run's successful end of the child <paramref name="workflow"/> on <paramref name="input"/> at
    /// <paramref name="position"/>, if any.</summary>
    public ChildEnded? Child(string position, string workflow, string input) =>
        _children.TryGetValue(position, out var c) && c.Started.Workflow == workflow && c.Started.Input == input ?
            c.Ended : null;

    /// <summary>The signal the old run's wait named <paramref name="name"/> at <paramref name="position"/> took (its
    /// payload), or that it timed out.</summary>
    public (string? Payload, bool TimedOut)? Signal(string position, string name) =>
        _signals.TryGetValue(position, out var s) && s.Name == name ? (s.Payload, s.TimedOut) : null;

    /// <summary>When the old run's sleep at <paramref name="position"/> was due, if it had one.</summary>
    public DateTimeOffset? SleepDue(string position) => _sleeps.TryGetValue(position, out var t) ? t.DueAt : null;

    /// <summary>The value of kind <paramref name="kind"/> the old run recorded at <paramref name="position"/>, as
    /// JSON.</summary>
    public string? Value(string position, string kind) => _values.TryGetValue(position, out var v) && v.Kind == kind ?
        v.Value : null;
}
