// Runs workflows on the real worker and a real store with skipped time and planned crashes, deterministically.
using Microsoft.Extensions.Time.Testing;
using Stent.Execution;
using Stent.Sqlite;
using Stent.Storage;
using Stent.Storage.Relational;

namespace Stent.Testing;

/// <summary>
/// A test environment: the production <see cref="Worker"/> and <see cref="StentClient"/> over a real store (in-memory
/// SQLite, a SQLite file, PostgreSQL), timed by a <see cref="FakeTimeProvider"/>. <see cref="RunUntilIdleAsync"/> works
/// until nothing can advance, jumping the clock to the next timer, retry or lease expiry instead of waiting, and runs
/// each round's steps to their end before recording them, so the same workflow always writes the same history.
/// <see cref="CrashAt"/> makes the process "die" at a chosen store write; the environment then starts a new worker
/// (with nothing in memory) and ends the dead one's leases, as if they had expired.
/// </summary>
public sealed class TestEnvironment : IAsyncDisposable, IDisposable
{
    private readonly Dictionary<string, Action<Worker>> _registrations = new(StringComparer.Ordinal);
    private readonly WorkerOptions _options;
    private int _writes;
    private (int Write, bool After, string? Operation)? _crash;
    private int _workers;

    /// <summary>An environment on the store that <paramref name="store"/> opens with the environment's clock.</summary>
    public TestEnvironment(Func<TimeProvider, RelationalWorkStore> store, WorkerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        Store = store(Time);
        Store.BeforeCommit = operation => Count(operation, after: false);
        Store.AfterCommit = operation => Count(operation, after: true);
        _options = (options ?? new WorkerOptions()) with { InlineSteps = true, Time = Time };
        if (_options.Seed is null) _options = _options with { Seed = 42 };
        Client = new StentClient(Store, _options.Serializer);
        Worker = NewWorker();
    }

    /// <summary>An environment on a fresh in-memory store.</summary>
    public static TestEnvironment InMemory(WorkerOptions? options = null) => new(t => SqliteWorkStore.InMemory(t),
        options);

    /// <summary>The options the environment's workers run with.</summary>
    public WorkerOptions Options => _options;

    /// <summary>The clock: moves only when the environment skips to due work, or when a test moves it.</summary>
    public FakeTimeProvider Time { get; }

    /// <summary>The store.</summary>
    public RelationalWorkStore Store { get; }

    /// <summary>A client on the store.</summary>
    public StentClient Client { get; }

    /// <summary>The current worker (a new one after each crash).</summary>
    public Worker Worker { get; private set; }

    /// <summary>
    /// When true (default), a planned crash replaces the worker and <see cref="RunUntilIdleAsync"/> goes on; when
    /// false,
    /// it replaces the worker and throws the <see cref="SimulatedCrashException"/> (to look at the store as the crash
    /// left it).
    /// </summary>
    public bool RestartAfterCrash { get; set; } = true;

    /// <summary>Crashes so far.</summary>
    public int Crashes { get; private set; }

    /// <summary>Store writes since the last <see cref="CrashAt"/> (or since the start), of its operation if it named
    /// one.</summary>
    public int Writes => _writes;

