// How Stent configures Marten: string stream ids, its event types, System.Text.Json, schema created on first use.
using System.Text.Json;
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
    /// <summary>A document store whose event streams hold Stent's history events: what makes and upgrades the
    /// stream tables (a worker reads and appends streams without one, see <see cref="MartenStreams"/>).</summary>
    public static DocumentStore CreateStore(NpgsqlDataSource dataSource, string schema) => DocumentStore.For(o =>
    {
        o.Connection(dataSource);
        o.DatabaseSchemaName = schema;
        o.Events.StreamIdentity = StreamIdentity.AsString;
        o.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
        o.UseSystemTextJsonForSerialization(JsonOptions(), EnumStorage.AsString, Casing.CamelCase);
        foreach (var t in EventTypes) o.Events.AddEventType(t);
    });

    /// <summary>
    /// The JSON options of an event's <c>data</c> (Marten is given a copy of its own): Stent's payload options, with
    /// no null member written (absent reads back as null) and only what JSON requires escaped (a payload's quotes as
    /// <c>\"</c>, not <c>\u0022</c>); jsonb orders an object's keys its own way, so a type discriminator (an error's
    /// "$kind") need not come first.
    /// </summary>
    public static JsonSerializerOptions JsonOptions() => new(PayloadSerializer.CreateDefaultOptions())
    {
        AllowOutOfOrderMetadataProperties = true,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Every kind of history event (each a Marten event type).</summary>
    public static IReadOnlyList<Type> EventTypes { get; } = [.. typeof(HistoryEvent).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(HistoryEvent)) && !t.IsAbstract)];

    /// <summary>The name Marten records an event of type <paramref name="t"/> under (its <c>type</c> column): the
    /// type's name in snake case, <c>StepCompleted</c> as <c>step_completed</c>.</summary>
    public static string EventTypeName(Type t) =>
        string.Concat(t.Name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) :
            char.ToLowerInvariant(c).ToString()));

    /// <summary>The .NET type Marten records beside the name (its <c>mt_dotnet_type</c> column).</summary>
    public static string DotNetTypeName(Type t) => $"{t.FullName}, {t.Assembly.GetName().Name}";

    /// <summary>Rejects schema names that are not plain identifiers (they are written into SQL).</summary>
    public static void CheckSchemaName(string schema)
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(schema, "^[a-z_][a-z0-9_]{0,50}$"))
            throw new ArgumentException($"Schema name '{schema}' must be lower-case letters, digits and underscores.", nameof(schema));
    }
}
