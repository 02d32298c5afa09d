// The main job: runs the seed's basic batch pattern end to end and prints its summary.
using Stent.Examples.CSharp;
using Stent.Execution;
using Stent.Storage;

var count = args.Length > 0 && int.TryParse(args[0], out var n) ? n : 200;
var runtime = new LocalRuntime(new InMemoryStore(), new LocalRuntimeOptions
{
    OnProgress = (id, p) => Console.WriteLine($"  progress: {p.Message} {p.Done}/{p.Total}"),
});
var ids = Enumerable.Range(1, count).ToArray();

var watch = System.Diagnostics.Stopwatch.StartNew();
var batch = await runtime.RunAsync(Patterns.Batch, ids);
var s = batch.Value;
Console.WriteLine($"basic batch: {s.Total} items, {s.Succeeded} succeeded, {s.Failed} failed in {watch.ElapsedMilliseconds} ms");
foreach (var e in s.Errors.Take(3)) Console.WriteLine($"  error: {e}");

var gallery = await runtime.RunAsync(Patterns.ImagePipeline, ids);
Console.WriteLine($"image pipeline: {gallery}");

var chunked = await runtime.RunAsync(Patterns.Chunked, ids);
Console.WriteLine($"chunked: {chunked.Value.Succeeded}/{chunked.Value.Total} succeeded");
