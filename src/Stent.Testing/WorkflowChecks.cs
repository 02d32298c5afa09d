// Checks of a user's workflow on one input: a crash at any store write changes nothing, and replay is exact.
using Stent.Execution;
using Stent.Replay;

namespace Stent.Testing;

/// <summary>
/// Checks that a workflow is safe to run durably, for one input; each throws a <see cref="WorkflowCheckException"/>
/// saying what differed. <see cref="WorkflowProperties"/> runs them for generated inputs with FsCheck.
/// </summary>
public static class WorkflowChecks
{
    /// <summary>
    /// Runs <paramref name="workflow"/> on <paramref name="input"/> cleanly, then again with the worker "dying" at
    /// store writes spread over the run (up to <paramref name="maxCrashes"/>, before and after each commits) and a new
    /// worker taking over: each run must end with the same result, never record a step twice, and leave a history that
    /// replays exactly — step inputs included (see <see cref="Replayer"/>).
    /// </summary>
    public static async Task CrashAtEveryWriteAsync<TIn, TOut>(WorkflowDef<TIn, TOut> workflow, TIn input,
        WorkerOptions? options = null, int maxCrashes = 24)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCrashes, 1);
        string expected;
        int writes;
        using (var clean = TestEnvironment.InMemory(options))
        {
            var id = await clean.DispatchAsync(workflow, input).ConfigureAwait(false);
            clean.CrashAt(int.MaxValue);
            await clean.RunUntilIdleAsync().ConfigureAwait(false);
            writes = clean.Writes;
            expected = Text(clean, await clean.ResultAsync<TOut>(id).ConfigureAwait(false));
            await ReplaysAsync(clean, workflow, id, input, "a clean run").ConfigureAwait(false);
        }
        var points = writes * 2;
        foreach (var k in Enumerable.Range(1, Math.Min(points, maxCrashes)).Select(i => (int)((long)i * points /
            Math.Min(points, maxCrashes))).Distinct())
        {
            var (write, after) = ((k + 1) / 2, k % 2 == 0);
            var at = $"a crash at store write {write} of {writes} ({(after ? "after" : "before")} it commits)";
            using var crashed = TestEnvironment.InMemory(options);
            var id = await crashed.DispatchAsync(workflow, input).ConfigureAwait(false);
            crashed.CrashAt(write, after);
            await crashed.RunUntilIdleAsync().ConfigureAwait(false);
            var found = Text(crashed, await crashed.ResultAsync<TOut>(id).ConfigureAwait(false));
            if (found != expected)
                throw new WorkflowCheckException($"{workflow.Name} on {input}: after {at} it ended with {found}, " +
                    $"not {expected}.");
            var ended = (await crashed.Store.ReadAsync(id).ConfigureAwait(false))
                .OfType<PositionedEvent>().Where(e => e is StepCompleted or StepFailed).GroupBy(e => e.Position)
                .FirstOrDefault(g => g.Count() > 1);
            if (ended is not null)
                throw new WorkflowCheckException($"{workflow.Name} on {input}: after {at} the step at {ended.Key} " +
                    "was recorded twice.");
            await ReplaysAsync(crashed, workflow, id, input, at).ConfigureAwait(false);
        }
    }

    /// <summary>The history of <paramref name="id"/> replays exactly on the workflow.</summary>
    private static async Task ReplaysAsync<TIn, TOut>(TestEnvironment env, WorkflowDef<TIn, TOut> workflow, string id,
        TIn input, string after)
    {
        var history = await env.Store.ReadAsync(id).ConfigureAwait(false);
        try { Replayer.Replay(workflow, history, env.Options.Serializer); }
        catch (NonDeterminismException e)
        {
            throw new WorkflowCheckException($"{workflow.Name} on {input}: the history of {after} does not replay: " +
                $"{e.Message} Workflow code must be pure: read time, GUIDs and random numbers through " +
                "Workflow.Now(), " +
                "Workflow.NewGuid() and Workflow.Random(…), and do I/O in durable functions.", e);
        }
    }

    private static string Text<T>(TestEnvironment env, Result<T> result) => result.IsOk
        ? $"Ok({env.Options.Serializer.Serialize(result.Value, typeof(T))})" : $"Error({result.Error!.Message})";
}
