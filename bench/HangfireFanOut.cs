// The peer: Hangfire 1.8 running the same fan-out of N trivial jobs on PostgreSQL or SQLite storage.
using System.Diagnostics;
using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.Storage.SQLite;

namespace Stent.Bench;

/// <summary>Hangfire's side of the comparison.</summary>
public static class HangfireFanOut
{
    private static int _done;

    /// <summary>The trivial job.</summary>
    public static Echo Trivial(int i)
    {
        Interlocked.Increment(ref _done);
        return new Echo(i, true);
    }

    /// <summary>Items per second: enqueue <paramref name="n"/> jobs and wait until every one has run, with <paramref name="workerCount"/> Hangfire workers.</summary>
    public static double ItemsPerSecond(Target t, int n, int workerCount)
    {
        JobStorage storage = t.Kind == "sqlite"
            ? new SQLiteStorage(t.SqlitePath, new SQLiteStorageOptions { QueuePollInterval = TimeSpan.FromMilliseconds(50) })
            : new PostgreSqlStorage(t.Pg.Connection,
                new PostgreSqlStorageOptions { SchemaName = "hf_" + t.Pg.Schema, PrepareSchemaIfNecessary = true, QueuePollInterval = TimeSpan.FromMilliseconds(50) });
        GlobalConfiguration.Configuration.UseStorage(storage);
        Interlocked.Exchange(ref _done, 0);
        var client = new BackgroundJobClient(storage);
        using var server = new BackgroundJobServer(new BackgroundJobServerOptions { WorkerCount = workerCount }, storage);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < n; i++) { var item = i; client.Enqueue(() => Trivial(item)); }
        while (Volatile.Read(ref _done) < n)
        {
            if (watch.Elapsed > TimeSpan.FromMinutes(20)) throw new TimeoutException($"Hangfire ran {_done} of {n} jobs in 20 minutes.");
            Thread.Sleep(10);
        }
        return n / watch.Elapsed.TotalSeconds;
    }
}
