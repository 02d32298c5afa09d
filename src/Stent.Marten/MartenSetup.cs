// How Stent configures Marten: string stream ids, its event types, System.Text.Json, schema created on first use.
using JasperFx;
using JasperFx.Events;
using Marten;
using Npgsql;
using Stent.Replay;
using Stent.Serialization;
using Weasel.Core;

namespace Stent.Marten;

/// <summary>Marten configuration shared by the PostgreSQL stores.</summary>
internal static class MartenSetup
{
    /// <summary>A document store whose event streams hold Stent's history events.</summary>
    public static DocumentStore CreateStore(NpgsqlDataSource dataSource, string schema) => DocumentStore.For(o =>
    {
        o.Connection(dataSource);
        o.DatabaseSchemaName = schema;
        o.Events.StreamIdentity = StreamIdentity.AsString;
        o.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
        var json = PayloadSerializer.CreateDefaultOptions();
        // jsonb orders an object's keys its own way, so a type discriminator ("$kind" of an error) need not come first.
        json.AllowOutOfOrderMetadataProperties = true;
        // No null member is written (absent reads back as null): smaller events.
        json.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull;
        // Only what JSON requires is escaped (a payload's quotes as \", not \u0022): less to send.
        json.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        o.UseSystemTextJsonForSerialization(json, EnumStorage.AsString, Casing.CamelCase);
        foreach (var t in EventTypes) o.Events.AddEventType(t);
    });

    /// <summary>Every kind of history event (each a Marten event type).</summary>
    public static IReadOnlyList<Type> EventTypes { get; } = [.. typeof(HistoryEvent).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(HistoryEvent)) && !t.IsAbstract)];

    /// <summary>Rejects schema names that are not plain identifiers (they are written into SQL).</summary>
    public static void CheckSchemaName(string schema)
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(schema, "^[a-z_][a-z0-9_]{0,50}$"))
            throw new ArgumentException($"Schema name '{schema}' must be lower-case letters, digits and underscores.", nameof(schema));
    }
}
