// The PostgreSQL store: the relational store on PostgreSQL, each execution's history a Marten event stream.
using Stent.Storage.Relational;

namespace Stent.Marten;

/// <summary>
/// The work store on PostgreSQL for many workers on many machines: executions, steps, timers, inbox and results in
/// tables of <c>schema</c>, each execution's history a Marten event stream appended in the same transaction. Claims
/// skip locked rows; capped claims are serialized by an advisory lock so caps hold exactly; idle workers wake on
/// LISTEN/NOTIFY. Time is the database's clock. The schema is made on first use (or by
/// <see cref="RelationalWorkStore.MigrateAsync"/>) and recorded, so later processes start without checking it.
/// </summary>
public sealed class PostgresWorkStore : RelationalWorkStore
{
    /// <summary>A store on <paramref name="connectionString"/> in the schema <paramref name="schema"/>.</summary>
    /// <param name="connectionString">An Npgsql connection string.</param>
    /// <param name="schema">The schema for Stent's tables and Marten's (lower-case letters, digits,
    /// underscores).</param>
    /// <param name="time">A clock to use instead of the database's (tests that skip time).</param>
    public PostgresWorkStore(string connectionString, string schema = "stent", TimeProvider? time = null)
        : base(new PostgresDialect(Check(connectionString), schema, time))
    {
    }

    private static string Check(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return connectionString;
    }
}
