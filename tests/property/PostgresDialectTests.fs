/// PostgreSQL as a dialect of the relational store: the clock its transactions read.
module PostgresDialectTests

open System
open System.Diagnostics
open System.Threading.Tasks
open Expecto
open Npgsql
open Stent
open Stent.Replay
open Stent.Storage
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
        testTask "a signal recorded while a commit without a lease waits for the execution's row still wakes it" {
            // The commit's statements read the inbox as it was when they started; the signal's writer holds the row
            // and commits while the commit waits for it. The commit holds (it saw no signal), and the execution must
            // be left due, or the signal would wait in the inbox with nothing to fold it.
            if String.IsNullOrEmpty pg then
                skiptest "STENT_PG is not set: run the tests with scripts/test.sh, which starts PostgreSQL"
            let schema = "w_" + Guid.NewGuid().ToString("N").Substring(0, 12)
            use store = new Stent.Marten.PostgresWorkStore(pg, schema)
            let s = store :> IWorkStore
            let minute = TimeSpan.FromMinutes 1.0
            let! _ =
                s.CreateExecutionAsync(NewExecution("e", "wf", 1, "null", null, TimeSpan.Zero, Nullable(), null, [], 0))
            let! (claim: ClaimResult) = s.ClaimAsync(ClaimRequest("a", 1, 0, minute))
            let d = claim.Decisions[0]
            let! (first: DecisionResult) =
                s.CommitDecisionAsync(
                    DecisionCommit("e", d.LeaseToken, d.Version, [ StepScheduled("0", "f", "1"); DecisionCompleted 1 ],
                                   ExecutionState.Running, Steps = [ NewStep("0", "f", "1", null, [], 0, Nullable()) ],
                                   Claim = StepClaim("a", minute, [ "0" ])))
            let step = first.Claimed[0]
            use c = new NpgsqlConnection(pg)
            do! c.OpenAsync()
            use tx = c.BeginTransaction()
            use signal = c.CreateCommand()
            signal.Transaction <- tx
            signal.CommandText <- $"""
                WITH bump AS (UPDATE {schema}.stent_executions SET signals = signals + 1,
                    runnable_at = (extract(epoch from now()) * 1000)::bigint WHERE id = 'e' RETURNING id)
                INSERT INTO {schema}.stent_inbox (execution_id, data) SELECT id, $1 FROM bump"""
            signal.Parameters.AddWithValue(Stent.Storage.Relational.StoreJson.Event(SignalReceived("go", "1", 1L)))
            |> ignore
            let! _ = signal.ExecuteNonQueryAsync()
            let done' = StepCompleted("0", "2", null, 1)
            let commit =
                s.CommitDecisionAsync(
                    DecisionCommit("e", 0L, d.Version + 2L, [ done'; DecisionCompleted 2 ], ExecutionState.Running,
                                   Optimistic = true, Outcomes = [ StepOutcome(step.Lease, done') ]))
            do! Task.Delay 500
            Expect.isFalse commit.IsCompleted "the commit waits for the row the signal's writer holds"
            do! tx.CommitAsync()
            let! (result: DecisionResult) = commit
            Expect.isTrue result.Accepted "the commit holds: its statements started before the signal was recorded"
            let! (next: ClaimResult) = s.ClaimAsync(ClaimRequest("b", 1, 0, minute))
            Expect.equal [ for t in next.Decisions -> t.ExecutionId, t.Inbox.Count ] [ "e", 1 ]
                "the execution is due, and its decision folds the signal"
        }
        testTask "no index of the step table covers a column a chain's step changes when it gives its row on" {
            // Then PostgreSQL rewrites the row in place (a heap-only update) and writes no index entry for it.
            if String.IsNullOrEmpty pg then
                skiptest "STENT_PG is not set: run the tests with scripts/test.sh, which starts PostgreSQL"
            let schema = "w_" + Guid.NewGuid().ToString("N").Substring(0, 12)
            use store = new Stent.Marten.PostgresWorkStore(pg, schema)
            do! store.MigrateAsync()
            use c = new NpgsqlConnection(pg)
            do! c.OpenAsync()
            use cmd = new NpgsqlCommand("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = " +
                                        "'stent_steps'", c)
            cmd.Parameters.AddWithValue schema |> ignore
            use! (r: Data.Common.DbDataReader) = cmd.ExecuteReaderAsync()
            let defs = ResizeArray<string>()
            while r.Read() do defs.Add(r.GetString 0)
            Expect.isGreaterThanOrEqual defs.Count 4 "the step table's indexes are there"
            let changed = [ "position"; "name"; "input"; "queue"; "tags"; "attempt"; "lost"
                            "lease_token"; "lease_until"; "worker"; "trace_parent"; "items" ]
            for def in defs do
                let columns = def.Substring(def.IndexOf " USING ")
                for column in changed do
                    Expect.isFalse (Text.RegularExpressions.Regex.IsMatch(columns, $@"\b{column}\b"))
                        $"{column} is not in {def}"
        }
    ]
