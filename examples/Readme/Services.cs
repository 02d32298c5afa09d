// The README's sample of a step that uses the app's services: a typed HttpClient resolved per attempt.
namespace Stent.Examples.Readme;

// <readme:services>
public sealed class ImageClient(HttpClient http)             // a typed HttpClient, registered with AddHttpClient
{
    public Task<byte[]> DownloadAsync(string url, CancellationToken ct) => http.GetByteArrayAsync(url, ct);
}

public static class Images
{
    // Each attempt resolves ImageClient from a scope of its own of the host's services (disposed when it ends).
    public static readonly Durable<string, int> Download = Durable.Create("download_image",
        async (ImageClient images, string url, StepContext ctx) =>
            (await images.DownloadAsync(url, ctx.CancellationToken)).Length,
        new DurableOptions { Retry = RetryPolicy.Exponential(attempts: 3, first: "1s") });

    public static readonly WorkflowDef<string[], int> TotalBytes = Workflow.Define("total_bytes", (string[] urls) =>
        from sizes in urls.Traverse(Download)
        select sizes.Sum());
}
// </readme:services>
