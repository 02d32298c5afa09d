/// SQLite as a dialect of the relational store: its write-ahead log is copied into the database off the commit path.
module SqliteDialectTests

open System
open System.IO
open System.Threading.Tasks
open Expecto
open Stent
open Stent.Replay
open Stent.Sqlite
open Stent.Storage

let tests =
    testList "SqliteDialect" [
        testTask "a store copies its write-ahead log into the database file in the background, before 1,000 pages" {
            // SQLite left alone copies the log into the database when a commit takes it past 1,000 pages (or the last
            // connection closes): a few writes would stay in the log, and the database file would not be written.
            let path = Path.Combine(Path.GetTempPath(), $"stent-checkpoint-{Guid.NewGuid():N}.db")
            use store = new SqliteWorkStore(path)
            let create i =
                (store :> IWorkStore).CreateExecutionAsync(
                    NewExecution($"e{i}", "wf", 1, "null", null, TimeSpan.Zero, Nullable(), null, [], 0))
            let! _ = create 0
            do! Task.Delay 500
            let before = File.GetLastWriteTimeUtc path
            for i in 1..5 do
                let! _ = create i
                ()
            let watch = Diagnostics.Stopwatch.StartNew()
            while File.GetLastWriteTimeUtc path <= before && watch.Elapsed < TimeSpan.FromSeconds 5.0 do
                do! Task.Delay 20
            Expect.isGreaterThan (File.GetLastWriteTimeUtc path) before
                "the database file was written while the store stayed open"
            Expect.isLessThan (FileInfo(path + "-wal").Length) (1000L * 4096L) "the log holds fewer than 1,000 pages"
            let! found = (store :> IWorkStore).GetExecutionAsync "e5"
            Expect.isNotNull found "what was written is read back"
        }
        testTask "a store on a file waits for the disk at each commit, unless told to survive only a process crash" {
            let path () = Path.Combine(Path.GetTempPath(), $"stent-sync-{Guid.NewGuid():N}.db")
            use byDefault = new SqliteWorkStore(path ())
            use relaxed = new SqliteWorkStore(path (), durability = SqliteDurability.ProcessCrash)
            use told = new SqliteWorkStore(path (), null, SqliteDurability.PowerLoss)
            let! full = byDefault.SynchronousAsync()
            let! normal = relaxed.SynchronousAsync()
            let! explicitFull = told.SynchronousAsync()
            Expect.equal (full, normal, explicitFull) (2L, 1L, 2L) "synchronous FULL by default and when asked, else NORMAL"
            Expect.throwsT<ArgumentOutOfRangeException>
                (fun () -> new SqliteWorkStore(path (), durability = enum<SqliteDurability> 7) |> ignore)
                "a durability that is not one of the enum's is refused"
        }
        testTask "a new step takes the id of a step whose row is gone, and a renewal tells the two leases apart" {
            // Without AUTOINCREMENT (no sqlite_sequence page written with each step) a new row takes the highest id
            // there is plus one: a chain's next step gets the id of the step whose outcome the same commit records.
            use store = new SqliteWorkStore(Path.Combine(Path.GetTempPath(), $"stent-ids-{Guid.NewGuid():N}.db"))
            let s = store :> IWorkStore
            let minute = TimeSpan.FromMinutes 1.0
            let! _ = s.CreateExecutionAsync(NewExecution("e", "wf", 1, "null", null, TimeSpan.Zero, Nullable(), null,
                                                         [], 0))
            let! (claim: ClaimResult) = s.ClaimAsync(ClaimRequest("a", 1, 0, minute))
            let d = claim.Decisions[0]
            let step position = NewStep(position, "f", "1", null, [], 0, Nullable())
            let! (first: DecisionResult) =
                s.CommitDecisionAsync(
                    DecisionCommit("e", d.LeaseToken, d.Version, [ DecisionCompleted 1 ], ExecutionState.Running,
                                   Steps = [ step "0" ], Claim = StepClaim("a", minute, [ "0" ])))
            let old = first.Claimed[0]
            let! (next: DecisionResult) =
                s.CommitDecisionAsync(
                    DecisionCommit("e", 0L, d.Version + 1L,
                                   [ StepCompleted("0", "1", null, 1); DecisionCompleted 2 ],
                                   ExecutionState.Running, Optimistic = true,
                                   Outcomes = [ StepOutcome(old.Lease, StepCompleted("0", "1", null, 1)) ],
                                   Steps = [ step "1" ], Claim = StepClaim("a", minute, [ "1" ])))
            Expect.isTrue next.Accepted "the outcome and the next step committed together"
            let fresh = next.Claimed[0]
            Expect.equal (fresh.Position, fresh.Id) ("1", old.Id) "the next step has the id the recorded one had"
            let! lost = s.RenewLeasesAsync([ old.Lease; fresh.Lease ], minute)
            Expect.equal (List.ofSeq lost) [ old.Lease ] "the recorded step's lease is lost, the new one's held"
        }
    ]