    /// <summary>
    /// Makes a workflow runnable by this environment's workers. Registering another workflow of a name already taken
    /// replaces it from the next worker on (<see cref="RestartWorker"/>), as a deploy would.
    /// </summary>
    public TestEnvironment Register<TIn, TOut>(WorkflowDef<TIn, TOut> workflow)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        return Register($"workflow:{workflow.Name}", Worker.Registry.Workflows.Contains(workflow.Name), w =>
            w.Register(workflow));
    }

    /// <summary>Makes a durable function runnable by this environment's workers (replacing one of its name, as
    /// above).</summary>
    public TestEnvironment Register<TIn, TOut>(Durable<TIn, TOut> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        return Register($"function:{function.Name}", Worker.Registry.Functions.Contains(function.Name), w =>
            w.Register(function));
    }

    private TestEnvironment Register(string key, bool known, Action<Worker> register)
    {
        _registrations[key] = register;
        if (!known) register(Worker);
        return this;
    }

    /// <summary>
    /// Plans a crash at store write number <paramref name="write"/> from now (1 = the next one) — counting only writes
    /// of <paramref name="operation"/> when given ("decision": the event boundaries, where a stream is appended to;
    /// "complete", "claim", "create", …) — before it commits (nothing of it is written), or right after it
    /// (<paramref name="afterCommit"/>). Each plan crashes once.
    /// </summary>
    public void CrashAt(int write, bool afterCommit = false, string? operation = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(write, 1);
        _writes = 0;
        _crash = (write, afterCommit, operation);
    }

    private void Count(string operation, bool after)
    {
        if (_crash is { Operation: { } only } && only != operation) return;
        if (!after) _writes++;
        if (_crash is { } c && c.Write == _writes && c.After == after)
        {
            _crash = null;
            throw new SimulatedCrashException(_writes, operation, after);
        }
    }

    private Worker NewWorker()
    {
        var worker = new Worker(Store, _options with { WorkerId = $"test-worker-{++_workers}" });
        foreach (var register in _registrations.Values) register(worker);
        return worker;
    }

    /// <summary>
    /// Replaces the worker with a new one that has nothing in memory, as a restart or a deploy would (after registering
    /// a changed workflow, say). Leases the old worker held stay until they expire.
    /// </summary>
    public void RestartWorker() => Worker = NewWorker();

    /// <summary>Dispatches <paramref name="workflow"/> (registering it) and returns the execution's id.</summary>
    public Task<string> DispatchAsync<TIn, TOut>(WorkflowDef<TIn, TOut> workflow, TIn input, string? executionId = null)
        =>
        DispatchAsync(workflow, input, new DispatchOptions { ExecutionId = executionId });

    /// <summary>Dispatches <paramref name="workflow"/> (registering it) with <paramref name="options"/>.</summary>
    public Task<string> DispatchAsync<TIn, TOut>(WorkflowDef<TIn, TOut> workflow, TIn input, DispatchOptions options)
    {
        Register(workflow);
        return Client.DispatchAsync(workflow, input, options);
    }

    /// <summary>
    /// Works until nothing can advance without outside input (a signal, a cancellation, other code): every execution
    /// has ended, waits for a signal, or is blocked (the code registered no longer matches its history: it is tried
    /// once, then left for code that matches, see <see cref="Register{TIn, TOut}(WorkflowDef{TIn, TOut})"/>). The
    /// clock skips to each next due time. A planned crash replaces the worker, as a restart would.
    /// </summary>
    public async Task RunUntilIdleAsync(CancellationToken ct = default)
    {
        var stalled = 0;
        var since = Time.GetUtcNow();
        var blockedBefore = (await BlockedAsync(ct).ConfigureAwait(false)).Select(e => e.Id).ToHashSet();
        for (var rounds = 0; ; rounds++)
        {
            if (rounds > 1_000_000) throw new
                InvalidOperationException("The environment did not become idle after a million rounds.");
            if (stalled > 600)
                throw new InvalidOperationException(
                    "Work has been due for a minute of skipped time and no worker of the environment can claim it: is a workflow or " +
                    "durable function it needs registered?");
            bool worked;
            try
            {
                worked = await Worker.RoundAsync(ct).ConfigureAwait(false);
            }
            catch (SimulatedCrashException)
            {
                // The process died: its leases end (another worker would find them expired), a new one starts empty.
                Crashes++;
                await Store.ExpireLeasesAsync(Worker.Id, ct).ConfigureAwait(false);
                Worker = NewWorker();
                if (!RestartAfterCrash) throw;
                continue;
            }
            if (worked)
            {
                stalled = 0;
                continue;
            }
            // An execution parked during this run waits for code that matches, which cannot come while it runs (one
            // blocked before it is tried again first: the code may have changed since).
            var parked = (await BlockedAsync(ct).ConfigureAwait(false))
                .Where(e => e.UpdatedAt > since || !blockedBefore.Contains(e.Id)).Select(e => e.Id).ToList();
            var next = await Store.NextDueAsync(parked, ct).ConfigureAwait(false);
            if (next is null) return;
            // Due now but not claimable (a rate window is full): let a little time pass.
            var now = Time.GetUtcNow();
            stalled = next > now ? 0 : stalled + 1;
            Time.Advance(next > now ? next.Value - now : TimeSpan.FromMilliseconds(100));
        }
    }

    private Task<IReadOnlyList<ExecutionInfo>> BlockedAsync(CancellationToken ct) =>
        Store.ListExecutionsAsync(new ExecutionFilter(ExecutionState.Blocked, Limit: int.MaxValue), ct);

    /// <summary>
    /// Fires the recurring schedules due at the environment's clock, as a worker does every second (the environment
    /// does not fire them by itself: a schedule never becomes idle). Move <see cref="Time"/> to a tick, fire, then
    /// <see cref="RunUntilIdleAsync"/>. Returns the ids of the executions started.
    /// </summary>
    public async Task<IReadOnlyList<string>> FireSchedulesAsync(CancellationToken ct = default) =>
        [.. (await Worker.FireSchedulesAsync(ct).ConfigureAwait(false)).Select(f => f.ExecutionId)];

    /// <summary>Dispatches, runs until idle, and returns the result.</summary>
    public async Task<Result<TOut>> RunAsync<TIn, TOut>(WorkflowDef<TIn, TOut> workflow, TIn input, string? executionId
        = null)
    {
        var id = await DispatchAsync(workflow, input, executionId).ConfigureAwait(false);
        await RunUntilIdleAsync().ConfigureAwait(false);
        return await ResultAsync<TOut>(id).ConfigureAwait(false);
    }

    /// <summary>The result of an ended execution.</summary>
    /// <exception cref="InvalidOperationException">It has not ended.</exception>
    public async Task<Result<TOut>> ResultAsync<TOut>(string executionId)
    {
        var info = await Store.GetExecutionAsync(executionId).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"No execution '{executionId}'.");
        if (!info.State.HasEnded())
            throw new InvalidOperationException($"Execution '{executionId}' has not ended: it is {info.State}.");
        return await Client.WaitAsync<TOut>(executionId).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Store.DisposeAsync();

    /// <inheritdoc />
    public void Dispose() => Store.Dispose();
}
