// The input of a batched step's work row: its items' positions and inputs as one JSON array.
using System.Text;
using System.Text.Json;
namespace Stent.Storage;

/// <summary>Writes and reads the items of a batch (<see cref="Replay.StepBatches"/>) as the input of its work row:
/// <c>[["position",input], …]</c>, each input kept as the exact JSON it was recorded with (rows written as <c>[{
/// "position":"…","input":…}, …]</c> before still read).</summary>
internal static class StepItems
{
    /// <summary>The work row input of <paramref name="items"/>.</summary>
    public static string Encode(IEnumerable<StepItem> items)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            foreach (var item in items)
            {
                w.WriteStartArray();
                w.WriteStringValue(item.Position);
                w.WriteRawValue(item.Input, skipInputValidation: true);
                w.WriteEndArray();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The items of a batch's work row input, read in one pass (each input kept as its exact JSON).</summary>
    public static List<StepItem> Decode(string input)
    {
        var utf8 = Encoding.UTF8.GetBytes(input);
        var r = new Utf8JsonReader(utf8);
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
