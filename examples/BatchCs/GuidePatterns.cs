// More of the batch guide's patterns in C# query syntax: Map, manual rate limiting, continue-on-error with a threshold,
// retrying failed items in rounds, and a multi-stage ETL.
using Stent;

namespace Stent.Examples.CSharp;

/// <summary>Input of the manual rate-limiting pattern.</summary>
public sealed record RateLimitedInput(int[] Ids, int BatchSize = 10, string DelayBetweenBatches = "1s");

/// <summary>Outcome of the continue-on-error pattern.</summary>
public sealed record ResilientSummary(IReadOnlyList<Item> Succeeded, IReadOnlyList<FailedItem> Failed, double SuccessRate);

/// <summary>An item that failed, with the error kept.</summary>
public sealed record FailedItem(int Id, string Error, string ErrorType);

/// <summary>Outcome of retrying failed items in rounds.</summary>
public sealed record RoundsSummary(IReadOnlyList<int> Succeeded, IReadOnlyList<FailedItem> Failed, int Rounds);

/// <summary>Counts of a multi-stage ETL.</summary>
public sealed record EtlSummary(int OriginalCount, int Extracted, int Transformed, int Loaded);

/// <summary>Patterns 4, 6, 7, 8 and 11 of the batch guide.</summary>
public static class GuidePatterns
{
    /// <summary>A step that never fails.</summary>
    public static readonly Durable<int, Item> Enrich = Durable.CreateSync("enrich_item", (int id, StepContext _) =>
    {
        return new Item(id, "enriched");
    });

    /// <summary>Pattern 4: one function over a large list with <c>Map</c>; results in input order, scheduled in one batched write.</summary>
    public static readonly WorkflowDef<int[], IReadOnlyList<Item>> MapBatch = Workflow.Define("map_batch", (int[] ids) => ids.Map(Enrich));

    /// <summary>Pattern 6: fixed batches with a durable pause between them.</summary>
    public static readonly WorkflowDef<RateLimitedInput, IReadOnlyList<Item>> ManualRateLimited = Workflow.Define("manual_rate_limited",
        (RateLimitedInput input) =>
            from results in input.Ids.Chunk(input.BatchSize, Enrich, pause: input.DelayBetweenBatches)
            select results.Successes());

    /// <summary>A step that fails (every attempt) for ids divisible by 4.</summary>
    public static readonly Durable<int, Item> Fragile = Durable.CreateSync("fragile_item", (int id, StepContext _) =>
    {
        if (id % 4 == 0) throw new InvalidDataException($"item {id} is malformed");
        return new Item(id, "processed");
    }, new DurableOptions { Retry = RetryPolicy.Fixed(2, "100ms") });

    /// <summary>
    /// Pattern 7: process everything, collect failures, and fail the batch as a business error when fewer than
    /// half succeed. An empty batch is a success with rate 1 (nothing failed).
    /// </summary>
    public static readonly WorkflowDef<int[], ResilientSummary> Resilient = Workflow.Define("resilient_batch", (int[] ids) =>
        from results in ids.TraverseAll(Fragile)
        let failed = FailedOnes(ids, results)
        let ok = results.Successes()
        let rate = ids.Length == 0 ? 1.0 : (double)ok.Count / ids.Length
        from _ in Workflow.Ensure(rate >= 0.5, $"Too many failures: {failed.Count}/{ids.Length}")
        select new ResilientSummary(ok, failed, rate));

    private static List<FailedItem> FailedOnes<T>(int[] ids, IReadOnlyList<Result<T>> results) =>
        Enumerable.Zip(ids, results, (id, r) => (id, r)).Where(p => !p.r.IsOk)
            .Select(p => new FailedItem(p.id, p.r.Error!.Message, p.r.Error is Failure f ? f.ErrorType : "business")).ToList();

    /// <summary>An item that fails while <c>round</c> is below <c>id % 4</c>: some need one retry round, some two, some three.</summary>
    public static readonly Durable<(int Id, int Round), int> Flaky = Durable.CreateSync("flaky_item", ((int Id, int Round) item, StepContext _) =>
    {
        if (item.Round < item.Id % 4) throw new TimeoutException($"item {item.Id} timed out in round {item.Round}");
        return item.Id;
    }, new DurableOptions { Retry = RetryPolicy.None });

    /// <summary>Pattern 8: retry failed items at the workflow level in rounds, with a durable 5 s pause; the last real error is kept.</summary>
    public static readonly WorkflowDef<int[], RoundsSummary> RetryInRounds = Workflow.Define("batch_with_retry", (int[] ids) =>
        Rounds(ids, 0, maxRetries: 2, [], []));

    private static Workflow<RoundsSummary> Rounds(int[] pending, int round, int maxRetries, System.Collections.Immutable.ImmutableList<int> done, IReadOnlyList<FailedItem> lastErrors)
    {
        if (pending.Length == 0 || round > maxRetries) return Workflow.Pure(new RoundsSummary(done, lastErrors, round));
        var pause = round == 0 ? Workflow.Done
            : Workflow.Progress($"retry round {round} for {pending.Length} items").Then(Workflow.Sleep("5s"));
        return from _ in pause
               from results in pending.Select(id => (id, round)).TraverseAll(Flaky)
               let ok = results.Successes()
               let failed = FailedOnes(pending, results)
               from summary in Rounds(failed.Select(f => f.Id).ToArray(), round + 1, maxRetries, done.AddRange(ok), failed)
               select summary;
    }

    /// <summary>Extract: sources whose name ends in "x" are unreachable.</summary>
    public static readonly Durable<string, string> Extract = Durable.CreateSync("extract_data", (string source, StepContext _) =>
    {
        return source.EndsWith('x') ? throw new IOException($"source {source} is unreachable") : $"raw:{source}";
    }, new DurableOptions { Retry = RetryPolicy.Fixed(2, "100ms") });

    /// <summary>Transform: records containing "bad" cannot be transformed.</summary>
    public static readonly Durable<string, string> Transform = Durable.CreateSync("transform_data", (string raw, StepContext _) =>
    {
        return raw.Contains("bad", StringComparison.Ordinal) ? throw new FormatException($"{raw} does not parse") : raw.ToUpperInvariant();
    }, new DurableOptions { Retry = RetryPolicy.None });

    /// <summary>Load: returns where the record went.</summary>
    public static readonly Durable<string, string> Load = Durable.CreateSync("load_data", (string record, StepContext _) =>
    {
        return $"warehouse/{record}";
    });

    /// <summary>Pattern 11: Extract → Transform → Load, each stage working only on the previous stage's successes.</summary>
    public static readonly WorkflowDef<string[], EtlSummary> Etl = Workflow.Define("etl_pipeline", (string[] sources) =>
        from extracted in sources.TraverseAll(Extract)
        let valid = extracted.Successes()
        from _ in Workflow.Ensure(valid.Count > 0, "All extractions failed")
        from transformed in valid.TraverseAll(Transform)
        let ready = transformed.Successes()
        from loaded in ready.TraverseAll(Load)
        select new EtlSummary(sources.Length, valid.Count, ready.Count, loaded.Successes().Count));
}
