// The main job's workflow: the guide's image pipeline over a configurable number of images and failure rate.
using Stent;

namespace Stent.Examples.CSharp;

/// <summary>What the main job processes: images 1..Count, a share of whose downloads fail.</summary>
/// <param name="Count">How many images.</param>
/// <param name="FailureRate">Share (0..1) of images whose download fails for good; as many again fail once and succeed on retry.</param>
public sealed record ImageBatch(int Count, double FailureRate);

/// <summary>The gallery the pipeline makes.</summary>
public sealed record Gallery(string Url, int Images, int Downloaded, IReadOnlyList<string> Failures);

/// <summary>Download → process → gallery, with durable steps and a business error when nothing downloads.</summary>
public static class ImageGallery
{
    // A stable pseudo-random share per image, so every process and every replay agrees on which ones fail.
    private static double Share(int id, int salt) => (uint)HashCode.Combine(id, salt, 0x5f3759df) % 10_000 / 10_000.0;

    /// <summary>Downloads an image (simulated): some fail for good, some fail once, all take a few milliseconds.</summary>
    public static readonly Durable<(int Id, double FailureRate), string> Download = Durable.Create("gallery_download",
        async ((int Id, double FailureRate) image, StepContext ctx) =>
        {
            await Task.Delay(5 + image.Id % 20, ctx.CancellationToken);
            if (Share(image.Id, 1) < image.FailureRate) throw new HttpRequestException($"Image {image.Id} is gone (404)");
            if (Share(image.Id, 2) < image.FailureRate && ctx.Attempt == 1) throw new HttpRequestException($"Network error downloading image {image.Id}");
            return $"/tmp/img_{image.Id}.jpg";
        },
        new DurableOptions { Retry = RetryPolicy.Exponential(attempts: 3, first: "50ms").RetryOnly<HttpRequestException>(), MaxConcurrent = 32 });

    /// <summary>Processes a downloaded image (simulated CPU work).</summary>
    public static readonly Durable<string, string> Process = Durable.Create("gallery_process", async (string path, StepContext ctx) =>
    {
        await Task.Delay(3, ctx.CancellationToken);
        return path.Replace(".jpg", "_processed.jpg", StringComparison.Ordinal);
    });

    /// <summary>Makes the gallery from the processed images.</summary>
    public static readonly Durable<string[], string> Publish = Durable.CreateSync("gallery_publish",
        (string[] paths, StepContext _) => $"https://gallery.example/{paths.Length}_images");

    /// <summary>The pipeline: download all, process what downloaded, publish; "No images downloaded successfully" is a business error.</summary>
    public static readonly WorkflowDef<ImageBatch, Gallery> Workflow = Stent.Workflow.Define("image_gallery", (ImageBatch batch) =>
        from _ in Stent.Workflow.Ensure(batch.Count > 0, $"Image count must be positive, got {batch.Count}")
        from downloads in Enumerable.Range(1, batch.Count).Select(id => (id, batch.FailureRate)).TraverseAll(Download)
        let paths = downloads.Successes()
        from __ in Stent.Workflow.Ensure(paths.Count > 0, "No images downloaded successfully")
        from ___ in Stent.Workflow.Progress($"downloaded {paths.Count}/{batch.Count}", paths.Count, batch.Count)
        from processed in paths.Traverse(Process)
        from url in Publish.Call(processed.ToArray())
        select new Gallery(url, processed.Count, paths.Count, downloads.Failures().Select(e => e.Message).ToList()));
}
