// Writes what a decision newly recorded for people to read — progress reports and workflow log lines — once.
using Microsoft.Extensions.Logging;
using Stent.Replay;

namespace Stent.Execution;

/// <summary>Emits newly recorded progress and log events to a logger (they are recorded once, so they are written once).</summary>
internal static class RecordedLogs
{
    public static void Emit(ILogger logger, string executionId, string workerId, IEnumerable<HistoryEvent> appended, Action<string, ProgressReport>? onProgress)
    {
        foreach (var e in appended)
        {
            switch (e)
            {
                case ProgressReported p:
                    logger.LogInformation("Execution {ExecutionId} progress: {Message} ({Done}/{Total})", executionId, p.Report.Message, p.Report.Done, p.Report.Total);
                    onProgress?.Invoke(executionId, p.Report);
                    break;
                case LogRecorded l:
                    using (logger.BeginScope(new Dictionary<string, object> { ["ExecutionId"] = executionId, ["Position"] = l.Position, ["WorkerId"] = workerId }))
#pragma warning disable CA2254 // the template is the workflow author's
                        logger.Log(l.Level, l.Template, l.Args.Cast<object?>().ToArray());
#pragma warning restore CA2254
                    break;
            }
        }
    }
}
