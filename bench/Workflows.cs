// The workflows the benchmarks run: a fan-out of trivial steps (capped or not) and a chain of them.
namespace Stent.Bench;

/// <summary>A small record the trivial step returns.</summary>
public sealed record Echo(int Id, bool Ok);

/// <summary>Benchmark workflows.</summary>
public static class Workflows
{
    /// <summary>Returns a small record at once.</summary>
    public static readonly Durable<int, Echo> Trivial = Durable.CreateSync("bench_trivial", (int i, StepContext _) => new Echo(i, true),
        new DurableOptions { Retry = RetryPolicy.None });

    /// <summary>Maps <see cref="Trivial"/> over 0..n-1.</summary>
    public static readonly WorkflowDef<int, int> FanOut = Workflow.Define("bench_fanout", (int n) =>
        from results in Enumerable.Range(0, n).Map(Trivial)
        select results.Count(r => r.Ok));

    /// <summary>Maps <see cref="Trivial"/> over 0..n-1 in sequential chunks of 1,000 (a worker holds one chunk's open
    /// work at a time, not the whole history).</summary>
    public static readonly WorkflowDef<int, int> Chunked = Workflow.Define("bench_chunked", (int n) =>
        from results in Enumerable.Range(0, n).Chunk(1000, Trivial)
        select results.Count(r => r.IsOk && r.Value.Ok));

    /// <summary>Like <see cref="Trivial"/>, one run at a time across all workers.</summary>
    public static readonly Durable<int, Echo> CappedTrivial = Durable.CreateSync("bench_capped",
        (int i, StepContext _) => new Echo(i, true),
        new DurableOptions { Retry = RetryPolicy.None, MaxConcurrent = 1 });

    /// <summary>Maps <see cref="CappedTrivial"/> over 0..n-1: each step waits for the last to hand its slot
    /// over.</summary>
    public static readonly WorkflowDef<int, int> Capped = Workflow.Define("bench_capped_fanout", (int n) =>
        from results in Enumerable.Range(0, n).Map(CappedTrivial)
        select results.Count(r => r.Ok));

    /// <summary>Awaits <see cref="Trivial"/> n times, one after another.</summary>
    public static readonly WorkflowDef<int, int> Chain = Workflow.Define("bench_chain", (int n) => Link(0, n));

    private static Workflow<int> Link(int i, int n) =>
        i == n ? Workflow.Pure(n) : Trivial.Call(i).SelectMany(_ => Link(i + 1, n));
}
