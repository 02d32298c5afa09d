// o.UseSqlite(path) and o.UseInMemory(): the embedded stores for AddStent.
using Stent.Hosting;

namespace Stent.Sqlite;

/// <summary>Registers the SQLite store with <c>AddStent</c>.</summary>
public static class SqliteStentBuilderExtensions
{
    /// <summary>Uses the SQLite file at <paramref name="path"/> (default <c>stent.db</c> in the working
    /// directory), whose commits survive what <paramref name="durability"/> says (default: a power loss).</summary>
    public static StentBuilder UseSqlite(this StentBuilder builder, string path = "stent.db",
        SqliteDurability durability = SqliteDurability.PowerLoss)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseStore(_ => new SqliteWorkStore(path, durability: durability));
    }

    /// <summary>Uses an in-memory store (nothing survives the process).</summary>
    public static StentBuilder UseInMemory(this StentBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseStore(_ => SqliteWorkStore.InMemory());
    }
}
