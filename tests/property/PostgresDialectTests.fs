/// PostgreSQL as a dialect of the relational store: the clock its transactions read.
module PostgresDialectTests

open System
open System.Diagnostics
open Expecto
open Npgsql
open Support

let private serverMs (c: NpgsqlConnection) = task {
    use cmd = new NpgsqlCommand("SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint", c)
    let! v = cmd.ExecuteScalarAsync()
    return v :?> int64 }

let tests =
    testList "PostgresDialect" [
        testTask "the clock transactions read never goes back and stays within 10 ms of the server's" {
            if String.IsNullOrEmpty pg then
                skiptest "STENT_PG is not set: run the tests with scripts/test.sh, which starts PostgreSQL"
            let schema = "w_" + Guid.NewGuid().ToString("N").Substring(0, 12)
            let dialect = Stent.Marten.PostgresDialect(pg, schema, null)
            try
                use c = new NpgsqlConnection(pg)
                do! c.OpenAsync()
                let mutable last = 0L
                let mutable reads = 0
                let watch = Stopwatch.StartNew()
                // Long enough for the dialect to read the server's clock again twice.
                while watch.Elapsed < TimeSpan.FromSeconds 2.5 do
                    let! before = serverMs c
                    let! now = dialect.NowAsync(c, null, Threading.CancellationToken.None)
                    let! after = serverMs c
                    Expect.isGreaterThanOrEqual now last "the clock never goes back"
                    Expect.isTrue (now >= before - 10L && now <= after + 10L)
                        $"{now} is within 10 ms of the server's clock ({before}..{after})"
                    last <- now
                    reads <- reads + 1
                    do! Threading.Tasks.Task.Delay 20
                Expect.isGreaterThan reads 50 "the clock was read throughout"
            finally
                dialect.DisposeAsync().AsTask().Wait()
        }
    ]
