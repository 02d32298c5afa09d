// Baselines measured in the same run: the physical floor (batched inserts of event-sized rows) and single-row commits.
using System.Diagnostics;
using Npgsql;

namespace Stent.Bench;

/// <summary>What the database itself can do.</summary>
public static class Baselines
{
    private static string Row(int i) => $"{{\"$type\":\"completed\",\"position\":\"0.{i}/0\",\"output\":\"{{\\\"id\\\":{i},\\\"ok\\\":true}}\",\"attempt\":1}}";

    /// <summary>Rows per second inserting <paramref name="rows"/> event-sized rows in batches (one transaction; PostgreSQL: INSERT … SELECT FROM unnest, 10,000 rows a statement).</summary>
    public static double FloorRowsPerSecond(Target t, int rows)
    {
        var watch = new Stopwatch();
        if (t.Kind == "sqlite")
        {
            using var c = t.SqliteConnection();
            using (var ddl = c.CreateCommand()) { ddl.CommandText = "CREATE TABLE floor (stream TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (stream, version)) WITHOUT ROWID"; ddl.ExecuteNonQuery(); }
            watch.Start();
            using var tx = c.BeginTransaction();
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT INTO floor VALUES ('s', $v, $d)";
            var v = cmd.Parameters.Add("$v", Microsoft.Data.Sqlite.SqliteType.Integer);
            var d = cmd.Parameters.Add("$d", Microsoft.Data.Sqlite.SqliteType.Text);
            cmd.Prepare();
            for (var i = 0; i < rows; i++) { v.Value = i; d.Value = Row(i); cmd.ExecuteNonQuery(); }
            tx.Commit();
        }
        else
        {
            var (schema, connection) = t.Pg;
            using var c = new NpgsqlConnection(connection);
            c.Open();
            using (var ddl = new NpgsqlCommand($"CREATE SCHEMA IF NOT EXISTS {schema}; CREATE TABLE {schema}.floor (stream text NOT NULL, version int NOT NULL, data jsonb NOT NULL, PRIMARY KEY (stream, version))", c)) ddl.ExecuteNonQuery();
            watch.Start();
            using var tx = c.BeginTransaction();
            for (var start = 0; start < rows; start += 10_000)
            {
                var count = Math.Min(10_000, rows - start);
                using var cmd = new NpgsqlCommand($"INSERT INTO {schema}.floor SELECT 's', v, d::jsonb FROM unnest($1::int[], $2::text[]) AS u(v, d)", c, tx);
                cmd.Parameters.AddWithValue(Enumerable.Range(start, count).ToArray());
                cmd.Parameters.AddWithValue(Enumerable.Range(start, count).Select(Row).ToArray());
                cmd.ExecuteNonQuery();
            }
            tx.Commit();
        }
        return rows / watch.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Sets the PostgreSQL server's durability: production (fsync on; synchronous_commit stays the default, on) or
    /// the tests' fsync off. Needs a superuser and fsync set in the configuration file, not on the command line.
    /// </summary>
    public static void SetDurability(string connection, bool durable)
    {
        using var c = new NpgsqlConnection(connection);
        c.Open();
        using (var set = new NpgsqlCommand($"ALTER SYSTEM SET fsync = {(durable ? "on" : "off")}", c))
            set.ExecuteNonQuery();
        using (var reload = new NpgsqlCommand("SELECT pg_reload_conf()", c)) reload.ExecuteNonQuery();
        for (var i = 0; i < 50; i++)
        {
            using var show = new NpgsqlConnection(connection);
            show.Open();
            using var cmd = new NpgsqlCommand("SHOW fsync", show);
            if ((string)cmd.ExecuteScalar()! == (durable ? "on" : "off")) return;
            Thread.Sleep(100);
        }
        throw new InvalidOperationException(
            $"PostgreSQL did not take fsync = {durable}: is it set on its command line?");
    }

    /// <summary>Seconds per single-row commit, <paramref name="count"/> of them one after another.</summary>
    public static double SingleRowCommitSeconds(Target t, int count)
    {
        var watch = new Stopwatch();
        if (t.Kind == "sqlite")
        {
            using var c = t.SqliteConnection();
            using (var ddl = c.CreateCommand()) { ddl.CommandText = "CREATE TABLE IF NOT EXISTS commits (id INTEGER PRIMARY KEY, data TEXT NOT NULL)"; ddl.ExecuteNonQuery(); }
            watch.Start();
            for (var i = 0; i < count; i++)
            {
                using var tx = c.BeginTransaction();
                using var cmd = c.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = "INSERT INTO commits (data) VALUES ($d)";
                cmd.Parameters.AddWithValue("$d", Row(i));
                cmd.ExecuteNonQuery();
                tx.Commit();
            }
        }
        else
        {
            var (schema, connection) = t.Pg;
            using var c = new NpgsqlConnection(connection);
            c.Open();
            using (var ddl = new NpgsqlCommand($"CREATE SCHEMA IF NOT EXISTS {schema}; CREATE TABLE IF NOT EXISTS {schema}.commits (id bigserial PRIMARY KEY, data jsonb NOT NULL)", c)) ddl.ExecuteNonQuery();
            watch.Start();
            for (var i = 0; i < count; i++)
            {
                using var cmd = new NpgsqlCommand($"INSERT INTO {schema}.commits (data) VALUES ($1::jsonb)", c);
                cmd.Parameters.AddWithValue(Row(i));
                cmd.ExecuteNonQuery();
            }
        }
        return watch.Elapsed.TotalSeconds / count;
    }
}
