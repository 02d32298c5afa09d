// How a batch's events are stored: what a fan-out writes by the thousand compactly, anything else as a list.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Stent.Replay;

/// <summary>
/// Writes and reads the events of an <see cref="EventBatch"/>. The two kinds a fan-out stores by the thousand name
/// what their items share once: steps of one function scheduled together, <c>{"name":…,"scheduled":[[position,
/// input],…]}</c>, and items that completed, <c>{"at":…,"completed":[[position,output,attempt,started,ended],
/// …]}</c> (times as ticks after <c>at</c>; a business error as a sixth member). Any other batch is a list of
/// events, as all were before. Keys are read in any order (jsonb keeps them its own way).
/// </summary>
internal sealed class EventBatchJson : JsonConverter<IReadOnlyList<HistoryEvent>>
{
    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, IReadOnlyList<HistoryEvent> value,
        JsonSerializerOptions options)
    {
        if (OneFunction(value) is { } name)
            WriteCompact(writer, w => w.WriteString("name"u8, name), "scheduled"u8, value, WriteScheduled);
        else if (CommonStart(value) is { } at)
            WriteCompact(writer, w => w.WriteString("at"u8, at), "completed"u8, value,
                (w, e) => WriteCompleted(w, e, at));
        else
        {
            writer.WriteStartArray();
            foreach (var e in value) JsonSerializer.Serialize(writer, e, options);
            writer.WriteEndArray();
        }
    }

    /// <summary>The function all of <paramref name="events"/> schedule a step of, or null.</summary>
    private static string? OneFunction(IReadOnlyList<HistoryEvent> events)
    {
        if (events is not [StepScheduled first, ..]) return null;
        foreach (var e in events)
            if (e is not StepScheduled s || !string.Equals(s.Name, first.Name, StringComparison.Ordinal)) return null;
        return first.Name;
    }

    /// <summary>The first item's start when all of <paramref name="events"/> are completed steps (not reused) whose
    /// times are known and share its offset; else null.</summary>
    private static DateTimeOffset? CommonStart(IReadOnlyList<HistoryEvent> events)
    {
        if (events is not [StepCompleted { StartedAt: { } at }, ..]) return null;
        foreach (var e in events)
            if (e is not StepCompleted { ReusedFrom: null, StartedAt: { } s, EndedAt: { } end } ||
                s.Offset != at.Offset || end.Offset != at.Offset) return null;
        return at;
    }

    /// <summary>Writes what the items share (<paramref name="shared"/>), then under <paramref name="key"/> each item
    /// as an array of its own members (<paramref name="item"/>).</summary>
    private static void WriteCompact(Utf8JsonWriter writer, Action<Utf8JsonWriter> shared, ReadOnlySpan<byte> key,
        IReadOnlyList<HistoryEvent> events, Action<Utf8JsonWriter, HistoryEvent> item)
    {
        writer.WriteStartObject();
        shared(writer);
        writer.WriteStartArray(key);
        foreach (var e in events)
        {
            writer.WriteStartArray();
            item(writer, e);
            writer.WriteEndArray();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteScheduled(Utf8JsonWriter writer, HistoryEvent e)
    {
        var s = (StepScheduled)e;
        writer.WriteStringValue(s.Position);
        writer.WriteStringValue(s.Input);
    }

    private static void WriteCompleted(Utf8JsonWriter writer, HistoryEvent e, DateTimeOffset at)
    {
        var c = (StepCompleted)e;
        writer.WriteStringValue(c.Position);
        if (c.Output is null) writer.WriteNullValue();
        else writer.WriteStringValue(c.Output);
        writer.WriteNumberValue(c.Attempt);
        writer.WriteNumberValue((c.StartedAt!.Value - at).Ticks);
        writer.WriteNumberValue((c.EndedAt!.Value - at).Ticks);
        if (c.BusinessError is not null) writer.WriteStringValue(c.BusinessError);
    }

    /// <inheritdoc />
    public override IReadOnlyList<HistoryEvent> Read(ref Utf8JsonReader reader, Type typeToConvert,
        JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.StartArray)
        {
            var list = new List<HistoryEvent>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                list.Add(JsonSerializer.Deserialize<HistoryEvent>(ref reader, options) ??
                    throw new JsonException("A batch holds an empty event."));
            return list;
        }
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException($"A batch's events are a list or an object, not {reader.TokenType}.");
        string? name = null;
        DateTimeOffset? at = null;
        List<(string Position, string Input)>? scheduled = null;
        List<Completed>? completed = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("name"u8)) name = Next(ref reader).GetString();
            else if (reader.ValueTextEquals("at"u8)) at = Next(ref reader).GetDateTimeOffset();
            else if (reader.ValueTextEquals("scheduled"u8)) scheduled = ReadItems(ref reader, ReadScheduled);
            else if (reader.ValueTextEquals("completed"u8)) completed = ReadItems(ref reader, ReadCompleted);
            else Next(ref reader).Skip();
        }
        // The items were read before what they share was known: jsonb may put it after them.
        if (scheduled is not null)
        {
            var function = name ?? throw Missing("name");
            return scheduled.ConvertAll(HistoryEvent (s) => new StepScheduled(s.Position, function, s.Input));
        }
        if (completed is null) throw new JsonException("A compact batch has neither scheduled nor completed items.");
        var start = at ?? throw Missing("at");
        return completed.ConvertAll(HistoryEvent (c) => new StepCompleted(c.Position, c.Output, c.Error, c.Attempt)
        {
            StartedAt = start + TimeSpan.FromTicks(c.Started), EndedAt = start + TimeSpan.FromTicks(c.Ended),
        });
    }

    private static ref Utf8JsonReader Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read()) throw new JsonException("A compact batch ends early.");
        return ref reader;
    }

    private delegate T ItemReader<T>(ref Utf8JsonReader reader);

    private static List<T> ReadItems<T>(ref Utf8JsonReader reader, ItemReader<T> item)
    {
        if (Next(ref reader).TokenType != JsonTokenType.StartArray)
            throw new JsonException("A compact batch's items are a list.");
        var items = new List<T>();
        while (Next(ref reader).TokenType == JsonTokenType.StartArray)
        {
            items.Add(item(ref reader));
            if (Next(ref reader).TokenType != JsonTokenType.EndArray)
                throw new JsonException("A compact batch's item has members it should not.");
        }
        return items;
    }

    private static (string, string) ReadScheduled(ref Utf8JsonReader reader) => (Text(ref reader), Text(ref reader));

    /// <summary>A completed item as stored: its times in ticks after the batch's.</summary>
    private readonly record struct Completed(string Position, string? Output, int Attempt, long Started, long Ended,
        string? Error);

    private static Completed ReadCompleted(ref Utf8JsonReader reader) => new(Text(ref reader),
        Next(ref reader).GetString(), Next(ref reader).GetInt32(), Next(ref reader).GetInt64(),
        Next(ref reader).GetInt64(), FollowingString(ref reader));

    /// <summary>The string that follows (a business error), read; or null, the reader left before the item's end.
    /// </summary>
    private static string? FollowingString(ref Utf8JsonReader reader)
    {
        var ahead = reader;
        if (!ahead.Read() || ahead.TokenType != JsonTokenType.String) return null;
        return Next(ref reader).GetString();
    }

    private static string Text(ref Utf8JsonReader reader) => Next(ref reader).GetString() ??
        throw new JsonException("A compact batch's item lacks its position or input.");

    private static JsonException Missing(string member) => new($"A compact batch lacks its \"{member}\".");
}
