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
            Expect.equal (full, normal, explicitFull) (2L, 1L, 2L)
                "synchronous FULL by default and when asked, else NORMAL"
            Expect.throwsT<ArgumentOutOfRangeException>
                (fun () -> new SqliteWorkStore(path (), durability = enum<SqliteDurability> 7) |> ignore)
                "a durability that is not one of the enum's is refused"
        }
    ]
