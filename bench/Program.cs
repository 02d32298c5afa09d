// Stent's benchmarks: every workload on SQLite and PostgreSQL beside baselines measured in the same run;
// writes a JSON report (raw figures and the target ratios) and prints a table.
// Run: bash scripts/with-postgres.sh dotnet run -c Release --project bench [-- --quick] [-- --out FILE]
// Single pieces: "one WORKLOAD STORE N WORKERS", "alloc N [STORE]" (bytes per item), "decide N" (a fan-out's first
// decision).
using System.Globalization;
using System.Text.Json;
using Stent.Bench;

if (args is ["worker", var spec]) return await Processes.ServeAsync(spec);
if (args is ["decide", var fanOut]) return DecideTiming.Run(int.Parse(fanOut, CultureInfo.InvariantCulture));
if (args is ["alloc", var items, .. var rest] && rest.Length <= 1)
    return await Allocations.RunAsync(int.Parse(items, CultureInfo.InvariantCulture), rest is [var s] ? s : "sqlite");
if (args is ["one", var which, var store, var size, var count])
    return await OneWorkload.RunAsync(which, store, int.Parse(size, CultureInfo.InvariantCulture),
        int.Parse(count, CultureInfo.InvariantCulture));
// A single piece asked for with the wrong arguments is an error, not a full run (which would write today's report).
if (args is [var piece, ..] && piece is "one" or "alloc" or "decide" or "worker")
{
    Console.Error.WriteLine($"Bad arguments for '{piece}': {string.Join(' ', args)}. Expected \"one WORKLOAD STORE N " +
        "WORKERS\", \"alloc N [STORE]\" or \"decide N\".");
    return 2;
}
var unknown = args.Where((a, i) => a != "--quick" && a != "--out" && (i == 0 || args[i - 1] != "--out")).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"Unknown arguments: {string.Join(' ', unknown)}. A full run takes [--quick] " +
        "[--out FILE].");
    return 2;
}

var quick = args.Contains("--quick");
var outIndex = Array.IndexOf(args, "--out");
var output = outIndex >= 0 ? args[outIndex + 1] : Path.Combine("bench", "results", $"{DateTime.UtcNow:yyyy-MM-dd}.json");
var pg = Environment.GetEnvironmentVariable("STENT_PG");
if (string.IsNullOrEmpty(pg)) { Console.Error.WriteLine("STENT_PG is not set: run through scripts/with-postgres.sh, which starts PostgreSQL."); return 2; }
int[] sizes = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
// Workers are warmed up to their steady state first (see StentWorkloads.WarmUpAsync); 5,000 steps average out noise.
var chainLength = quick ? 300 : 5_000;

