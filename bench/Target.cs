// Where a workload runs: the database kind and how to open a fresh store, a raw connection, or a worker process on it.
using Microsoft.Data.Sqlite;
using Npgsql;
using Stent.Marten;
using Stent.Sqlite;
using Stent.Storage;

namespace Stent.Bench;

/// <summary>A fresh database of one kind for one measurement.</summary>
public sealed record Target(string Kind, string Spec)
{
    /// <summary>A new empty SQLite file, its commits durable through a power loss (the store's default) or, unless
    /// <paramref name="durable"/>, through a crash of the process only.</summary>
    public static Target Sqlite(bool durable = true) => new("sqlite", (durable ? "sqlite:" : "sqlite-process:") +
        Path.Combine(Path.GetTempPath(), $"stent-bench-{Guid.NewGuid():N}.db"));

    /// <summary>A new schema in the PostgreSQL database of <paramref name="connection"/>.</summary>
    public static Target Postgres(string connection) => new("postgres", $"postgres:b{Guid.NewGuid().ToString("N")[..10]}:{connection}");

    /// <summary>Opens a Stent store on it.</summary>
    public IWorkStore Open() => Open(Spec);

    /// <summary>Opens a Stent store from "sqlite:PATH", "sqlite-process:PATH" (durable through a crash of the process
    /// only) or "postgres:SCHEMA:CONNECTION".</summary>
    public static IWorkStore Open(string spec) => spec.Split(':', 2) switch
    {
        ["sqlite", var path] => new SqliteWorkStore(path),
        ["sqlite-process", var path] => new SqliteWorkStore(path, durability: SqliteDurability.ProcessCrash),
        ["postgres", var rest] when rest.Split(':', 2) is [var schema, var connection] =>
            new PostgresWorkStore(connection, schema),
        _ => throw new ArgumentException($"Unknown store '{spec}'.", nameof(spec)),
    };

    /// <summary>The SQLite file, for sqlite targets.</summary>
    public string SqlitePath => Spec[(Spec.IndexOf(':') + 1)..];

    /// <summary>Whether a SQLite target's commits wait for the disk.</summary>
    public bool SqliteDurable => Spec.StartsWith("sqlite:", StringComparison.Ordinal);

    /// <summary>The schema and connection string, for postgres targets.</summary>
    public (string Schema, string Connection) Pg => Spec.Split(':', 3) is [_, var s, var c] ? (s, c) : throw new InvalidOperationException(Spec);

    /// <summary>Bytes the database holds now: SQLite's pages in use (the write-ahead log included, free pages not;
    /// the files themselves do not shrink, so a warmed-up file grows by less than a run writes), or the size of the
    /// schema's relations.</summary>
    public long Bytes()
    {
        if (Kind == "sqlite")
        {
            using var sqlite = SqliteConnection();
            using var pages = sqlite.CreateCommand();
            pages.CommandText = "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM " +
                "pragma_freelist_count()), (SELECT page_size FROM pragma_page_size())";
            using var r = pages.ExecuteReader();
            r.Read();
            return r.GetInt64(0) * r.GetInt64(1);
        }
        var (schema, connection) = Pg;
        using var c = new NpgsqlConnection(connection);
        c.Open();
        using var cmd = new NpgsqlCommand("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'", c);
        cmd.Parameters.AddWithValue(schema);
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Rows inserted, updated or deleted in the schema's tables so far, by PostgreSQL's statistics (which a
    /// server process reports when its client disconnects or idles); null for SQLite.</summary>
    public long? PgRowsWritten()
    {
        if (Kind == "sqlite") return null;
        var (schema, connection) = Pg;
        using var c = new NpgsqlConnection(connection);
        c.Open();
        using var cmd = new NpgsqlCommand("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM " +
            "pg_stat_user_tables WHERE schemaname = $1", c);
        cmd.Parameters.AddWithValue(schema);
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A raw SQLite connection for baselines.</summary>
    public SqliteConnection SqliteConnection()
    {
        var c = new SqliteConnection($"Data Source={SqlitePath}");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"PRAGMA journal_mode = WAL; PRAGMA synchronous = {(SqliteDurable ? "FULL" : "NORMAL")};";
        cmd.ExecuteNonQuery();
        return c;
    }
}
