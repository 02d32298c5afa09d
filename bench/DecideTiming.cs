// The first decision of a fan-out of n items, in process: its time and the collections it triggered (the worker's
// largest single piece of CPU work, and the one most exposed to the garbage collector).
using System.Diagnostics;
using System.Globalization;
using Stent.Replay;
using Stent.Serialization;

namespace Stent.Bench;

/// <summary>Times <see cref="Interpreter.Decide(IWorkflowDefinition, IReadOnlyList{HistoryEvent}, PayloadSerializer,
/// DateTimeOffset, Random, bool, Carryover?)"/> on a fresh fan-out history.</summary>
public static class DecideTiming
{
    /// <summary>Decides the start of <see cref="Workflows.FanOut"/> over <paramref name="n"/> items several times and
    /// prints, each time, milliseconds, new events, bytes allocated per item, collections by generation and the time
    /// paused for them.</summary>
    public static int Run(int n)
    {
        for (var i = 0; i < 8; i++)
        {
            List<HistoryEvent> events = [new ExecutionStarted(Workflows.FanOut.Name, 1,
                n.ToString(CultureInfo.InvariantCulture), DateTimeOffset.UtcNow)];
            var (g0, g1, g2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
            var paused = GC.GetTotalPauseDuration();
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            var d = Interpreter.Decide(Workflows.FanOut, events, PayloadSerializer.Default, DateTimeOffset.UtcNow,
                new Random(1));
            var bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
            var pause = (GC.GetTotalPauseDuration() - paused).TotalMilliseconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"first decision of a fan-out of {n}: {watch.Elapsed.TotalMilliseconds:F1} ms, {d.NewEvents.Count} " +
                $"events, {bytes / n} B allocated per item, collections gen0/1/2 {GC.CollectionCount(0) - g0}/" +
                $"{GC.CollectionCount(1) - g1}/{GC.CollectionCount(2) - g2}, paused {pause:F0} ms"));
        }
        return 0;
    }
}