var fanouts = new List<FanOutResult>();
var chunked = new List<FanOutResult>();
var chains = new List<ChainResult>();
// Per store and durability: the floor measured before each fan-out of 10,000 on one worker (median), and the
// median of the fan-out's ratios to it.
var floors = new Dictionary<string, (double Floor, double Ratio)>();
var report = new Dictionary<string, object>();
// Each store with production durability (SQLite: synchronous FULL, its default; PostgreSQL: fsync on), then relaxed
// (SQLite: durable through a crash of the process only, synchronous NORMAL; PostgreSQL: fsync off).
var runs = new (Func<Target> Make, string Durability)[]
{
    (() => Target.Sqlite(), "durable"), (() => Target.Sqlite(durable: false), "process_crash"),
    (() => Target.Postgres(pg), "durable"), (() => Target.Postgres(pg), "fsync_off"),
};
foreach (var (make, durability) in runs)
{
    var kind = make().Kind;
    if (kind == "postgres") Baselines.SetDurability(pg, durability == "durable");
    var key = $"{kind}_{durability}";
    var relaxed = durability != "durable";
    foreach (var n in sizes)
        foreach (var workers in relaxed ? new[] { 1 } : new[] { 1, 2 })
        {
            if (n == 100_000 && workers == 2) continue;
            // Runs are noisy on a shared machine: with one worker, and up to 10,000 items with two, the median of three
            // runs is kept. Before each run of 10,000 items on one worker, the floor is measured (what the server can
            // do just then): the fan-out's ratio to it is the median of each run's own.
            var tries = new List<(FanOutResult Run, double Floor)>();
            for (var i = 0; i < (n <= 10_000 || workers == 1 ? 3 : 1); i++)
            {
                var before = n == 10_000 && workers == 1 ? Baselines.FloorRowsPerSecond(make(), 10_000) : 0;
                tries.Add((await StentWorkloads.FanOutAsync(make(), n, workers, durability), before));
            }
            var r = tries.Select(t => t.Run).OrderBy(t => t.ItemsPerSecond).ElementAt(tries.Count / 2) with
            {
                RunPeaksMiB = [.. tries.Select(t => t.Run.PeakMiB.Max())],
            };
            fanouts.Add(r);
            if (n == 10_000 && workers == 1)
                floors[key] = (StentWorkloads.Median([.. tries.Select(t => t.Floor)]),
                    StentWorkloads.Median([.. tries.Select(t => t.Run.ItemsPerSecond / t.Floor)]));
            var peaks = string.Join("/", r.PeakMiB.Select(m => m.ToString("F0", CultureInfo.InvariantCulture)));
            Console.WriteLine($"{key,-18} fan-out n={n,7} workers={workers}: {r.ItemsPerSecond,8:F0} items/s, " +
                $"{r.CommitsPerItem:F3} commits/item, {r.RoundTripsPerItem:F3} round trips/item, " +
                $"{r.StatementsPerItem:F3} statements/item, {r.RowsPerItem:F3} rows/item, " +
                $"{r.BytesPerItem,6:F0} B/item, peak {peaks} MiB, {r.Decisions} decisions, worker JIT " +
                $"{r.WorkerJitMs} ms, GC pauses {r.WorkerGcPauseMs} ms" + (tries.Count > 1
                    ? $" (median of {string.Join(", ", tries.Select(t => t.Run.ItemsPerSecond.ToString("F0",
                        CultureInfo.InvariantCulture)))} items/s; runs' peaks {string.Join(", ", r.RunPeaksMiB!
                        .Select(m => m.ToString("F0", CultureInfo.InvariantCulture)))} MiB)" : ""));
        }
    if (!quick && !relaxed)
    {
        // The same 100,000 items in sequential chunks of 1,000: a worker holds one chunk's open work, not the whole
        // history, so its peak memory stays near that of a small fan-out.
        var c = await StentWorkloads.FanOutAsync(make(), 100_000, 1, durability, Workflows.Chunked);
        chunked.Add(c);
        Console.WriteLine($"{key,-18} chunked n=100000 (chunks of 1,000): {c.ItemsPerSecond,8:F0} items/s, " +
            $"peak {c.PeakMiB.Max():F0} MiB, {c.Decisions} decisions");
    }
    var (floor, fanoutVsFloor) = floors[key];
    var chain = await StentWorkloads.ChainAsync(make(), make(), chainLength, durability);
    chains.Add(chain);
    var commit = chain.SingleRowCommitSeconds;
    var ten = fanouts.First(f => f.Store == kind && f.Durability == durability && f.N == 10_000 && f.Workers == 1);
    var (read, replay, events) = await StentWorkloads.ReplayAsync(ten.Target, ten.ExecutionId);
    var entry = new Dictionary<string, object>
    {
        ["floor_rows_per_s"] = floor, ["chain_seconds_per_step"] = chain.SecondsPerStep,
        ["chain_commits_per_step"] = chain.CommitsPerStep, ["chain_round_trips_per_step"] = chain.RoundTripsPerStep,
        ["chain_bytes_per_step"] = chain.BytesPerStep, ["chain_statements_per_step"] = chain.StatementsPerStep,
        ["chain_rows_per_step"] = chain.RowsPerStep, ["single_row_commit_seconds"] = commit,
        ["chain_step_vs_commit"] = chain.StepVsCommit, ["chain_database_seconds_per_step"] =
            chain.DatabaseSecondsPerStep, ["fanout_vs_floor"] = fanoutVsFloor,
        ["replay_seconds"] = replay, ["read_seconds"] = read, ["replay_events"] = events,
    };
    Console.WriteLine($"{key,-18} floor: {floor:F0} rows/s; chain: {chain.SecondsPerStep * 1000:F2} ms/step " +
        $"({chain.CommitsPerStep:F2} commits, {chain.RoundTripsPerStep:F1} round trips, " +
        $"{chain.StatementsPerStep:F1} statements, {chain.RowsPerStep:F1} rows, {chain.BytesPerStep:F0} B, " +
        $"{chain.DatabaseSecondsPerStep * 1000:F3} ms in database calls) " +
        $"vs single-row commit {commit * 1000:F3} ms; replay of {events} events: {replay * 1000:F0} ms vs read " +
        $"{read * 1000:F0} ms");
    if (!relaxed)
    {
        var hangfireN = kind == "postgres" ? 10_000 : 1_000;
        // Hangfire with the same worker count as Stent, and with its own default (20): the ratio uses the better.
        var hangfireSame = HangfireFanOut.ItemsPerSecond(make(), hangfireN, Processes.Concurrency);
        var hangfireDefault = HangfireFanOut.ItemsPerSecond(make(), hangfireN, 20);
        entry["hangfire_items_per_s"] = Math.Max(hangfireSame, hangfireDefault);
        entry["hangfire_n"] = hangfireN;
        entry["hangfire_items_per_s_same_workers"] = hangfireSame;
        entry["hangfire_items_per_s_20_workers"] = hangfireDefault;
        Console.WriteLine($"{key,-18} Hangfire n={hangfireN}: {hangfireSame:F0} items/s with " +
            $"{Processes.Concurrency} workers, {hangfireDefault:F0} with 20");
    }
    report[key] = entry;
}
Baselines.SetDurability(pg, false);

