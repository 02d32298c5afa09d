// Stent's workloads: fan-out over worker processes, a chain of sequential steps, and replay of a recorded history.
using System.Diagnostics;
using Stent.Execution;
using Stent.Replay;
using Stent.Serialization;
using Stent.Storage.Relational;

namespace Stent.Bench;

/// <summary>One fan-out measurement (start-up and warm-up excluded): <see cref="Seconds"/> from the dispatch to the
/// moment a client sees the execution completed.</summary>
public sealed record FanOutResult(string Store, string Durability, int N, int Workers, double Seconds,
    double ItemsPerSecond, double RoundTripsPerItem, double CommitsPerItem, double BytesPerItem,
    IReadOnlyList<double> PeakMiB, int Decisions, string ExecutionId,
    [property: System.Text.Json.Serialization.JsonIgnore] Target Target)
{
    /// <summary>SQL statements sent per item (workers and client).</summary>
    public double StatementsPerItem { get; init; }

    /// <summary>Rows inserted, updated or deleted per item.</summary>
    public double RowsPerItem { get; init; }

    /// <summary>Seconds from the execution's creation to the start of its final decision, both by the store's clock
    /// (what results up to 2026-12-03.json report as <see cref="Seconds"/>): it leaves out the final decision's
    /// commit, which in a fan-out whose items all finish before it (10,000 of them, say) records every outcome.
    /// </summary>
    public double StoreSeconds { get; init; }

    /// <summary>Where this is the run of median throughput among several of the same workload: each run's peak (its
    /// largest worker's), in the order they ran. <c>peak_mib_100k</c> takes their median: one run's peak moves by
    /// ±5 % with when the collector runs.</summary>
    public IReadOnlyList<double>? RunPeaksMiB { get; init; }

    /// <summary>Milliseconds the workers spent compiling code (JIT) during the timed run: warm-up left over.</summary>
    public long WorkerJitMs { get; init; }

    /// <summary>Milliseconds the workers' threads were paused for garbage collection during the timed run.</summary>
    public long WorkerGcPauseMs { get; init; }
}

/// <summary>One chain measurement: per sequential step.</summary>
public sealed record ChainResult(string Store, string Durability, int N, double SecondsPerStep,
    double RoundTripsPerStep, double CommitsPerStep, double BytesPerStep)
{
    /// <summary>SQL statements sent per step.</summary>
    public double StatementsPerStep { get; init; }

    /// <summary>Rows inserted, updated or deleted per step.</summary>
    public double RowsPerStep { get; init; }

    /// <summary>Seconds per single-row commit on the same server, measured between the chain's rounds (median).
    /// </summary>
    public double SingleRowCommitSeconds { get; init; }

    /// <summary>Median over the rounds of a step's time over the single-row commit measured just before.</summary>
    public double StepVsCommit { get; init; }

    /// <summary>Seconds per step the worker spent in calls to the database (commands, commits, the clock): the
    /// database's share of a step, the rest being the engine's and the wait for the next step's dispatch.</summary>
    public double DatabaseSecondsPerStep { get; init; }
}

/// <summary>Stent workloads.</summary>
public static class StentWorkloads
{
    /// <summary>Runs <paramref name="workflow"/> (by default <see cref="Workflows.FanOut"/>, a trivial step mapped
    /// over the items) on <paramref name="n"/> items with <paramref name="workers"/> worker processes.</summary>
    public static async Task<FanOutResult> FanOutAsync(Target t, int n, int workers, string durability,
        WorkflowDef<int, int>? workflow = null)
    {
        workflow ??= Workflows.FanOut;
        var (store, client, processes) = await StartAsync(t, workers);
        // The reads that watch for the end go through a store object of their own: not counted with the client's.
        await using var watcher = (RelationalWorkStore)t.Open();
        await watcher.WaitForWorkAsync(TimeSpan.FromMilliseconds(100), CancellationToken.None);
        var bytes = t.Bytes();
        var (pgRows, clientRows) = (t.PgRowsWritten(), await store.RowsWrittenAsync());
        var (trips, commits, statements) = (store.RoundTrips, store.Commits, store.Statements);
        var warm = Processes.Mark(processes);
        var clock = Stopwatch.StartNew();
        var id = await client.DispatchAsync(workflow, n);
        var seconds = await EndedAsync(watcher, t.Kind == "postgres", id, clock);
        var r = await client.WaitAsync(workflow, id, TimeSpan.FromMinutes(30));
        (trips, commits, statements) = (store.RoundTrips - trips, store.Commits - commits,
            store.Statements - statements);
        var written = t.Bytes() - bytes;
        var peaks = Processes.Stop(processes, out var all);
        if (!r.IsOk || r.Value != n) throw new InvalidOperationException($"fan-out of {n} gave {r}");
        var decisions = (await store.ReadAsync(id)).Count(e => e is DecisionCompleted);
        var worker = all.Less(warm);
        var rows = await RowsAsync(t, store, pgRows, worker.Rows, clientRows);
        return new FanOutResult(t.Kind, durability, n, workers, seconds, n / seconds,
            (double)(trips + worker.RoundTrips) / n, (double)(commits + worker.Commits) / n, (double)written / n,
            peaks, decisions, id, t)
        {
            StatementsPerItem = (double)(statements + worker.Statements) / n, RowsPerItem = rows / n,
            WorkerJitMs = worker.JitMs, WorkerGcPauseMs = worker.GcPauseMs,
            StoreSeconds = await SecondsAsync(store, id),
        };
    }

