// The embedded default store: executions, streams, steps, timers, inbox and leases in one SQLite file (WAL).
using Microsoft.Data.Sqlite;
using Stent.Replay;
using Stent.Storage;

namespace Stent.Sqlite;

/// <summary>
/// <see cref="IWorkStore"/> in one SQLite file in WAL mode (default <c>stent.db</c>), shared by every
/// process on the machine. Each write is one <c>BEGIN IMMEDIATE</c> transaction, so claims and caps are
/// exact across processes; time is SQLite's clock. The schema is created on first use.
/// </summary>
public sealed partial class SqliteWorkStore : IWorkStore, IIdempotencyStore, IWorkNotifications
{
    private readonly string _connectionString;
    private long _roundTrips;
    private readonly WorkPulse _pulse = new();

    /// <summary>Wakes workers of this process when it writes; other processes on the file find work by polling.</summary>
    public Task WaitForWorkAsync(TimeSpan timeout, CancellationToken ct) => _pulse.WaitForWorkAsync(timeout, ct);

    /// <summary>A store on the SQLite file at <paramref name="path"/> (created with its schema if missing).</summary>
    public SqliteWorkStore(string path = "stent.db")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Path, Cache = SqliteCacheMode.Private, Pooling = true, DefaultTimeout = 30 }.ToString();
        using var c = Open();
        Exec(c, null, Schema);
        // Columns added after the first release: add them to databases made before.
        foreach (var column in new[] { "resumed_by TEXT", "parent_id TEXT", "parent_position TEXT" })
            if (Scalar<long>(c, null, "SELECT count(*) FROM pragma_table_info('executions') WHERE name = $n", ("$n", column.Split(' ')[0])) == 0)
                Exec(c, null, $"ALTER TABLE executions ADD COLUMN {column}");
        Exec(c, null, "CREATE INDEX IF NOT EXISTS executions_parent ON executions (parent_id) WHERE parent_id IS NOT NULL");
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    private const string Schema = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE IF NOT EXISTS executions (
            id TEXT PRIMARY KEY, workflow TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL,
            created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, completed_at INTEGER, deadline INTEGER,
            queue TEXT, tags TEXT NOT NULL, priority INTEGER NOT NULL, idempotency_key TEXT UNIQUE,
            runnable_at INTEGER, lease_token INTEGER NOT NULL DEFAULT 0, lease_until INTEGER,
            cancel_requested INTEGER NOT NULL DEFAULT 0, output TEXT, error TEXT, stream_version INTEGER NOT NULL, signals INTEGER NOT NULL DEFAULT 0,
            resumed_by TEXT, parent_id TEXT, parent_position TEXT);
        CREATE INDEX IF NOT EXISTS executions_runnable ON executions (runnable_at) WHERE runnable_at IS NOT NULL;
        CREATE INDEX IF NOT EXISTS executions_created ON executions (created_at);
        CREATE TABLE IF NOT EXISTS events (execution_id TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (execution_id, version)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS steps (
            id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, position TEXT NOT NULL, name TEXT NOT NULL, input TEXT NOT NULL,
            queue TEXT, tags TEXT NOT NULL, priority INTEGER NOT NULL, max_concurrent INTEGER, max_per_second INTEGER, attempt INTEGER NOT NULL DEFAULT 1,
            available_at INTEGER NOT NULL, running INTEGER NOT NULL DEFAULT 0, lease_until INTEGER, lease_token INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS steps_ready ON steps (running, available_at);
        CREATE INDEX IF NOT EXISTS steps_execution ON steps (execution_id);
        CREATE TABLE IF NOT EXISTS timers (execution_id TEXT NOT NULL, position TEXT NOT NULL, due_at INTEGER NOT NULL, PRIMARY KEY (execution_id, position)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, data TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS inbox_execution ON inbox (execution_id);
        CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, output TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS dead_letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, position TEXT NOT NULL, name TEXT NOT NULL,
            input TEXT NOT NULL, failure TEXT NOT NULL, at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS rates (name TEXT PRIMARY KEY, window_start INTEGER NOT NULL, used INTEGER NOT NULL);
        INSERT OR IGNORE INTO counters VALUES ('lease', 0);
        """;

    private SqliteConnection Open()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA busy_timeout = 30000; PRAGMA synchronous = NORMAL;";
        cmd.ExecuteNonQuery();
        return c;
    }

    /// <summary>Runs <paramref name="work"/> in one <c>BEGIN IMMEDIATE</c> transaction with the database's clock reading (unix ms).</summary>
    private T Write<T>(Func<SqliteConnection, SqliteTransaction, long, T> work, bool wakesWorkers = false)
    {
        Interlocked.Increment(ref _roundTrips);
        using var c = Open();
        using var tx = c.BeginTransaction(deferred: false);
        var now = Scalar<long>(c, tx, "SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)");
        var result = work(c, tx, now);
        tx.Commit();
        if (wakesWorkers) _pulse.Pulse();
        return result;
    }

    private T Read<T>(Func<SqliteConnection, T> work)
    {
        Interlocked.Increment(ref _roundTrips);
        using var c = Open();
        return work(c);
    }

    private static SqliteCommand Command(SqliteConnection c, SqliteTransaction? tx, string sql, params (string Name, object? Value)[] args)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }

    private static int Exec(SqliteConnection c, SqliteTransaction? tx, string sql, params (string, object?)[] args)
    {
        using var cmd = Command(c, tx, sql, args);
        return cmd.ExecuteNonQuery();
    }

    private static T Scalar<T>(SqliteConnection c, SqliteTransaction? tx, string sql, params (string, object?)[] args)
    {
        using var cmd = Command(c, tx, sql, args);
        return (T)Convert.ChangeType(cmd.ExecuteScalar()!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
    private static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    /// <inheritdoc />
    public Task<(string Id, bool Created)> CreateExecutionAsync(NewExecution n, CancellationToken ct = default) => Task.FromResult(Write((c, tx, now) =>
    {
        if (Scalar<long>(c, tx, "SELECT count(*) FROM executions WHERE id = $id", ("$id", n.Id)) > 0) return (n.Id, false);
        var resumedFrom = n.ResumedFrom;
        if (n.IdempotencyKey is { } key)
        {
            using var find = Command(c, tx, "SELECT id, state FROM executions WHERE idempotency_key = $k", ("$k", key));
            using var r = find.ExecuteReader();
            if (r.Read())
            {
                if (!NewExecution.CanResume(Enum.Parse<ExecutionState>(r.GetString(1)))) return (r.GetString(0), false);
                resumedFrom = r.GetString(0);
            }
        }
        if (resumedFrom is not null)
        {
            using (var find = Command(c, tx, "SELECT state, resumed_by FROM executions WHERE id = $id", ("$id", resumedFrom)))
            using (var r = find.ExecuteReader())
            {
                if (!r.Read()) throw new KeyNotFoundException($"No execution '{resumedFrom}' to resume.");
                if (!r.IsDBNull(1)) return (r.GetString(1), false);
                var state = Enum.Parse<ExecutionState>(r.GetString(0));
                if (!NewExecution.CanResume(state)) throw NewExecution.NotResumable(resumedFrom, state);
            }
            Exec(c, tx, "UPDATE executions SET resumed_by = $new, idempotency_key = NULL WHERE id = $id", ("$new", n.Id), ("$id", resumedFrom));
        }
        Insert(c, tx, n, now, resumedFrom);
        return (n.Id, true);
    }, wakesWorkers: true));

    /// <summary>Writes an execution's row and first event; a child takes its parent's queue, tags and priority.</summary>
    private static void Insert(SqliteConnection c, SqliteTransaction tx, NewExecution n, long now, string? resumedFrom)
    {
        var start = now + (long)n.Delay.TotalMilliseconds;
        Exec(c, tx, """
            INSERT INTO executions (id, workflow, version, state, created_at, updated_at, deadline, queue, tags, priority, idempotency_key, runnable_at,
                stream_version, parent_id, parent_position)
            SELECT $id, $wf, $v, 'Pending', $now, $now, $deadline, coalesce(p.queue, $queue), coalesce(p.tags, $tags), coalesce(p.priority, $prio),
                $key, $start, 1, $parent, $ppos
            FROM (SELECT 1) LEFT JOIN executions p ON p.id = $parent
            """, ("$id", n.Id), ("$wf", n.Workflow), ("$v", n.Version), ("$now", now),
            ("$deadline", n.MaxDuration is { } m ? start + (long)m.TotalMilliseconds : null), ("$queue", n.Queue),
            ("$tags", StoreJson.Tags(n.Tags)), ("$prio", n.Priority), ("$key", n.IdempotencyKey), ("$start", start),
            ("$parent", n.ParentId), ("$ppos", n.ParentPosition));
        Exec(c, tx, "INSERT INTO events (execution_id, version, data) VALUES ($id, 1, $data)",
            ("$id", n.Id), ("$data", StoreJson.Event(n.Started(Time(now), resumedFrom))));
    }

    private const string InfoColumns = "id, workflow, version, state, created_at, updated_at, completed_at, deadline, queue, tags, priority, output, error, idempotency_key, resumed_by, parent_id";

    private static ExecutionInfo ReadInfo(SqliteDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetInt32(2), Enum.Parse<ExecutionState>(r.GetString(3)), Time(r.GetInt64(4)), Time(r.GetInt64(5)),
        r.IsDBNull(6) ? null : Time(r.GetInt64(6)), r.IsDBNull(7) ? null : Time(r.GetInt64(7)), r.IsDBNull(8) ? null : r.GetString(8),
        StoreJson.Tags(r.GetString(9)), r.GetInt32(10), r.IsDBNull(11) ? null : r.GetString(11), StoreJson.Error(r.IsDBNull(12) ? null : r.GetString(12)),
        r.IsDBNull(13) ? null : r.GetString(13), r.IsDBNull(14) ? null : r.GetString(14), r.IsDBNull(15) ? null : r.GetString(15));

    /// <inheritdoc />
    public Task<ExecutionInfo?> GetExecutionAsync(string id, CancellationToken ct = default) => Task.FromResult(Read(c =>
    {
        using var cmd = Command(c, null, $"SELECT {InfoColumns} FROM executions WHERE id = $id", ("$id", id));
        using var r = cmd.ExecuteReader();
        return r.Read() ? ReadInfo(r) : null;
    }));

    /// <inheritdoc />
    public Task<IReadOnlyList<ExecutionInfo>> ListExecutionsAsync(ExecutionFilter filter, CancellationToken ct = default) => Task.FromResult<IReadOnlyList<ExecutionInfo>>(Read(c =>
    {
        using var cmd = Command(c, null, $"""
            SELECT {InfoColumns} FROM executions WHERE ($state IS NULL OR state = $state) AND ($wf IS NULL OR workflow = $wf)
            ORDER BY created_at DESC, id DESC LIMIT $limit OFFSET $offset
            """, ("$state", filter.State?.ToString()), ("$wf", filter.Workflow), ("$limit", filter.Limit), ("$offset", filter.Offset));
        using var r = cmd.ExecuteReader();
        var list = new List<ExecutionInfo>();
        while (r.Read()) list.Add(ReadInfo(r));
        return list;
    }));

    /// <inheritdoc />
    public Task<IReadOnlyList<HistoryEvent>> ReadAsync(string id, CancellationToken ct = default) =>
        Task.FromResult(Read(c => Events(c, null, id, 0)));

    /// <inheritdoc />
    public Task<IReadOnlyList<HistoryEvent>> ReadAfterAsync(string id, long after, CancellationToken ct = default) =>
        Task.FromResult(Read(c => Events(c, null, id, after)));

    private static IReadOnlyList<HistoryEvent> Events(SqliteConnection c, SqliteTransaction? tx, string id, long after)
    {
        using var cmd = Command(c, tx, "SELECT data FROM events WHERE execution_id = $id AND version > $after ORDER BY version", ("$id", id), ("$after", after));
        using var r = cmd.ExecuteReader();
        var list = new List<HistoryEvent>();
        while (r.Read()) list.Add(StoreJson.Event(r.GetString(0)));
        return list;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<DeadLetter>> ListDeadLettersAsync(int limit = 50, CancellationToken ct = default) =>
        Task.FromResult(DeadLetters("ORDER BY id DESC LIMIT $n", ("$n", limit)));

    /// <inheritdoc />
    public Task<int> DeleteEndedAsync(TimeSpan olderThan, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(olderThan, TimeSpan.Zero);
        return Task.FromResult(Write((c, tx, now) =>
        {
            Exec(c, tx, "CREATE TEMP TABLE IF NOT EXISTS gone (id TEXT PRIMARY KEY)");
            Exec(c, tx, "DELETE FROM gone");
            var count = Exec(c, tx, """
                INSERT INTO gone SELECT e.id FROM executions e
                WHERE e.state NOT IN ('Pending', 'Running') AND e.completed_at <= $cutoff
                  AND (e.resumed_by IS NULL OR NOT EXISTS (SELECT 1 FROM executions r WHERE r.id = e.resumed_by AND r.state IN ('Pending', 'Running')))
                """, ("$cutoff", now - (long)olderThan.TotalMilliseconds));
            foreach (var table in new[] { "events", "inbox", "dead_letters", "steps", "timers" })
                Exec(c, tx, $"DELETE FROM {table} WHERE execution_id IN (SELECT id FROM gone)");
            Exec(c, tx, "DELETE FROM executions WHERE id IN (SELECT id FROM gone)");
            return count;
        }));
    }

    /// <inheritdoc />
    public Task<DeadLetter?> GetDeadLetterAsync(long id, CancellationToken ct = default) =>
        Task.FromResult(DeadLetters("WHERE id = $id", ("$id", id)).FirstOrDefault());

    /// <inheritdoc />
    public Task<bool> DiscardDeadLetterAsync(long id, CancellationToken ct = default) =>
        Task.FromResult(Write((c, tx, _) => Exec(c, tx, "DELETE FROM dead_letters WHERE id = $id", ("$id", id)) > 0));

    private IReadOnlyList<DeadLetter> DeadLetters(string where, params (string, object?)[] args) => Read(c =>
    {
        using var cmd = Command(c, null, $"SELECT id, execution_id, position, name, input, failure, at FROM dead_letters {where}", args);
        using var r = cmd.ExecuteReader();
        var list = new List<DeadLetter>();
        while (r.Read())
            list.Add(new DeadLetter(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), (StepFailed)StoreJson.Event(r.GetString(5)), Time(r.GetInt64(6))));
        return list;
    });

    /// <inheritdoc />
    public Task<string?> TryGetAsync(string key, CancellationToken ct = default) => Task.FromResult(Read(c =>
    {
        using var cmd = Command(c, null, "SELECT output FROM results WHERE key = $k", ("$k", key));
        return cmd.ExecuteScalar() as string;
    }));

    /// <inheritdoc />
    public Task PutAsync(string key, string output, CancellationToken ct = default) =>
        Task.FromResult(Write((c, tx, _) => Exec(c, tx, "INSERT OR IGNORE INTO results (key, output) VALUES ($k, $o)", ("$k", key), ("$o", output))));
}
