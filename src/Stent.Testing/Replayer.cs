// Replays recorded histories (stent export) against today's code, step inputs included, before a deploy.
using Stent.Execution;
using Stent.Replay;
using Stent.Serialization;

namespace Stent.Testing;

/// <summary>
/// Replays a history exported with <c>stent export ID</c> (or <see cref="HistoryFile"/>) against the workflow as the
/// code stands now: every recorded step must come at the same position, from the same function, with the same
/// input — so a lambda that reads <c>DateTime.Now</c> or a reordered fan-out is caught — and a history that ended
/// must end the same way with nothing new to do. Run it in a test over histories taken from production.
/// </summary>
public static class Replayer
{
    /// <summary>Replays <paramref name="history"/>; throws <see cref="NonDeterminismException"/> where the code and the
    /// history part.</summary>
    /// <exception cref="ArgumentException">The history is empty or of another workflow.</exception>
    public static ReplayReport Replay<TIn, TOut>(WorkflowDef<TIn, TOut> workflow, IReadOnlyList<HistoryEvent> history,
        PayloadSerializer? serializer = null)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        ArgumentNullException.ThrowIfNull(history);
        if (history.Count == 0 || history[0] is not ExecutionStarted started)
            throw new ArgumentException("A history starts with its execution's start; this one is empty or cut.",
                nameof(history));
        if (started.Workflow != workflow.Name)
            throw new ArgumentException($"The history is of workflow '{started.Workflow}', not '{workflow.Name}'.",
                nameof(history));
        var decision = Interpreter.Decide(workflow, history, serializer ?? PayloadSerializer.Default,
            started.StartedAt, new Random(0), verifyInputs: true);
        var end = history.LastOrDefault(e => e is ExecutionCompleted or ExecutionFailed or ExecutionCancelled);
        var commands = decision.NewEvents.Where(e => e is not DecisionCompleted).ToList();
        switch (end)
        {
            case ExecutionCompleted done when commands.Count > 0 || decision.Output != done.Output:
                throw new NonDeterminismException("end", $"a result {done.Output}",
                    commands.Count > 0 ? $"more to do ({commands[0]})" : $"the result {decision.Output}");
            case ExecutionFailed failed when decision.Error?.Message != failed.Error.Message:
                throw new NonDeterminismException("end", $"the error '{failed.Error.Message}'",
                    decision.Error is { } e ? $"the error '{e.Message}'" : $"{decision.State}");
        }
        return new ReplayReport(decision.State, decision.Output, decision.Error,
            [.. commands.Select(c => c.ToString())]);
    }

    /// <summary>Replays the history in the file at <paramref name="path"/> (as <c>stent export ID --out FILE</c>
    /// writes it).</summary>
    public static ReplayReport ReplayFile<TIn, TOut>(WorkflowDef<TIn, TOut> workflow, string path,
        PayloadSerializer? serializer = null)
    {
        using var reader = File.OpenText(path);
        return Replay(workflow, HistoryFile.Read(reader), serializer);
    }
}
