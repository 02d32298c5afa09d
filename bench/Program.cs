// Stent's benchmarks: every workload on SQLite and PostgreSQL beside baselines measured in the same run;
// writes a JSON report (raw figures and the target ratios) and prints a table.
// Run: bash scripts/with-postgres.sh dotnet run -c Release --project bench [-- --quick] [-- --out FILE]
using System.Globalization;
using System.Text.Json;
using Stent.Bench;

if (args is ["worker", var spec]) return await Processes.ServeAsync(spec);
if (args is ["one", var which, var store, var size, var count])
    return await OneWorkload.RunAsync(which, store, int.Parse(size, CultureInfo.InvariantCulture),
        int.Parse(count, CultureInfo.InvariantCulture));

var quick = args.Contains("--quick");
var outIndex = Array.IndexOf(args, "--out");
var output = outIndex >= 0 ? args[outIndex + 1] : Path.Combine("bench", "results", $"{DateTime.UtcNow:yyyy-MM-dd}.json");
var pg = Environment.GetEnvironmentVariable("STENT_PG");
if (string.IsNullOrEmpty(pg)) { Console.Error.WriteLine("STENT_PG is not set: run through scripts/with-postgres.sh, which starts PostgreSQL."); return 2; }
int[] sizes = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
var targets = new Func<Target>[] { Target.Sqlite, () => Target.Postgres(pg) };

var fanouts = new List<FanOutResult>();
var report = new Dictionary<string, object>();
foreach (var make in targets)
{
    var kind = make().Kind;
    foreach (var n in sizes)
        foreach (var workers in new[] { 1, 2 })
        {
            var r = await StentWorkloads.FanOutAsync(make(), n, workers);
            fanouts.Add(r);
            Console.WriteLine($"{kind,-8} fan-out  n={n,7} workers={workers}: {r.ItemsPerSecond,8:F0} items/s, {r.RoundTripsPerItem:F3} round trips/item, {r.BytesPerItem,6:F0} B/item, peak {string.Join("/", r.PeakMiB.Select(m => m.ToString("F0", CultureInfo.InvariantCulture)))} MiB, {r.Decisions} decisions");
        }
    var floor = Baselines.FloorRowsPerSecond(make(), 10_000);
    var chain = await StentWorkloads.ChainAsync(make(), 1_000);
    var commit = Baselines.SingleRowCommitSeconds(make(), 1_000);
    var ten = fanouts.First(f => f.Store == kind && f.N == 10_000 && f.Workers == 1);
    var (read, replay, events) = await StentWorkloads.ReplayAsync(ten.Target, ten.ExecutionId);
    var hangfireN = kind == "postgres" ? 10_000 : 1_000;
    // Hangfire with the same worker count as Stent, and with its own default (20): the ratio uses the better of the two.
    var hangfireSame = HangfireFanOut.ItemsPerSecond(make(), hangfireN, Processes.Concurrency);
    var hangfireDefault = HangfireFanOut.ItemsPerSecond(make(), hangfireN, 20);
    var hangfire = Math.Max(hangfireSame, hangfireDefault);
    Console.WriteLine($"{kind,-8} floor: {floor:F0} rows/s; chain: {chain * 1000:F2} ms/step vs single-row commit {commit * 1000:F3} ms; replay of {events} events: {replay * 1000:F0} ms vs read {read * 1000:F0} ms; Hangfire n={hangfireN}: {hangfireSame:F0} items/s with {Processes.Concurrency} workers, {hangfireDefault:F0} with 20");
    report[kind] = new Dictionary<string, object>
    {
        ["floor_rows_per_s"] = floor, ["chain_seconds_per_step"] = chain, ["single_row_commit_seconds"] = commit,
        ["replay_seconds"] = replay, ["read_seconds"] = read, ["replay_events"] = events,
        ["hangfire_items_per_s"] = hangfire, ["hangfire_n"] = hangfireN,
        ["hangfire_items_per_s_same_workers"] = hangfireSame, ["hangfire_items_per_s_20_workers"] = hangfireDefault,
    };
}

double Rate(string store, int n) => fanouts.First(f => f.Store == store && f.N == n && f.Workers == 1).ItemsPerSecond;
var pgs = (Dictionary<string, object>)report["postgres"];
var sq = (Dictionary<string, object>)report["sqlite"];
var ratios = new Dictionary<string, double>
{
    ["pg_fanout_vs_hangfire"] = Rate("postgres", 10_000) / (double)pgs["hangfire_items_per_s"],
    ["pg_fanout_vs_floor"] = Rate("postgres", 10_000) / (double)pgs["floor_rows_per_s"],
    ["sqlite_fanout_vs_floor"] = Rate("sqlite", 10_000) / (double)sq["floor_rows_per_s"],
    ["chain_step_vs_commit"] = (double)pgs["chain_seconds_per_step"] / (double)pgs["single_row_commit_seconds"],
    ["replay_vs_read"] = (double)pgs["replay_seconds"] / (double)pgs["read_seconds"],
    ["scaling_100k_vs_1k"] = Rate("postgres", 1_000) / Rate("postgres", sizes[^1]),
};
var json = new Dictionary<string, object>
{
    ["ratios"] = ratios,
    ["machine"] = new Dictionary<string, object>
    {
        ["cores"] = Environment.ProcessorCount, ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        ["dotnet"] = Environment.Version.ToString(), ["memory_gib"] = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1073741824.0, 1),
        ["date_utc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture), ["quick"] = quick,
        ["note"] = "Ratios come from one run; absolute figures vary with the machine's load.",
    },
    ["fanout"] = fanouts,
    ["baselines_and_workloads"] = report,
};
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
File.WriteAllText(output, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine();
Console.WriteLine("| ratio | value | target |");
Console.WriteLine("|---|---|---|");
string[] targetsText = ["≥ 50", "≥ 0.25", "≥ 0.25", "≤ 2", "≤ 5", "≤ 2"];
foreach (var ((k, v), target) in ratios.Zip(targetsText)) Console.WriteLine($"| {k} | {v:F3} | {target} |");
Console.WriteLine($"report: {output}");
return 0;
