// How a decision's events are stored: as one event, so a decision costs one row in its stream however much it records.
namespace Stent.Replay;

/// <summary>
/// The events of one decision (the outcomes it folds, what it schedules, its marker) as the stream stores them: several
/// become one <see cref="EventBatch"/>, a row instead of a row each. A decision that already holds batches (a fan-out's
/// scheduled or completed items, stored compactly) keeps its events as they are: batches are not nested.
/// </summary>
internal static class DecisionEvents
{
    /// <summary><paramref name="events"/> as stored: one batch of them, or themselves.</summary>
    public static IReadOnlyList<HistoryEvent> Stored(IReadOnlyList<HistoryEvent> events)
    {
        if (events.Count < 2) return events;
        foreach (var e in events)
            if (e is EventBatch) return events;
        return [new EventBatch(events)];
    }
}
