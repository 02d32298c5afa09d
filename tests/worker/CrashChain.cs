// A sequential chain the crash tests kill a worker process in the middle of.
using Stent;

namespace Stent.TestWorker;

/// <summary>A chain of steps, each adding one to the result of the one before it.</summary>
public static class CrashChain
{
    /// <summary>Adds one, taking 20 ms (a worker is killed while one of these runs, as a rule).</summary>
    public static readonly Durable<int, int> Next = Durable.Create("crash_next", async (int x, StepContext ctx) =>
    {
        await Task.Delay(20, ctx.CancellationToken);
        return x + 1;
    });

    /// <summary><c>length</c> steps of <see cref="Next"/> from 0, one after the other.</summary>
    public static readonly WorkflowDef<int, int> Workflow = Stent.Workflow.Define("crash_chain", (int length) =>
        From(0, length));

    private static Workflow<int> From(int value, int left) =>
        left == 0 ? Stent.Workflow.Pure(value) : Next.Call(value).SelectMany(next => From(next, left - 1));
}
