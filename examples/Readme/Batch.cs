// The README's first C# sample: a durable function and a workflow that fans out over it.
// <readme:define>
using Stent;

public static class Nightly
{
    public static readonly Durable<int, Item> ProcessItem = Durable.Create("process_item",
        async (int id, StepContext ctx) => { await Task.Delay(10, ctx.CancellationToken); return new Item(id, "processed"); },
        new DurableOptions { Retry = RetryPolicy.Exponential(attempts: 3, first: "1s"), MaxConcurrent = 5 });

    public static readonly WorkflowDef<int[], Summary> Batch = Workflow.Define("batch", (int[] ids) =>
        from results in ids.TraverseAll(ProcessItem)                    // fan-out; every item's outcome captured
        let ok = results.Successes()
        from _ in Workflow.Ensure(ok.Count > 0, "nothing succeeded")    // a business error, not a failure
        select new Summary(ids.Length, ok.Count, results.Failures().Count));
}

public sealed record Item(int Id, string Status);
public sealed record Summary(int Total, int Succeeded, int Failed);
// </readme:define>