double Rate(string store, string durability, int n) =>
    fanouts.First(f => f.Store == store && f.Durability == durability && f.N == n && f.Workers == 1).ItemsPerSecond;
double Get(string key, string name) => (double)((Dictionary<string, object>)report[key])[name];
var ratios = new Dictionary<string, double>
{
    ["chain_step_vs_commit"] = Get("postgres_durable", "chain_step_vs_commit"),
    ["chain_step_vs_commit_sqlite"] = Get("sqlite_durable", "chain_step_vs_commit"),
    ["pg_fanout_vs_floor"] = Get("postgres_durable", "fanout_vs_floor"),
    ["sqlite_fanout_vs_floor"] = Get("sqlite_durable", "fanout_vs_floor"),
    ["pg_fanout_vs_hangfire"] = Rate("postgres", "durable", 10_000) / Get("postgres_durable", "hangfire_items_per_s"),
    ["replay_vs_read"] = Get("postgres_durable", "replay_seconds") / Get("postgres_durable", "read_seconds"),
};
string[] targetsText = ["≤ 2", "≤ 2", "≥ 0.25", "≥ 0.25", "≥ 100", "≤ 5"];
if (!quick)
{
    // Seconds per item at 100k over seconds per item at 10k (the worse store), and the worker peak at 100k: the
    // median of the runs' peaks, the larger store's (production durability, as every ratio).
    ratios["per_item_cost_100k_vs_10k"] = new[] { ("sqlite", "durable"), ("postgres", "durable") }
        .Max(s => Rate(s.Item1, s.Item2, 10_000) / Rate(s.Item1, s.Item2, 100_000));
    ratios["peak_mib_100k"] = fanouts.Where(f => f.N == 100_000 && f.Durability == "durable")
        .Max(f => StentWorkloads.Median(f.RunPeaksMiB ?? [f.PeakMiB.Max()]));
    targetsText = [.. targetsText, "≤ 1.2", "≤ 150"];
}
var json = new Dictionary<string, object>
{
    ["ratios"] = ratios,
    ["machine"] = new Dictionary<string, object>
    {
        ["cores"] = Environment.ProcessorCount, ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        ["dotnet"] = Environment.Version.ToString(), ["memory_gib"] = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1073741824.0, 1),
        ["date_utc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture), ["quick"] = quick,
        ["note"] = "Ratios come from one run; absolute figures vary with the machine's load. Worker start-up and " +
            "warm-up are excluded from timings. Ratios use production durability: SQLite with synchronous FULL (its " +
            "default), PostgreSQL with fsync on.",
    },
    ["fanout"] = fanouts,
    ["chunked"] = chunked,
    ["chain"] = chains,
    ["baselines_and_workloads"] = report,
};
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
File.WriteAllText(output, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine();
Console.WriteLine("| ratio | value | target |");
Console.WriteLine("|---|---|---|");
foreach (var ((k, v), target) in ratios.Zip(targetsText)) Console.WriteLine($"| {k} | {v:F3} | {target} |");
Console.WriteLine($"report: {output}");
return 0;
