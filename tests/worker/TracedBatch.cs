// A workflow with a child, for the trace test: its activities are written to a file by the worker process.
using System.Diagnostics;
using Stent.Diagnostics;

namespace Stent.TestWorker;

/// <summary>A parent that runs a step and a child workflow that runs a step.</summary>
public static class TracedBatch
{
    /// <summary>The child: one step.</summary>
    public static readonly WorkflowDef<int, int> Child = Stent.Workflow.Define("traced_child", (int x) =>
        CrashBatch.Double.Call(x));

    /// <summary>The parent: a step, then the child.</summary>
    public static readonly WorkflowDef<int, int> Parent = Stent.Workflow.Define("traced_parent", (int x) =>
        from a in CrashBatch.Double.Call(x)
        from b in Stent.Workflow.Child(Child, a)
        select a + b);

    /// <summary>
    /// Appends "NAME TRACE SPAN PARENT EXECUTION" to <paramref name="path"/> for every Stent activity this process
    /// ends.
    /// </summary>
    public static ActivityListener Record(string path)
    {
        var gate = new Lock();
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == StentTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                var line = $"{a.OperationName} {a.TraceId} {a.SpanId} {a.ParentSpanId} " +
                    $"{a.GetTagItem("stent.execution_id")}\n";
                lock (gate) File.AppendAllText(path, line);
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
