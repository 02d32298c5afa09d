// A fan-out with one poison item whose step kills its own worker process on every attempt.
using System.Diagnostics;
using Stent;

namespace Stent.TestWorker;

/// <summary>Items through a step that kills the process it runs in for item 3; every other item is multiplied by
/// ten.</summary>
public static class PoisonBatch
{
    /// <summary>The poison item.</summary>
    public const int Poison = 3;

    /// <summary>Kills its own process (SIGKILL) for <see cref="Poison"/>, after the other items' steps (which run in
    /// that process too, and whose attempts its death would cost) are done; three attempts.</summary>
    public static readonly Durable<int, int> Step = Durable.Create("poison_step", async (int x, StepContext ctx) =>
    {
        await Task.Delay(x == Poison ? 1000 : 20, ctx.CancellationToken);
        if (x == Poison) Process.GetCurrentProcess().Kill();
        return x * 10;
    }, new DurableOptions { Retry = RetryPolicy.Fixed(3, "100ms") });

    /// <summary>Every item's outcome: "ok:VALUE" or "failed:ERROR TYPE".</summary>
    public static readonly WorkflowDef<int[], string[]> Workflow = Stent.Workflow.Define("poison_batch",
        (int[] items) =>
            from results in items.TraverseAll(Step)
            select results.Select(r => r.IsOk ? $"ok:{r.Value}" : $"failed:{(r.Error as Failure)?.ErrorType}")
                .ToArray());
}
