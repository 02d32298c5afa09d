// The seed guide's basic batch, image pipeline and chunked patterns, in C# query syntax.
using Stent;

namespace Stent.Examples.CSharp;

/// <summary>A processed item.</summary>
public sealed record Item(int Id, string Status);

/// <summary>What a batch did.</summary>
public sealed record Summary(int Total, int Succeeded, int Failed, IReadOnlyList<Item> Results, IReadOnlyList<string> Errors);

/// <summary>The patterns, as workflow definitions.</summary>
public static class Patterns
{
    /// <summary>Items whose id is divisible by this fail (every attempt), to show failures being captured.</summary>
    public const int FailEvery = 17;

    public static readonly Durable<int, Item> ProcessItem = Durable.Create("process_item",
        async (int id, StepContext ctx) =>
        {
            await Task.Delay(1, ctx.CancellationToken);
            if (id % FailEvery == 0) throw new InvalidOperationException($"item {id} is corrupt");
            return new Item(id, "processed");
        },
        new DurableOptions { Retry = RetryPolicy.Exponential(attempts: 3, first: "10ms"), MaxConcurrent = 8 });

    /// <summary>Basic batch: fan out, capture every item's outcome, aggregate.</summary>
    public static readonly WorkflowDef<int[], Summary> Batch = Workflow.Define("batch", (int[] ids) =>
        from results in ids.TraverseAll(ProcessItem)
        let ok = results.Successes()
        let errors = results.Failures().Select(e => e.Message).ToList()
        select new Summary(ids.Length, ok.Count, errors.Count, ok, errors));

    public static readonly Durable<int, string> DownloadImage = Durable.Create("download_image",
        async (int id, StepContext ctx) =>
        {
            await Task.Yield();
            if (id % 10 == 3 && ctx.Attempt == 1) throw new HttpRequestException($"Network error downloading image {id}");
            if (id % 10 == 7) throw new HttpRequestException($"Image {id} is gone");
            return $"/tmp/img_{id}.jpg";
        },
        new DurableOptions { Retry = RetryPolicy.Exponential(attempts: 3, first: "50ms").RetryOnly<HttpRequestException>() });

    public static readonly Durable<string, string> ProcessImage = Durable.CreateSync("process_image",
        (string path, StepContext _) => path.Replace(".jpg", "_processed.jpg"));

    public static readonly Durable<string[], string> CreateGallery = Durable.CreateSync("create_gallery",
        (string[] paths, StepContext _) => $"https://gallery.example/{paths.Length}_images");

    /// <summary>Image pipeline: download (some fail), process the downloaded ones, make a gallery; no image = business error.</summary>
    public static readonly WorkflowDef<int[], string> ImagePipeline = Workflow.Define("image_pipeline", (int[] ids) =>
        from downloads in ids.TraverseAll(DownloadImage)
        let paths = downloads.Successes()
        from _ in Workflow.Ensure(paths.Count > 0, "No images downloaded successfully")
        from processed in paths.Traverse(ProcessImage)
        from gallery in CreateGallery.Call(processed.ToArray())
        select gallery);

    /// <summary>Chunked processing: chunks of 100 with a durable 100 ms pause and a progress report after each.</summary>
    public static readonly WorkflowDef<int[], Summary> Chunked = Workflow.Define("chunked_batch", (int[] ids) =>
        from results in ids.Chunk(100, ProcessItem, pause: "100ms")
        let ok = results.Successes()
        let errors = results.Failures().Select(e => e.Message).ToList()
        select new Summary(ids.Length, ok.Count, errors.Count, ok, errors));
}
