// A signal an execution waits for now, with the shape its payload must have: checked when a signal is sent untyped.
using System.Text.Json;

namespace Stent.Storage;

/// <summary>A signal an execution waits for now (recorded by the decision that started the wait).</summary>
/// <param name="Name">The signal's name.</param>
/// <param name="Type">The payload's .NET type, as the workflow reads it.</param>
/// <param name="Kinds">The JSON kinds that type reads from ("string", "number", "integer", "boolean", "object",
/// "array", "null"); empty when any may do (the type's converter decides).</param>
/// <param name="Pattern">The regular expression a string payload must match (a number written as a string), or
/// null.</param>
public sealed record AwaitedSignal(string Name, string Type, IReadOnlyList<string> Kinds, string? Pattern = null)
{
    /// <summary>The JSON kind of <paramref name="payload"/>, as <see cref="Kinds"/> names them.</summary>
    public static string KindOf(JsonElement payload) => payload.ValueKind switch
    {
        JsonValueKind.String => "string",
        JsonValueKind.Number => payload.TryGetInt64(out _) ? "integer" : "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        _ => "null",
    };

    /// <summary>True when <paramref name="payload"/> has a shape <see cref="Type"/> reads.</summary>
    public bool Takes(JsonElement payload)
    {
        var kind = KindOf(payload);
        if (Kinds.Count > 0 && !Kinds.Contains(kind) && !(kind == "integer" && Kinds.Contains("number"))) return false;
        return kind != "string" || Pattern is null
            || System.Text.RegularExpressions.Regex.IsMatch(payload.GetString()!, Pattern);
    }
}