    /// <summary>
    /// Chains of sequential trivial steps on one worker process, <paramref name="n"/> steps in all, in <paramref
    /// name="rounds"/> rounds; before each round, single-row commits on <paramref name="baseline"/> (another file or
    /// schema of the same server) time what a commit costs just then. The step time and the commit time are the
    /// medians of the rounds', the ratio the median of each round's own: a server that slows down for a while slows
    /// both sides of a round.
    /// </summary>
    public static async Task<ChainResult> ChainAsync(Target t, Target baseline, int n, string durability,
        int rounds = 5)
    {
        var (store, client, processes) = await StartAsync(t, 1);
        var bytes = t.Bytes();
        var (pgRows, clientRows) = (t.PgRowsWritten(), await store.RowsWrittenAsync());
        var warm = Processes.Mark(processes);
        var (steps, commits) = (new List<double>(), new List<double>());
        var length = n / rounds;
        for (var i = 0; i < rounds; i++)
        {
            commits.Add(Baselines.SingleRowCommitSeconds(baseline, 200));
            var id = await client.DispatchAsync(Workflows.Chain, length);
            var r = await client.WaitAsync(Workflows.Chain, id, TimeSpan.FromMinutes(30));
            if (!r.IsOk || r.Value != length) throw new InvalidOperationException($"chain of {length} gave {r}");
            steps.Add(await SecondsAsync(store, id, fromFirstStep: true) / length);
        }
        var written = t.Bytes() - bytes;
        Processes.Stop(processes, out var all);
        var run = all.Less(warm);
        var total = length * rounds;
        var rows = await RowsAsync(t, store, pgRows, run.Rows, clientRows);
        return new ChainResult(t.Kind, durability, total, Median(steps), (double)run.RoundTrips / total,
            (double)run.Commits / total, (double)written / total)
        {
            StatementsPerStep = (double)run.Statements / total, RowsPerStep = rows / total,
            SingleRowCommitSeconds = Median(commits), DatabaseSecondsPerStep = run.DatabaseUs / 1e6 / total,
            StepVsCommit = Median([.. steps.Select((s, i) => s / commits[i])]),
        };
    }

    /// <summary>The middle value (the mean of the two middle ones for an even count).</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Seconds on <paramref name="clock"/> when a client first sees execution <paramref name="id"/> ended: it
    /// reads the execution's row when PostgreSQL notifies that a decision ended one (<paramref name="notified"/>; else
    /// every 25 ms), or every millisecond from a SQLite file that another process writes, and the time is the start of
    /// the first read that saw it ended (the commit came before that read's snapshot, after the previous read's
    /// start). Reading a PostgreSQL server every millisecond would take a tenth of a core from what is measured.
    /// </summary>
    private static async Task<double> EndedAsync(RelationalWorkStore store, bool notified, string id, Stopwatch clock)
    {
        var poll = TimeSpan.FromMilliseconds(notified ? 25 : 1);
        var until = clock.Elapsed + TimeSpan.FromMinutes(30);
        while (true)
        {
            var at = clock.Elapsed;
            var info = await store.GetExecutionAsync(id) ?? throw new InvalidOperationException($"no execution {id}");
            if (info.State.HasEnded()) return at.TotalSeconds;
            if (at > until) throw new TimeoutException($"execution {id} is still {info.State}");
            await store.WaitForWorkAsync(poll, CancellationToken.None);
        }
    }

