// The one store: executions, work, timers, inbox and leases in relational tables, the same SQL on every database.
using System.Data.Common;
using System.Diagnostics;
using Stent.Replay;

namespace Stent.Storage.Relational;

/// <summary>
/// <see cref="IWorkStore"/> over any <see cref="ISqlDialect"/>: SQLite (a file, or memory) and PostgreSQL run the
/// same statements. Every write is one transaction; times are Unix milliseconds from the dialect's clock; a claim
/// takes many rows at once under one lease token. Each rule of the contract is written here once.
/// </summary>
public partial class RelationalWorkStore : IWorkStore, IIdempotencyStore, IWorkNotifications, IAsyncDisposable,
    IDisposable
{
    private readonly ISqlDialect _dialect;
    private readonly string _t;
    private readonly SemaphoreSlim _schema = new(1, 1);
    private readonly WorkPulse _pulse = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _listener;
    private bool _created;
    private long _roundTrips;
    private long _commits;
    private long _statements;
    private long _databaseTicks;

    /// <summary>A store on <paramref name="dialect"/>'s database; its tables are created on first use.</summary>
    public RelationalWorkStore(ISqlDialect dialect)
    {
        _dialect = dialect ?? throw new ArgumentNullException(nameof(dialect));
        _t = dialect.Prefix;
    }

    /// <inheritdoc />
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>Write transactions this store object committed so far (a refused or failed write is not
    /// counted).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>SQL statements this store object sent so far (an append to an event stream counts as one).</summary>
    public long Statements => Interlocked.Read(ref _statements);

    /// <summary>Time this store object spent in calls to its database so far: running commands and reading what they
    /// return, beginning and committing transactions, reading the database's clock (waiting for a connection aside).
    /// What a workload takes beyond it is the engine's and the caller's.</summary>
    public TimeSpan DatabaseTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _databaseTicks));

    /// <summary>Adds the time since <paramref name="start"/> (a <see cref="Stopwatch"/> timestamp) to <see
    /// cref="DatabaseTime"/>.</summary>
    private void Took(long start) => Interlocked.Add(ref _databaseTicks, Stopwatch.GetTimestamp() - start);

    /// <summary>Rows this store object inserted, updated or deleted so far, where the database counts them for the
    /// store's connection (SQLite); null where it does not (read PostgreSQL's statistics instead).</summary>
    public Task<long?> RowsWrittenAsync(CancellationToken ct = default) => _dialect.RowsWrittenAsync(ct);

    /// <summary>Called before each write transaction commits, with the operation's name (tests inject crashes
    /// here). While it is set, every write commits in a transaction of its own, never as one command.</summary>
    internal Action<string>? BeforeCommit { get; set; }

    /// <summary>Called after each write transaction commits, with the operation's name.</summary>
    internal Action<string>? AfterCommit { get; set; }

    private const string Live = "('Pending', 'Running', 'Blocked')";

    // A step row's indexes leave out what a chain's step changes when it gives its row to the next step (position,
    // function, input, lease; its time, only read while the row waits): PostgreSQL then rewrites the row in place,
    // with no new index entries (a heap-only update).
    private string Ddl => $"""
        CREATE TABLE IF NOT EXISTS {_t}stent_executions (
            id TEXT PRIMARY KEY, workflow TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL,
            created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, completed_at BIGINT, deadline BIGINT,
            queue TEXT, tags TEXT NOT NULL, priority INTEGER NOT NULL, idempotency_key TEXT UNIQUE,
            runnable_at BIGINT, lease_token BIGINT NOT NULL DEFAULT 0, lease_until BIGINT, lease_owner TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0, output TEXT, error TEXT, stream_version BIGINT NOT NULL,
            signals BIGINT NOT NULL DEFAULT 0, resumed_by TEXT, parent_id TEXT, parent_position TEXT, root TEXT NOT
                NULL, awaiting TEXT, trace_parent TEXT);
        CREATE INDEX IF NOT EXISTS stent_executions_runnable ON {_t}stent_executions (priority, runnable_at)
            WHERE runnable_at IS NOT NULL;
        CREATE INDEX IF NOT EXISTS stent_executions_created ON {_t}stent_executions (created_at);
        CREATE TABLE IF NOT EXISTS {_t}stent_steps (
            id {_dialect.StepIdColumn}, execution_id TEXT NOT NULL, position TEXT NOT NULL, name TEXT NOT NULL,
            input TEXT NOT NULL, queue TEXT, tags TEXT NOT NULL, priority INTEGER NOT NULL, max_concurrent INTEGER,
            max_per_second INTEGER, attempt INTEGER NOT NULL DEFAULT 1, available_at BIGINT NOT NULL,
            running INTEGER NOT NULL DEFAULT 0, lease_until BIGINT, lease_token BIGINT NOT NULL DEFAULT 0, worker TEXT,
            root TEXT NOT NULL, lost INTEGER NOT NULL DEFAULT 0, trace_parent TEXT,
            items INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS stent_steps_ready ON {_t}stent_steps (running, available_at);
        CREATE INDEX IF NOT EXISTS stent_steps_of_execution ON {_t}stent_steps (execution_id);
        CREATE INDEX IF NOT EXISTS stent_steps_next ON {_t}stent_steps (priority DESC, id)
            WHERE running = 0 AND max_concurrent IS NULL AND max_per_second IS NULL;
        CREATE INDEX IF NOT EXISTS stent_steps_capped_ids ON {_t}stent_steps (id)
            WHERE max_concurrent IS NOT NULL OR max_per_second IS NOT NULL;
        DROP INDEX IF EXISTS {_t}stent_steps_execution;
        DROP INDEX IF EXISTS {_t}stent_steps_capped;
        CREATE TABLE IF NOT EXISTS {_t}stent_timers (
            execution_id TEXT NOT NULL, position TEXT NOT NULL, due_at BIGINT NOT NULL, PRIMARY KEY (execution_id,
                position));
        CREATE TABLE IF NOT EXISTS {_t}stent_inbox (id {_dialect.IdColumn}, execution_id TEXT NOT NULL, data TEXT NOT
            NULL);
        CREATE INDEX IF NOT EXISTS stent_inbox_execution ON {_t}stent_inbox (execution_id);
        CREATE TABLE IF NOT EXISTS {_t}stent_results (key TEXT PRIMARY KEY, output TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS {_t}stent_dead_letters (
            id {_dialect.IdColumn}, execution_id TEXT NOT NULL, position TEXT NOT NULL, name TEXT NOT NULL,
            input TEXT NOT NULL, failure TEXT NOT NULL, at BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS {_t}stent_rates (name TEXT PRIMARY KEY, window_start BIGINT NOT NULL, used INTEGER
            NOT NULL);
        CREATE TABLE IF NOT EXISTS {_t}stent_workers (
            id TEXT PRIMARY KEY, workflows TEXT NOT NULL, functions TEXT NOT NULL, seen_at BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS {_t}stent_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        {SchedulesDdl}
        {_dialect.Streams.Ddl(_t)}
        """;

    /// <summary>
    /// What the schema this code makes is: a digest of its tables' definitions, the columns added since, and the
    /// stream tables' version. Recorded once the schema is made; a store that finds it recorded makes no schema check
    /// at all (on PostgreSQL the stream tables' check is most of a process's start-up), one that finds another (an
    /// earlier version's schema, or none) makes and upgrades the tables as before.
    /// </summary>
    private string Stamp => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(
        System.Text.Encoding.UTF8.GetBytes(string.Join("\n", Added.Select(a => $"{a}").Prepend(Ddl)
            .Append(_dialect.Streams.TablesVersion)))));

    /// <summary>One operation's connection, transaction and clock reading; counts round trips.</summary>
    private sealed class Session(RelationalWorkStore store, DbConnection connection, DbTransaction? tx, long now)
    {
        public DbConnection Connection { get; } = connection;
        public DbTransaction? Tx { get; } = tx;
        public long Now { get; set; } = now;
        public bool Wakes { get; set; }

        /// <summary>A write sent as one command outside a transaction (see <see
        /// cref="ISqlDialect.ImplicitTransactions"/>): the command is the commit.</summary>
        public bool OneTrip => Tx is null;

        /// <summary>Set when the operation found it must not happen: its transaction is rolled back.</summary>
        public bool Refused { get; set; }

        /// <summary>Counts a round trip of <paramref name="statements"/> statements.</summary>
        public void Trip(int statements = 1)
        {
            Interlocked.Increment(ref store._roundTrips);
            Interlocked.Add(ref store._statements, statements);
        }

        /// <summary>Runs <paramref name="call"/> on the dialect's event streams in this session (one round trip).
        /// </summary>
        public async Task<T> StreamsAsync<T>(Func<IStreamStore, Task<T>> call)
        {
            Trip();
            var start = Stopwatch.GetTimestamp();
            try { return await call(store._dialect.Streams).ConfigureAwait(false); }
            finally { store.Took(start); }
        }

        /// <inheritdoc cref="StreamsAsync{T}"/>
        public Task StreamsAsync(Func<IStreamStore, Task> call) => StreamsAsync(async streams =>
        {
            await call(streams).ConfigureAwait(false);
            return true;
        });

        /// <summary>Runs statements, grouped into commands as large as the dialect takes; returns the rows
        /// affected.</summary>
        public async Task<int> ExecAsync(Sql sql, CancellationToken ct)
        {
            if (sql.IsEmpty) return 0;
            var rows = 0;
            foreach (var part in sql.Commands(store._dialect.MaxParameters))
                rows += await RunAsync(part, cmd => cmd.ExecuteNonQueryAsync(ct)).ConfigureAwait(false);
            return rows;
        }

        /// <summary>Runs <paramref name="use"/> on a command for <paramref name="sql"/> (a prepared one when the
        /// dialect keeps it).</summary>
        private async Task<T> RunAsync<T>(Sql sql, Func<DbCommand, Task<T>> use)
        {
            Trip(sql.StatementCount);
            var cmd = sql.Command(store._dialect, Connection, Tx, out var kept);
            var start = Stopwatch.GetTimestamp();
            try { return await use(cmd).ConfigureAwait(false); }
            finally
            {
                store.Took(start);
                await Sql.DoneAsync(cmd, kept).ConfigureAwait(false);
            }
        }

        public Task<List<T>> QueryAsync<T>(Sql sql, Func<DbDataReader, T> read, CancellationToken ct) => RunAsync(sql,
            async cmd =>
        {
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var list = new List<T>();
            while (await r.ReadAsync(ct).ConfigureAwait(false)) list.Add(read(r));
            return list;
        });

        /// <summary>Runs <paramref name="sql"/> as one command and hands each row of its first result sets to the
        /// reader given for that set (a statement without result columns, such as an insert without RETURNING, makes
        /// none); the statements after them run too.</summary>
        public Task ReadSetsAsync(Sql sql, IReadOnlyList<Action<DbDataReader>> sets, CancellationToken ct) =>
            RunAsync(sql, async cmd =>
        {
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            for (var i = 0; i < sets.Count; i++)
            {
                if (i > 0 && !await r.NextResultAsync(ct).ConfigureAwait(false))
                    throw new InvalidOperationException($"A command returned {i} result sets, not {sets.Count}.");
                while (await r.ReadAsync(ct).ConfigureAwait(false)) sets[i](r);
            }
            while (await r.NextResultAsync(ct).ConfigureAwait(false)) { }
            return true;
        });
    }

    /// <summary>
    /// Makes or upgrades the store's tables now, as a deployment step, rather than on the first operation of each
    /// process: a process that finds them made by this version (see <see cref="Stamp"/>) then starts with one query.
    /// </summary>
    public Task MigrateAsync(CancellationToken ct = default) => EnsureSchemaAsync(ct);

    private async Task EnsureSchemaAsync(CancellationToken ct)
    {
        if (_created) return;
        await _schema.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_created) return;
            var c = await _dialect.OpenAsync(write: true, ct).ConfigureAwait(false);
            try
            {
                var stamp = Stamp;
                if (await RecordedStampAsync(c, ct).ConfigureAwait(false) != stamp)
                {
                    await _dialect.CreateSchemaAsync(c, Ddl, ct).ConfigureAwait(false);
                    await UpgradeAsync(c, ct).ConfigureAwait(false);
                    var sql = new Sql();
                    sql.Append($"INSERT INTO {_t}stent_meta (key, value) VALUES ('schema', {sql.P(stamp)}) " +
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
                    await using var cmd = sql.Command(c, null);
                    await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                }
            }
            finally { await _dialect.ReleaseAsync(c).ConfigureAwait(false); }
            _created = true;
        }
        finally { _schema.Release(); }
    }

    /// <summary>The <see cref="Stamp"/> recorded in the database, or null (none, or no table for it yet).</summary>
    private async Task<string?> RecordedStampAsync(DbConnection c, CancellationToken ct)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT value FROM {_t}stent_meta WHERE key = 'schema'";
        try { return await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) as string; }
        catch (DbException) { return null; }
    }

    /// <summary>Columns added since the tables were first made, with their definitions.</summary>
    private static readonly (string Table, string Column, string Definition)[] Added =
        [("stent_steps", "lost", "INTEGER NOT NULL DEFAULT 0"), ("stent_executions", "awaiting", "TEXT"),
            ("stent_executions", "trace_parent", "TEXT"), ("stent_steps", "trace_parent", "TEXT"),
            ("stent_steps", "items", "INTEGER NOT NULL DEFAULT 0")];

    /// <summary>Adds to a store made by an earlier version the columns it lacks (several processes may race: the
    /// column is there in the end either way).</summary>
    private async Task UpgradeAsync(DbConnection c, CancellationToken ct)
    {
        async Task<bool> HasAsync(string table, string column)
        {
            try { await RunAsync(c, $"SELECT {column} FROM {_t}{table} WHERE 1 = 0", ct).ConfigureAwait(false); }
            catch (DbException) { return false; }
            return true;
        }
        foreach (var (table, column, definition) in Added)
        {
            if (await HasAsync(table, column).ConfigureAwait(false)) continue;
            try
            {
                await RunAsync(c, $"ALTER TABLE {_t}{table} ADD COLUMN {column} {definition}", ct)
                    .ConfigureAwait(false);
            }
            catch (DbException)
            {
                if (!await HasAsync(table, column).ConfigureAwait(false)) throw;
            }
        }
    }

    private static async Task RunAsync(DbConnection c, string text, CancellationToken ct)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = text;
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private const int Tries = 8;

    /// <summary>The pause before try <paramref name="next"/> of an operation that met a transient error: 100 ms,
    /// doubling, at most a second (about 4.5 s in all, a server restart's time).</summary>
    private static TimeSpan Pause(int next) => TimeSpan.FromMilliseconds(Math.Min(1000, 100 << Math.Min(next - 2, 4)));

    /// <summary>
    /// Runs <paramref name="work"/> in one writing transaction; wakes workers when it says so. A transient error
    /// (see <see cref="ISqlDialect.IsTransient"/>) before the commit was sent runs it again on a fresh connection:
    /// nothing of the failed try was written. One during the commit is not retried, as it may have taken effect.
    /// </summary>
    private Task<T> WriteAsync<T>(string operation, Func<Session, Task<T>> work, CancellationToken ct,
        bool oneTrip = false) =>
        RetryTransientAsync(committing => WriteOnceAsync(operation, work, committing, oneTrip, ct), ct);

    /// <summary>Runs <paramref name="once"/> again on a transient error, after a pause, unless it had begun to
    /// commit (it sets the box it is given just before).</summary>
    private async Task<T> RetryTransientAsync<T>(
        Func<System.Runtime.CompilerServices.StrongBox<bool>, Task<T>> once, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var committing = new System.Runtime.CompilerServices.StrongBox<bool>();
            try
            {
                return await once(committing).ConfigureAwait(false);
            }
            catch (Exception e) when (!committing.Value && attempt < Tries && !ct.IsCancellationRequested
                && _dialect.IsTransient(e))
            {
                await Task.Delay(Pause(attempt + 1), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>One try of <see cref="WriteAsync"/>; with <paramref name="oneTrip"/> (where the dialect has <see
    /// cref="ISqlDialect.ImplicitTransactions"/>), <paramref name="work"/> sends one command, which commits itself.
    /// </summary>
    private async Task<T> WriteOnceAsync<T>(string operation, Func<Session, Task<T>> work,
        System.Runtime.CompilerServices.StrongBox<bool> committing, bool oneTrip, CancellationToken ct)
    {
        await EnsureSchemaAsync(ct).ConfigureAwait(false);
        var c = await _dialect.OpenAsync(write: true, ct).ConfigureAwait(false);
        Session session;
        T result;
        try
        {
            var start = Stopwatch.GetTimestamp();
            if (oneTrip)
            {
                session = new Session(this, c, null, await _dialect.NowAsync(c, null, ct).ConfigureAwait(false));
                Took(start);
                committing.Value = true;
                result = await work(session).ConfigureAwait(false);
                if (session.Refused) return result;
            }
            else
            {
                await using var tx = await _dialect.BeginAsync(c, ct).ConfigureAwait(false);
                session = new Session(this, c, tx, await _dialect.NowAsync(c, tx, ct).ConfigureAwait(false));
                Took(start);
                result = await work(session).ConfigureAwait(false);
                if (session.Refused) return result;
                if (session.Wakes && _dialect.Notify is { } notify) await session.ExecAsync(new Sql(notify),
                    ct).ConfigureAwait(false);
                BeforeCommit?.Invoke(operation);
                committing.Value = true;
                start = Stopwatch.GetTimestamp();
                await tx.CommitAsync(ct).ConfigureAwait(false);
                Took(start);
                session.Trip();
            }
            Interlocked.Increment(ref _commits);
        }
        finally { await _dialect.ReleaseAsync(c).ConfigureAwait(false); }
        if (session.Wakes) _pulse.Pulse();
        AfterCommit?.Invoke(operation);
        return result;
    }

    /// <summary>Runs <paramref name="work"/> outside a transaction (reading the store's clock first when it needs
    /// it), again after a transient error.</summary>
    private Task<T> ReadAsync<T>(Func<Session, Task<T>> work, CancellationToken ct, bool clock = false) =>
        RetryTransientAsync(_ => ReadOnceAsync(work, ct, clock), ct);

    private async Task<T> ReadOnceAsync<T>(Func<Session, Task<T>> work, CancellationToken ct, bool clock)
    {
        await EnsureSchemaAsync(ct).ConfigureAwait(false);
        var c = await _dialect.OpenAsync(write: false, ct).ConfigureAwait(false);
        try
        {
            var start = Stopwatch.GetTimestamp();
            var now = clock ? await _dialect.NowAsync(c, null, ct).ConfigureAwait(false) : 0;
            Took(start);
            return await work(new Session(this, c, null, now)).ConfigureAwait(false);
        }
        finally { await _dialect.ReleaseAsync(c).ConfigureAwait(false); }
    }

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
    private static DateTimeOffset? Time(DbDataReader r, int i) => r.IsDBNull(i) ? null : Time(r.GetInt64(i));
    private static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();
    private static string? Text(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
    private static long Ms(TimeSpan t) => (long)t.TotalMilliseconds;

    /// <summary>Tags as stored: "" or "|a|b|" (so one LIKE finds a tag).</summary>
    private static string Tags(IReadOnlyList<string> tags)
    {
        foreach (var tag in tags)
            if (string.IsNullOrEmpty(tag) || tag.Contains('|'))
                throw new ArgumentException($"Tag '{tag}' is empty or contains '|'.", nameof(tags));
        return tags.Count == 0 ? "" : $"|{string.Join('|', tags)}|";
    }

    private static string[] Tags(string stored) => stored.Split('|', StringSplitOptions.RemoveEmptyEntries);

    /// <inheritdoc />
    public Task WaitForWorkAsync(TimeSpan timeout, CancellationToken ct)
    {
        if (_listener is null)
            lock (_pulse) _listener ??= Task.Run(() => _dialect.ListenAsync(_pulse.Pulse, _stop.Token));
        return _pulse.WaitForWorkAsync(timeout, ct);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<HistoryEvent>> ReadAsync(string id, CancellationToken ct = default) =>
        [.. HistoryEvent.Flatten(await ReadAfterAsync(id, 0, ct).ConfigureAwait(false))];

    /// <inheritdoc />
    public Task<IReadOnlyList<HistoryEvent>> ReadAfterAsync(string id, long after, CancellationToken ct = default) =>
        ReadAsync(s => s.StreamsAsync(streams => streams.ReadAsync(s.Connection, id, after, ct)), ct);

    /// <summary>When the next piece of work becomes claimable (a timer, a retry, a delayed start, an expiring lease),
    /// if any.</summary>
    public Task<DateTimeOffset?> NextDueAsync(CancellationToken ct = default) => NextDueAsync([], ct);

    /// <summary>When the next piece of work of an execution other than those of <paramref name="except"/> becomes
    /// claimable, if any.</summary>
    /// <param name="except">Executions whose work does not count.</param>
    /// <param name="ct">Cancellation.</param>
    public Task<DateTimeOffset?> NextDueAsync(IReadOnlyCollection<string> except, CancellationToken ct = default) =>
        ReadAsync(async s =>
    {
        ArgumentNullException.ThrowIfNull(except);
        var sql = new Sql();
        var ids = except.Count == 0 ? null : sql.List(except);
        var (others, steps) = ids is null ? ("", "") : ($" AND id NOT IN ({ids})", $" AND execution_id NOT IN ({ids})");
        sql.Append($"""
            SELECT min(t) FROM (
                SELECT min(runnable_at) AS t FROM {_t}stent_executions WHERE state IN {Live} AND runnable_at IS NOT
                    NULL{others}
                UNION ALL SELECT min(lease_until) FROM {_t}stent_executions WHERE state IN {Live} AND lease_until IS NOT
                    NULL{others}
                UNION ALL SELECT min(available_at) FROM {_t}stent_steps WHERE running = 0{steps}
                UNION ALL SELECT min(lease_until) FROM {_t}stent_steps WHERE running = 1{steps}) AS due
            """);
        var rows = await s.QueryAsync(sql, r => Time(r, 0), ct).ConfigureAwait(false);
        return rows[0];
    }, ct);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_listener is { } l) try { await l.ConfigureAwait(false); } catch (OperationCanceledException) { }
        await _dialect.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
        _schema.Dispose();
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
