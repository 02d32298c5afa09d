// The input of a batched step's work row: its items' positions and inputs as one JSON array.
using System.Buffers;
using System.Text;
using System.Text.Json;
using Stent.Replay;

namespace Stent.Storage;

/// <summary>Writes and reads the items of a batch (<see cref="Replay.StepBatches"/>) as the input of its work row:
/// <c>[["position",input], …]</c>, each input kept as the exact JSON it was recorded with (rows written as <c>[{
/// "position":"…","input":…}, …]</c> before still read).</summary>
internal static class StepItems
{
    /// <summary>The work row input of <paramref name="items"/>.</summary>
    public static string Encode(IEnumerable<StepItem> items) =>
        Encode(items as IReadOnlyCollection<StepItem> ?? [.. items], i => i.Position, i => i.Input);

    /// <summary>The work row input of a batch of <paramref name="steps"/> (each as its position and input).</summary>
    public static string Encode(IReadOnlyCollection<StepScheduled> steps) =>
        Encode(steps, s => s.Position, s => s.Input);

    private static string Encode<T>(IReadOnlyCollection<T> items, Func<T, string> position, Func<T, string> input)
    {
        // The UTF-8 text is written into this thread's buffer, kept from one batch to the next: only the string is
        // made.
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        var w = t_writer ??= new Utf8JsonWriter(buffer);
        buffer.ResetWrittenCount();
        w.Reset(buffer);
        w.WriteStartArray();
        foreach (var item in items)
        {
            w.WriteStartArray();
            w.WriteStringValue(position(item));
            w.WriteRawValue(input(item), skipInputValidation: true);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.Flush();
        var text = Encoding.UTF8.GetString(buffer.WrittenSpan);
        // A buffer grown by an unusually large batch is not kept.
        if (buffer.Capacity > 1 << 20) (t_buffer, t_writer) = (null, null);
        return text;
    }

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    /// <summary>The items of a batch's work row input, read in one pass (each input kept as its exact JSON).</summary>
    public static List<StepItem> Decode(string input)
    {
        // The UTF-8 text is read from a pooled buffer: only the items' own strings are kept.
        var length = Encoding.UTF8.GetByteCount(input);
        var utf8 = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Encoding.UTF8.GetBytes(input, utf8);
            return Decode(input, utf8, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(utf8);
        }
    }

    private static List<StepItem> Decode(string input, byte[] utf8, int length)
    {
        var r = new Utf8JsonReader(utf8.AsSpan(0, length));
        var items = new List<StepItem>();
        Expect(ref r, JsonTokenType.StartArray);
        while (r.Read() && r.TokenType is JsonTokenType.StartArray or JsonTokenType.StartObject)
        {
            string? position = null, value = null;
            if (r.TokenType == JsonTokenType.StartArray)
            {
                if (!r.Read() || r.TokenType != JsonTokenType.String) throw Bad(input);
                position = r.GetString();
                if (r.Read() && r.TokenType != JsonTokenType.EndArray)
                {
                    value = Raw(ref r, utf8);
                    if (!r.Read() || r.TokenType != JsonTokenType.EndArray) throw Bad(input);
                }
            }
            else
                while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
                {
                    var isPosition = r.ValueTextEquals("position"u8);
                    r.Read();
                    if (isPosition) position = r.GetString();
                    else value = Raw(ref r, utf8);
                }
            items.Add(new StepItem(position ?? throw Bad(input), value ?? throw Bad(input)));
        }
        return items;
    }

    /// <summary>The value the reader is at, as the exact JSON it was written with.</summary>
    private static string Raw(ref Utf8JsonReader r, byte[] utf8)
    {
        var start = (int)r.TokenStartIndex;
        r.Skip();
        return Encoding.UTF8.GetString(utf8, start, (int)r.BytesConsumed - start);
    }

    private static void Expect(ref Utf8JsonReader r, JsonTokenType token)
    {
        if (!r.Read() || r.TokenType != token) throw new JsonException($"A batch's items begin with {token}.");
    }

    private static JsonException Bad(string input) =>
        new($"A batch item lacks its position or input: {(input.Length > 200 ? input[..200] + "…" : input)}");
}
