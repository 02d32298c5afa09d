// Stent's benchmarks: workloads against SQLite and PostgreSQL, each beside a baseline measured in the same run.
using Stent.Bench;
using Stent.Marten;
using Stent.Sqlite;

var sizes = args.Length > 0 ? args[0].Split(',').Select(int.Parse).ToArray() : [1_000, 10_000];
var pg = Environment.GetEnvironmentVariable("STENT_PG");
foreach (var n in sizes)
{
    var path = Path.Combine(Path.GetTempPath(), $"stent-bench-{Guid.NewGuid():N}.db");
    var (wall, trips, decisions) = await FanOut.RunAsync(new SqliteWorkStore(path), n, 1);
    Console.WriteLine($"sqlite   fan-out n={n,7}: {wall.TotalSeconds,7:F2} s, {n / wall.TotalSeconds,9:F0} items/s, {trips,7} round trips, {(double)trips / n:F3} per item, {decisions} decisions");
    if (pg is not null)
    {
        using var store = new PostgresWorkStore(pg, "bench_" + Guid.NewGuid().ToString("N")[..8]);
        (wall, trips, decisions) = await FanOut.RunAsync(store, n, 1);
        Console.WriteLine($"postgres fan-out n={n,7}: {wall.TotalSeconds,7:F2} s, {n / wall.TotalSeconds,9:F0} items/s, {trips,7} round trips, {(double)trips / n:F3} per item, {decisions} decisions");
    }
}
return 0;
