// A worker's memory over time, for finding what makes its peak (STENT_BENCH_MEMLOG=FILE on a benchmark run).
using System.Diagnostics;
using System.Globalization;

namespace Stent.Bench;

/// <summary>Samples a worker process's resident memory and GC heap every few milliseconds.</summary>
public static class MemoryLog
{
    /// <summary>
    /// Writes to <paramref name="path"/> one line per sample (milliseconds, resident MiB, heap MiB, committed MiB, the
    /// last collection's heap and fragmentation, collection counts, generation sizes after the last collection, MiB
    /// allocated in all), and copies <c>/proc/self/smaps</c> to <paramref name="path"/><c>.smaps</c> at each new
    /// high of resident memory, until <paramref name="ct"/> is cancelled.
    /// </summary>
    public static async Task RunAsync(string path, CancellationToken ct)
    {
        await using var w = new StreamWriter(path);
        var clock = Stopwatch.StartNew();
        var high = 0.0;
        static string Mib(long bytes) => (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture);
        while (!ct.IsCancellationRequested)
        {
            var pages = long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1], CultureInfo.InvariantCulture);
            var rss = pages * Environment.SystemPageSize;
            var info = GC.GetGCMemoryInfo(GCKind.Any);
            var generations = info.GenerationInfo.ToArray().Select(g => Mib(g.SizeAfterBytes));
            await w.WriteLineAsync($"{clock.ElapsedMilliseconds} rss {Mib(rss)} heap {Mib(GC.GetTotalMemory(false))} " +
                $"committed {Mib(info.TotalCommittedBytes)} last {Mib(info.HeapSizeBytes)} " +
                $"fragmented {Mib(info.FragmentedBytes)} collections {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/" +
                $"{GC.CollectionCount(2)} generations {string.Join(",", generations)} " +
                $"allocated {Mib(GC.GetTotalAllocatedBytes())}").ConfigureAwait(false);
            if (rss > high + (2 << 20))
            {
                high = rss;
                File.Copy("/proc/self/smaps", path + ".smaps", true);
            }
            await Task.Delay(3, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
