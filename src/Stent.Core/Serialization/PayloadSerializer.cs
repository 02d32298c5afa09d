// Turns inputs, outputs and recorded values into JSON and back, with clear errors for what cannot be serialized.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Stent.Serialization;

/// <summary>Serializes payloads (inputs, outputs, recorded values) as JSON with System.Text.Json.</summary>
public sealed class PayloadSerializer
{
    /// <summary>A serializer with <see cref="CreateDefaultOptions"/>.</summary>
    public static PayloadSerializer Default { get; } = new(CreateDefaultOptions());

    /// <summary>A serializer with the given options (e.g. with F# converters added by Stent.Dsl) and payload limit.</summary>
    /// <param name="options">JSON options.</param>
    /// <param name="maxPayloadBytes">The largest payload (input, output, recorded value) accepted, in UTF-8 bytes. Default 4 MiB.</param>
    public PayloadSerializer(JsonSerializerOptions options, int maxPayloadBytes = DefaultMaxPayloadBytes)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        if (maxPayloadBytes < 16) throw new ArgumentOutOfRangeException(nameof(maxPayloadBytes), maxPayloadBytes, $"The payload limit must be at least 16 bytes, got {maxPayloadBytes}.");
        MaxPayloadBytes = maxPayloadBytes;
    }

    /// <summary>The default payload limit: 4 MiB.</summary>
    public const int DefaultMaxPayloadBytes = 4 * 1024 * 1024;

    /// <summary>The options in use.</summary>
    public JsonSerializerOptions Options { get; }

    /// <summary>The largest payload accepted, in UTF-8 bytes; a larger one is rejected before it is recorded.</summary>
    public int MaxPayloadBytes { get; }

    /// <summary>Options Stent uses by default: web-style names, fields included, enums as text.</summary>
    public static JsonSerializerOptions CreateDefaultOptions() => new(JsonSerializerDefaults.Web)
    {
        IncludeFields = true,
        Converters = { new JsonStringEnumConverter(), new ResultJsonConverterFactory() },
    };

    /// <summary>JSON for <paramref name="value"/> as <paramref name="type"/>; an unserializable value raises <see cref="ArgumentException"/> naming its type.</summary>
    public string Serialize(object? value, Type type)
    {
        string json;
        try { json = JsonSerializer.Serialize(value, type, Options); }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or JsonException)
        {
            throw new ArgumentException($"A value of type '{value?.GetType().FullName ?? type.FullName}' cannot be serialized as JSON: {e.Message}", e);
        }
        var bytes = System.Text.Encoding.UTF8.GetByteCount(json);
        if (bytes > MaxPayloadBytes)
            throw new ArgumentException($"A value of type '{value?.GetType().FullName ?? type.FullName}' is {bytes} bytes as JSON, over the payload limit of {MaxPayloadBytes} bytes.");
        return json;
    }

    /// <summary>The value of <paramref name="type"/> in <paramref name="json"/>.</summary>
    public object? Deserialize(string json, Type type)
    {
        try { return JsonSerializer.Deserialize(json, type, Options); }
        catch (Exception e) when (e is NotSupportedException or JsonException)
        {
            throw new PayloadException($"Recorded JSON cannot be read as '{type.FullName}': {e.Message}", e);
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Type, (IReadOnlyList<string>, string?)>
        _shapes = new();

    /// <summary>
    /// The JSON kinds ("string", "integer", "boolean", …) a value of <paramref name="type"/> is read from, and the
    /// pattern a string must match (a number read from a string), from its JSON schema; no kinds when its converter
    /// decides (any kind may do).
    /// </summary>
    public (IReadOnlyList<string> Kinds, string? Pattern) JsonShape(Type type) => _shapes.GetOrAdd(type, t =>
    {
        try
        {
            var options = new JsonSerializerOptions(Options)
            {
                TypeInfoResolver = Options.TypeInfoResolver ?? new System.Text.Json.Serialization.Metadata
                    .DefaultJsonTypeInfoResolver(),
            };
            if (System.Text.Json.Schema.JsonSchemaExporter.GetJsonSchemaAsNode(options, t) is not
                System.Text.Json.Nodes.JsonObject schema) return ([], null);
            IReadOnlyList<string> kinds = schema["type"] switch
            {
                System.Text.Json.Nodes.JsonArray many => [.. many.Select(k => k!.GetValue<string>())],
                System.Text.Json.Nodes.JsonValue one => [one.GetValue<string>()],
                _ => [],
            };
            return (kinds, schema["pattern"]?.GetValue<string>());
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException)
        {
            return ([], null);
        }
    });

    /// <summary>
    /// JSON for <paramref name="value"/>, checked to read back as the same value: a type that loses data on the way
    /// (a property with a private setter or none, a field the options skip) is an <see cref="ArgumentException"/>
    /// naming it and what was lost, before anything is recorded.
    /// </summary>
    public string SerializeChecked(object? value, Type type, string what)
    {
        var json = Serialize(value, type);
        string again;
        try { again = Serialize(Deserialize(json, type), type); }
        catch (PayloadException e)
        {
            throw new ArgumentException($"{what} of type '{type.FullName}' cannot be read back from its JSON " +
                $"{Clip(json)}: {e.Message}", e);
        }
        if (again != json)
            throw new ArgumentException($"{what} of type '{type.FullName}' does not survive JSON: {Clip(json)} reads " +
                $"back as {Clip(again)}. A property with a private setter or none is lost; use a record, public " +
                "init setters, or a constructor that takes every property.");
        return json;
    }

    private static string Clip(string json) => json.Length <= 200 ? json : json[..200] + "…";

    /// <summary>Serialize then deserialize: the value exactly as replay will see it.</summary>
    public object? RoundTrip(object? value, Type type, out string json)
    {
        json = Serialize(value, type);
        return Deserialize(json, type);
    }
}
