// FsCheck properties of a user's workflow: for generated inputs, crashes change nothing and replay is exact.
using FsCheck;
using FsCheck.Fluent;
using Stent.Execution;

namespace Stent.Testing;

/// <summary>
/// Properties for FsCheck: <c>Check.QuickThrowOnFailure(WorkflowProperties.SurvivesCrashes(MyFlows.Batch,
/// ArbMap.Default.ArbFor&lt;int[]&gt;()))</c> — for every generated input, a crash at any store write changes nothing
/// and the history replays exactly (see <see cref="WorkflowChecks.CrashAtEveryWriteAsync{TIn, TOut}"/>). FsCheck
/// shrinks a failing input to a small one.
/// </summary>
public static class WorkflowProperties
{
    /// <summary>For every input <paramref name="inputs"/> generates, <paramref name="workflow"/> survives a crash at
    /// any store write and replays exactly.</summary>
    public static Property SurvivesCrashes<TIn, TOut>(WorkflowDef<TIn, TOut> workflow, Arbitrary<TIn> inputs,
        WorkerOptions? options = null, int maxCrashes = 24)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        ArgumentNullException.ThrowIfNull(inputs);
        return Prop.ForAll(inputs, (Func<TIn, Task>)(input =>
            WorkflowChecks.CrashAtEveryWriteAsync(workflow, input, options, maxCrashes)));
    }
}
