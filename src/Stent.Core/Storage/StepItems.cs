// The input of a batched step's work row: its items' positions and inputs as one JSON array.
using System.Text;
using System.Text.Json;
namespace Stent.Storage;

/// <summary>Writes and reads the items of a batch (<see cref="Replay.StepBatches"/>) as the input of its work row:
/// <c>[{"position":"…","input":…}, …]</c>, each input kept as the exact JSON it was recorded with.</summary>
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
                w.WriteStartObject();
                w.WriteString("position", item.Position);
                w.WritePropertyName("input");
                w.WriteRawValue(item.Input, skipInputValidation: true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The items of a batch's work row input.</summary>
    public static List<StepItem> Decode(string input)
    {
        using var doc = JsonDocument.Parse(input);
        return [.. doc.RootElement.EnumerateArray().Select(e => new StepItem(e.GetProperty("position").GetString()!,
            e.GetProperty("input").GetRawText()))];
    }
}
