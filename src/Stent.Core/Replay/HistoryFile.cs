// The history export format: one event per line as JSON, what `stent export` writes and a replayer reads.
using Stent.Storage.Relational;

namespace Stent.Replay;

/// <summary>
/// Reads and writes an execution's history as JSON lines, one event per line, in stream order — the format the
/// stores keep events in, so an exported history replays exactly as it was recorded.
/// </summary>
public static class HistoryFile
{
    /// <summary>Writes <paramref name="events"/>, one JSON line each.</summary>
    public static async Task WriteAsync(TextWriter writer, IEnumerable<HistoryEvent> events,
        CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(events);
        foreach (var e in events) await writer.WriteLineAsync(StoreJson.Event(e).AsMemory(), ct).ConfigureAwait(false);
    }

    /// <summary>Reads a history written by <see cref="WriteAsync"/> (blank lines are skipped); a line that is not an
    /// event is a <see cref="FormatException"/> naming its number.</summary>
    public static IReadOnlyList<HistoryEvent> Read(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var events = new List<HistoryEvent>();
        var number = 0;
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { events.Add(StoreJson.Event(line)); }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException
                or NotSupportedException)
            {
                throw new FormatException($"Line {number} of the history is not an event: {e.Message}", e);
            }
        }
        if (events.Count > 0 && events[0] is not ExecutionStarted)
            throw new FormatException($"A history starts with an execution's start, not {events[0].GetType().Name}.");
        return events;
    }
}
