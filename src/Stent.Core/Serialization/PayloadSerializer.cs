// Turns inputs, outputs and recorded values into JSON and back, with clear errors for what cannot be serialized.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Stent.Serialization;

/// <summary>Serializes payloads (inputs, outputs, recorded values) as JSON with System.Text.Json.</summary>
public sealed class PayloadSerializer
{
    /// <summary>A serializer with <see cref="CreateDefaultOptions"/>.</summary>
    public static PayloadSerializer Default { get; } = new(CreateDefaultOptions());

    /// <summary>A serializer with the given options (e.g. with F# converters added by Stent.Dsl).</summary>
    public PayloadSerializer(JsonSerializerOptions options) => Options = options ?? throw new ArgumentNullException(nameof(options));

    /// <summary>The options in use.</summary>
    public JsonSerializerOptions Options { get; }

    /// <summary>Options Stent uses by default: web-style names, fields included, enums as text.</summary>
    public static JsonSerializerOptions CreateDefaultOptions() => new(JsonSerializerDefaults.Web)
    {
        IncludeFields = true,
        Converters = { new JsonStringEnumConverter(), new ResultJsonConverterFactory() },
    };

    /// <summary>JSON for <paramref name="value"/> as <paramref name="type"/>; an unserializable value raises <see cref="ArgumentException"/> naming its type.</summary>
    public string Serialize(object? value, Type type)
    {
        try { return JsonSerializer.Serialize(value, type, Options); }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or JsonException)
        {
            throw new ArgumentException($"A value of type '{value?.GetType().FullName ?? type.FullName}' cannot be serialized as JSON: {e.Message}", e);
        }
    }

    /// <summary>The value of <paramref name="type"/> in <paramref name="json"/>.</summary>
    public object? Deserialize(string json, Type type)
    {
        try { return JsonSerializer.Deserialize(json, type, Options); }
        catch (Exception e) when (e is NotSupportedException or JsonException)
        {
            throw new ArgumentException($"Recorded JSON cannot be read as '{type.FullName}': {e.Message}", e);
        }
    }

    /// <summary>Serialize then deserialize: the value exactly as replay will see it.</summary>
    public object? RoundTrip(object? value, Type type, out string json)
    {
        json = Serialize(value, type);
        return Deserialize(json, type);
    }
}
