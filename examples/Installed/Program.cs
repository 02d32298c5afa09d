// A new user's app on the Stent packages: a worker on a SQLite file, the test environment, and plain LINQ beside them.
using Stent;
using Stent.Execution;
using Stent.Sqlite;
using Stent.Testing;

var twice = Durable.CreateSync("twice", (int x, StepContext _) => x * 2);
var sum = Workflow.Define("sum_of_doubles", (int[] xs) => from ys in xs.Traverse(twice) select ys.Sum());

var path = Path.Combine(Path.GetTempPath(), $"stent-installed-{Guid.NewGuid():N}.db");
using (var store = new SqliteWorkStore(path))
{
    using var stop = new CancellationTokenSource();
    var serving = new Worker(store).Register(sum).ServeAsync(stop.Token);
    var client = new StentClient(store);
    var id = await client.DispatchAsync(sum, [1, 2, 3]);
    Console.WriteLine($"worker: {(await client.WaitAsync(sum, id, TimeSpan.FromSeconds(30))).Value}");
    stop.Cancel();
    await serving;
}

using var env = TestEnvironment.InMemory();
Console.WriteLine($"test environment: {(await env.RunAsync(sum, [1, 2, 3])).Value}");

var pairs = new[] { 1, 2 }.Zip(new[] { "a", "b" });           // LINQ's own Zip: referencing Stent leaves it alone
Console.WriteLine($"zip: {string.Join(",", pairs.Select(p => $"{p.First}{p.Second}"))}");
