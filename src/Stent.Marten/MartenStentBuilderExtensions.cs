// o.UseMarten(connectionString): the PostgreSQL store for AddStent.
using Stent.Hosting;

namespace Stent.Marten;

/// <summary>Registers the PostgreSQL store with <c>AddStent</c>.</summary>
public static class MartenStentBuilderExtensions
{
    /// <summary>Uses PostgreSQL at <paramref name="connectionString"/>, tables and streams in <paramref name="schema"/>.</summary>
    public static StentBuilder UseMarten(this StentBuilder builder, string connectionString, string schema = "stent")
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseStore(_ => new PostgresWorkStore(connectionString, schema));
    }
}
