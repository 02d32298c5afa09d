// JSON for what stores keep in rows: history events, errors, tag lists.
using System.Text.Json;
using Stent.Replay;
using Stent.Serialization;

namespace Stent.Storage.Relational;

/// <summary>Serialization shared by the database stores.</summary>
internal static class StoreJson
{
    /// <summary>Stent's payload options, writing no null member (absent reads back as null) and escaping only what
    /// JSON requires (a payload's quotes as <c>\"</c>, not <c>\u0022</c>; text not in ASCII as it is): smaller rows.
    /// Rows are data, never HTML.</summary>
    private static readonly JsonSerializerOptions Options = new(PayloadSerializer.CreateDefaultOptions())
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>An event as JSON (with its type).</summary>
    public static string Event(HistoryEvent e) => JsonSerializer.Serialize(e, Options);

    /// <summary>An event from JSON.</summary>
    public static HistoryEvent Event(string json) =>
        JsonSerializer.Deserialize<HistoryEvent>(json, Options) ?? throw new
            InvalidOperationException("A stored event is empty.");

    /// <summary>An error as JSON, or null.</summary>
    public static string? Error(WorkflowError? e) => e is null ? null : JsonSerializer.Serialize(e, Options);

    /// <summary>An error from JSON, or null.</summary>
    public static WorkflowError? Error(string? json) => json is null ? null :
        JsonSerializer.Deserialize<WorkflowError>(json, Options);

    /// <summary>Awaited signals as JSON, or null when there are none.</summary>
    public static string? Awaiting(IReadOnlyList<AwaitedSignal> awaiting) =>
        awaiting.Count == 0 ? null : JsonSerializer.Serialize(awaiting, Options);

    /// <summary>Awaited signals from JSON.</summary>
    public static IReadOnlyList<AwaitedSignal> Awaiting(string? json) => json is null ? [] :
        JsonSerializer.Deserialize<AwaitedSignal[]>(json, Options) ?? [];

    /// <summary>Tags as JSON.</summary>
    public static string Tags(IReadOnlyList<string> tags) => JsonSerializer.Serialize(tags, Options);

    /// <summary>Tags from JSON.</summary>
    public static IReadOnlyList<string> Tags(string? json) => json is null ? [] :
        JsonSerializer.Deserialize<string[]>(json, Options) ?? [];
}
