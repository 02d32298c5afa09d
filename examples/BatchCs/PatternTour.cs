// Runs every pattern of the batch guide in C# on two in-process workers and prints one line each: --patterns [N].
using Stent.Execution;
using Stent.Storage;

namespace Stent.Examples.CSharp;

/// <summary>A tour of patterns 1–13: each dispatched to in-process workers on an in-memory store, with its outcome
/// printed.</summary>
public static class PatternTour
{
    /// <summary>Runs pattern <paramref name="only"/>, or all of them; writes a line per pattern to <paramref
    /// name="output"/>.</summary>
    public static async Task RunAsync(int? only, TextWriter output)
    {
        using var store = Stent.Sqlite.SqliteWorkStore.InMemory();
        using var stop = new CancellationTokenSource();
        var serving = Enumerable.Range(1, 2).Select(i => new Worker(store, new WorkerOptions { WorkerId = $"tour-{i}" })
            .Register(Patterns.Batch).Register(Patterns.ImagePipeline).Register(Patterns.Chunked).Register(GuidePatterns.MapBatch)
            .Register(PracticePatterns.RateLimitedBatch).Register(GuidePatterns.ManualRateLimited).Register(GuidePatterns.Resilient)
            .Register(GuidePatterns.RetryInRounds).Register(PracticePatterns.Monitored).Register(ResumePattern.ResumableBatch)
            .Register(GuidePatterns.Etl).Register(IdempotentTwice).Register(PracticePatterns.BatchWithCleanup)
            .Register(NeighbourPatterns.BookTrip).Register(NeighbourPatterns.ImportAll).Register(NeighbourPatterns.ImportRegion)
            .Register(NeighbourPatterns.AwaitApproval)
            .ServeAsync(stop.Token)).ToList();
        var client = new StentClient(store);

        async Task<(string Id, Result<TOut> Result)> Run<TIn, TOut>(WorkflowDef<TIn, TOut> workflow, TIn input,
            DispatchOptions? options = null)
        {
            var id = await client.DispatchAsync(workflow, input, options);
            return (id, await client.WaitAsync(workflow, id, TimeSpan.FromMinutes(2)));
        }
        static string Show<T>(Result<T> r, Func<T, string> describe) => r.IsOk ? describe(r.Value) :
            $"error: {r.Error!.Message}";
        async Task Pattern(int n, string title, Func<Task<string>> body)
        {
            if (only is null || only == n) await output.WriteLineAsync($"{n,2}. {title}: {await body()}");
        }

        await Pattern(1, "basic batch", async () => Show((await Run(Patterns.Batch, Enumerable.Range(1,
            100).ToArray())).Result,
            s => $"{s.Succeeded}/{s.Total} succeeded, {s.Failed} failed"));
        await Pattern(2, "image pipeline", async () => Show((await Run(Patterns.ImagePipeline, Enumerable.Range(1,
            20).ToArray())).Result, url => url));
        await Pattern(3, "chunked with progress", async () => Show((await Run(Patterns.Chunked, Enumerable.Range(1,
            1001).ToArray())).Result,
            s => $"{s.Succeeded}/{s.Total} in 11 chunks"));
        await Pattern(4, "map", async () => Show((await Run(GuidePatterns.MapBatch, Enumerable.Range(1,
            500).ToArray())).Result,
            items => $"{items.Count} items in input order: {items[0].Id}..{items[^1].Id}"));
        await Pattern(5, "rate limited (MaxConcurrent = 5)", async () => Show((await
            Run(PracticePatterns.RateLimitedBatch, Enumerable.Range(1, 40).ToArray())).Result,
            r => $"{r.Count} calls, at most {PracticePatterns.PeakConcurrentCalls} at once"));
        await Pattern(6, "manual rate limiting", async () => Show((await Run(GuidePatterns.ManualRateLimited, new
            RateLimitedInput(Enumerable.Range(1, 30).ToArray(), 10, "200ms"))).Result,
            r => $"{r.Count} items in 3 batches, 200 ms apart"));
        await Pattern(7, "continue on error", async () => Show((await Run(GuidePatterns.Resilient, Enumerable.Range(1,
            10).ToArray())).Result,
            s => $"{s.Succeeded.Count} ok, {s.Failed.Count} failed, rate {s.SuccessRate}"));
        await Pattern(8, "retry failed items in rounds", async () => Show((await Run(GuidePatterns.RetryInRounds,
            Enumerable.Range(1, 8).ToArray())).Result,
            s => $"{s.Succeeded.Count} done after {s.Rounds} rounds, {s.Failed.Count} failed for good"));
        await Pattern(9, "structured logging", async () => Show((await Run(PracticePatterns.Monitored,
            Enumerable.Range(1, 120).ToArray())).Result,
            n => $"{n} processed (each log line written once, never on replay)"));
        await Pattern(10, "checkpoint/resume", async () =>
        {
            var key = new DispatchOptions { IdempotencyKey = $"nightly-{Guid.NewGuid():N}" };
            ResumePattern.Unavailable[150] = true;
            var (first, r1) = await Run(ResumePattern.ResumableBatch, Enumerable.Range(1, 300).ToArray(), key);
            ResumePattern.Unavailable.Clear();
            var (second, r2) = await Run(ResumePattern.ResumableBatch, Enumerable.Range(1, 300).ToArray(), key);
            var reused = (await client.GetAsync(second)).Counters["reused"];
            return $"first run: {r1.Error?.Message}; dispatched again: total {Show(r2, s => s.Total.ToString(System.Globalization.CultureInfo.InvariantCulture))}, {reused} steps reused from {first}";
        });
        await Pattern(11, "multi-stage ETL", async () => Show((await Run(GuidePatterns.Etl, ["a", "bx", "bad1",
            "c"])).Result,
            s => $"{s.OriginalCount} → {s.Extracted} → {s.Transformed} → {s.Loaded}"));
        await Pattern(12, "best practices", async () =>
        {
            var (_, a) = await Run(IdempotentTwice, 7);
            var (_, b) = await Run(IdempotentTwice, 7);
            var (failed, f) = await Run(PracticePatterns.BatchWithCleanup, (3, true));
            var cleanups = (await client.GetAsync(failed)).Steps.Count(s => s.Name == "delete_temp" && s.Status ==
                "completed");
            return $"idempotent result reused: {a.Value == b.Value}; a failed batch ({f.Error?.Message}) still ran its cleanup: {cleanups == 1}";
        });
        await Pattern(13, "neighbours", async () =>
        {
            NeighbourPatterns.Compensated.Clear();
            var (_, saga) = await Run(NeighbourPatterns.BookTrip, new Trip("bob", CarFails: true));
            var (_, rows) = await Run(NeighbourPatterns.ImportAll, ["north", "south"]);
            var approval = await client.DispatchAsync(NeighbourPatterns.AwaitApproval, "30s");
            await client.SignalAsync(approval, "approval", "carol");
            var approved = await client.WaitAsync(NeighbourPatterns.AwaitApproval, approval);
            return $"saga: {saga.Error?.Message} (compensated: {string.Join(", ", NeighbourPatterns.Compensated)}); children: {Show(rows, n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))} rows; {Show(approved, s => s)}";
        });

        await stop.CancelAsync();
        await Task.WhenAll(serving);
    }

    /// <summary>Pattern 12's idempotent step as a workflow, dispatched twice.</summary>
    public static readonly WorkflowDef<int, string> IdempotentTwice = Workflow.Define("idempotent_twice", (int id) =>
        PracticePatterns.IdempotentProcess.Call(id));
}
