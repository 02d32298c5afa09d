/// Open connections kept between a PostgreSQL store's operations: the one given back last is handed out first.
module RecentConnectionsTests

open System
open System.Data
open System.Threading
open System.Threading.Tasks
open Expecto
open Npgsql
open Stent.Marten
open Support

let private withKept (f: RecentConnections -> Task) = task {
    if String.IsNullOrEmpty pg then
        skiptest "STENT_PG is not set: run the tests with scripts/test.sh, which starts PostgreSQL"
    use source = NpgsqlDataSource.Create(pg)
    let kept = RecentConnections(source, 4)
    try do! f kept
    finally kept.DisposeAsync().AsTask().Wait() }

let private selectOne (c: NpgsqlConnection) = task {
    use cmd = new NpgsqlCommand("SELECT 1", c)
    let! v = cmd.ExecuteScalarAsync()
    return v :?> int }

let tests =
    testList "RecentConnections" [
        testTask "the connection given back last is the next one handed out, on the same server process" {
            do! withKept (fun kept -> task {
                let! a = kept.OpenAsync(CancellationToken.None)
                let! b = kept.OpenAsync(CancellationToken.None)
                let (pa, pb) = (a.ProcessID, b.ProcessID)
                Expect.notEqual pa pb "two connections open at once are two server processes"
                do! kept.ReleaseAsync a
                do! kept.ReleaseAsync b
                let! next = kept.OpenAsync(CancellationToken.None)
                Expect.equal next.ProcessID pb "the one given back last comes first"
                do! kept.ReleaseAsync next
                let! again = kept.OpenAsync(CancellationToken.None)
                Expect.equal again.ProcessID pb "and again, while the other stays kept"
                Expect.equal kept.Kept 1 "the other is still kept"
                do! kept.ReleaseAsync again })
        }
        testTask "a broken connection given back sends every kept one back to the pool; the next one handed out works" {
            do! withKept (fun kept -> task {
                let! a = kept.OpenAsync(CancellationToken.None)
                let! b = kept.OpenAsync(CancellationToken.None)
                do! kept.ReleaseAsync a
                use killer = new NpgsqlConnection(pg)
                do! killer.OpenAsync()
                use kill = new NpgsqlCommand($"SELECT pg_terminate_backend({b.ProcessID})", killer)
                let! _ = kill.ExecuteScalarAsync()
                let! failed = task {
                    try
                        let! _ = selectOne b
                        return false
                    with _ -> return true }
                Expect.isTrue failed "a command on the terminated connection fails"
                Expect.notEqual b.FullState ConnectionState.Open "the connection knows it broke"
                do! kept.ReleaseAsync b
                Expect.equal kept.Kept 0 "nothing is kept after a connection broke"
                Expect.equal a.State ConnectionState.Closed "the kept one went back to the pool"
                let! next = kept.OpenAsync(CancellationToken.None)
                let! one = selectOne next
                Expect.equal one 1 "the next connection works"
                do! kept.ReleaseAsync next })
        }
        testTask "a connection kept idle longer than a second goes back to the pool without another operation" {
            do! withKept (fun kept -> task {
                let! a = kept.OpenAsync(CancellationToken.None)
                do! kept.ReleaseAsync a
                Expect.equal kept.Kept 1 "kept when given back"
                let deadline = DateTime.UtcNow + RecentConnections.MaxIdle * 4.0
                while kept.Kept > 0 && DateTime.UtcNow < deadline do
                    do! Task.Delay 50
                Expect.equal kept.Kept 0 "given back to the pool by the timer"
                Expect.equal a.State ConnectionState.Closed "the connection went back to the pool" })
        }
        testTask "a connection given back after the kept ones were disposed goes back to the pool at once" {
            do! withKept (fun kept -> task {
                let! a = kept.OpenAsync(CancellationToken.None)
                let! b = kept.OpenAsync(CancellationToken.None)
                do! kept.ReleaseAsync a
                do! kept.DisposeAsync()
                Expect.equal a.State ConnectionState.Closed "the kept one went back when disposed"
                do! kept.ReleaseAsync b
                Expect.equal kept.Kept 0 "nothing is kept after disposal"
                Expect.equal b.State ConnectionState.Closed "given back after disposal, it went back to the pool" })
        }
    ]
