// JSON for Result<T>: {"ok":true,"value":…} or {"ok":false,"error":{…}}, so per-item results survive storage.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Stent.Serialization;

/// <summary>Serializes every <see cref="Result{T}"/>.</summary>
public sealed class ResultJsonConverterFactory : JsonConverterFactory
{
    /// <inheritdoc />
    public override bool CanConvert(Type typeToConvert) =>
        typeToConvert.IsGenericType && typeToConvert.GetGenericTypeDefinition() == typeof(Result<>);

    /// <inheritdoc />
    public override JsonConverter? CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter?)Activator.CreateInstance(typeof(ResultJsonConverter<>).MakeGenericType(typeToConvert.GetGenericArguments()[0]));

    private sealed class ResultJsonConverter<T> : JsonConverter<Result<T>>
    {
        public override Result<T> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.TryGetProperty("ok", out var ok) && ok.GetBoolean())
                return Result<T>.Ok(root.TryGetProperty("value", out var v) ? v.Deserialize<T>(options)! : default!);
            var error = root.GetProperty("error").Deserialize<WorkflowError>(options)
                ?? throw new JsonException("A failed Result has no error.");
            return Result<T>.Fail(error);
        }

        public override void Write(Utf8JsonWriter writer, Result<T> value, JsonSerializerOptions options)
        {
            writer.WriteStartObject();
            writer.WriteBoolean("ok", value.IsOk);
            if (value.IsOk)
            {
                writer.WritePropertyName("value");
                JsonSerializer.Serialize(writer, value.Value, options);
            }
            else
            {
                writer.WritePropertyName("error");
                JsonSerializer.Serialize(writer, value.Error, options);
            }
            writer.WriteEndObject();
        }
    }
}