    /// <summary>Seconds from an execution's creation (or, with <paramref name="fromFirstStep"/>, its first step's
    /// start) to the start of its final decision, both as the store recorded them: for a chain's steps, how soon a
    /// worker notices a new execution (another process's dispatch on a SQLite file is found by polling, up to 20 ms
    /// here) is not counted; the final decision's commit is not counted either (one step's of a chain's length).
    /// </summary>
    private static async Task<double> SecondsAsync(RelationalWorkStore store, string id, bool fromFirstStep = false)
    {
        var info = await store.GetExecutionAsync(id) ?? throw new InvalidOperationException($"no execution {id}");
        var start = fromFirstStep ? (await store.ReadAsync(id)).OfType<StepCompleted>().First().StartedAt!.Value
            : info.CreatedAt;
        return (info.CompletedAt!.Value - start).TotalSeconds;
    }

    /// <summary>Rows written during a run: PostgreSQL's statistics for the schema since <paramref name="pgBefore"/>
    /// (read once the worker processes have gone, so theirs are reported), or SQLite's count of the workers' rows
    /// plus the client's since <paramref name="clientBefore"/>.</summary>
    private static async Task<double> RowsAsync(Target t, RelationalWorkStore client, long? pgBefore, long workers,
        long? clientBefore)
    {
        if (pgBefore is { } before)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            return t.PgRowsWritten()!.Value - before;
        }
        return workers + (await client.RowsWrittenAsync() ?? 0) - (clientBefore ?? 0);
    }

    /// <summary>A store on <paramref name="t"/>, its tables made (workers start on a store already made, as they do
    /// once it is deployed), a client on it, and <paramref name="workers"/> worker processes warmed up.</summary>
    private static async Task<(RelationalWorkStore, StentClient, List<System.Diagnostics.Process>)> StartAsync(
        Target t, int workers)
    {
        var store = (RelationalWorkStore)t.Open();
        await store.MigrateAsync();
        var client = new StentClient(store);
        var processes = Processes.Start(t.Spec, workers);
        await WarmUpAsync(client, t);
        return (store, client, processes);
    }

    /// <summary>Brings the worker processes to their steady state before a timed run: rounds of a fan-out of 1,000
    /// and a chain of 20 with pauses between them, so the runtime's tiered compilation has counted the calls and
    /// replaced the hot code with optimized, profile-guided code (measured on SQLite: a chain step after one round
    /// of 300 items runs at 0.78 ms, after ten rounds 0.26 ms; a fan-out of 10,000 at 26,000–40,000 items/s against
    /// 65,000–80,000). On PostgreSQL it then waits until the servers have reported the warm-up's row counts (an
    /// idle server process reports within 10 s), so they are not counted with the run's.</summary>
    private static async Task WarmUpAsync(StentClient client, Target t)
    {
        for (var round = 0; round < 10; round++)
        {
            var fan = await client.DispatchAsync(Workflows.FanOut, 1_000);
            var chain = await client.DispatchAsync(Workflows.Chain, 20);
            await client.WaitAsync(Workflows.FanOut, fan, TimeSpan.FromMinutes(2));
            await client.WaitAsync(Workflows.Chain, chain, TimeSpan.FromMinutes(2));
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
        if (t.Kind == "postgres") await Task.Delay(TimeSpan.FromSeconds(11));
    }

    /// <summary>Seconds to read and deserialize an execution's stream, and to read it and replay it through its
    /// workflow (best of 3).</summary>
    public static async Task<(double Read, double Replay, int Events)> ReplayAsync(Target t, string executionId)
    {
        var store = t.Open();
        double read = double.MaxValue, replay = double.MaxValue;
        var events = 0;
        for (var i = 0; i < 3; i++)
        {
            var w = Stopwatch.StartNew();
            var history = await store.ReadAsync(executionId);
            read = Math.Min(read, w.Elapsed.TotalSeconds);
            events = history.Count;
            w.Restart();
            history = await store.ReadAsync(executionId);
            var d = Interpreter.Decide(Workflows.FanOut, history, PayloadSerializer.Default, DateTimeOffset.UtcNow, new
                Random(1));
            replay = Math.Min(replay, w.Elapsed.TotalSeconds);
            if (d.State != ExecutionState.Completed) throw new InvalidOperationException($"replay ended {d.State}");
        }
        return (read, replay, events);
    }
}
