/// Real worker processes on one database run a 1,000-item batch; one is killed with SIGKILL mid-run and restarted.
module CrashTests

open System
open System.Diagnostics
open System.IO
open System.Threading
open Expecto
open Stent
open Stent.Execution
open Stent.Replay
open Stent.Storage
open Stent.TestWorker
open Support

let private workerDll = Path.Combine(AppContext.BaseDirectory, "Stent.TestWorker.dll")

let private start (spec: string) (log: string) =
    let psi = ProcessStartInfo("dotnet", $"\"{workerDll}\" \"{spec}\" \"{log}\" 8", UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true)
    let p = Process.Start psi
    p.OutputDataReceived.Add ignore
    p.ErrorDataReceived.Add ignore
    p.BeginOutputReadLine()
    p.BeginErrorReadLine()
    p

/// (kind, pid, execution, position) of every logged step start and finish.
let private logLines (log: string) =
    Directory.GetFiles(Path.GetDirectoryName log, Path.GetFileName log + ".*")
    |> Seq.collect File.ReadAllLines
    |> Seq.map (fun l -> l.Split ' ')
    |> Seq.filter (fun a -> a.Length = 4)
    |> Seq.map (fun a -> a[0], int a[1], a[2], a[3])
    |> List.ofSeq

let private crashRun (spec: string) (store: IWorkStore) =
    let log = Path.Combine(Path.GetTempPath(), $"stent-crash-{Guid.NewGuid():N}.log")
    let client = StentClient(store)
    let items = [| 1..1000 |]
    let id = client.DispatchAsync(CrashBatch.Workflow, items).Result
    let procs = Collections.Generic.List<Process>([ for _ in 1..3 -> start spec log ])
    try
        let watch = Stopwatch.StartNew()
        let doneCount () = logLines log |> List.filter (fun (k, _, e, _) -> k = "done" && e = id) |> List.length
        while doneCount () < 250 && watch.Elapsed < TimeSpan.FromSeconds 90.0 do Thread.Sleep 20
        // Kill the process doing the most work (on a busy machine one may still be starting up).
        let startsBy pid = logLines log |> List.filter (fun (k, p, e, _) -> k = "start" && p = pid && e = id) |> List.length
        let victim = procs |> Seq.maxBy (fun p -> startsBy p.Id)
        victim.Kill()
        victim.WaitForExit()
        let doneAtKill = doneCount ()
        Expect.isLessThan doneAtKill 1000 "killed mid-run"
        procs.Add(start spec log)
        let r = client.WaitAsync(CrashBatch.Workflow, id, TimeSpan.FromSeconds 120.0).Result
        Expect.equal (value r) (items |> Array.sumBy (fun i -> 2L * int64 i)) "the result is right"
        let history = store.ReadAsync(id).Result
        let completed = history |> Seq.choose (function :? StepCompleted as c -> Some c.Position | _ -> None) |> List.ofSeq
        Expect.equal completed.Length 1000 "every item's step completed once in the history"
        Expect.equal (completed |> List.distinct |> List.length) 1000 "no position twice"
        let lines = logLines log |> List.filter (fun (_, _, e, _) -> e = id)
        let victimStarts = lines |> List.filter (fun (k, pid, _, _) -> k = "start" && pid = victim.Id)
        Expect.isNonEmpty victimStarts "the killed worker had run steps"
        for pos, ls in lines |> List.groupBy (fun (_, _, _, p) -> p) do
            let survivorStarts = ls |> List.filter (fun (k, pid, _, _) -> k = "start" && pid <> victim.Id) |> List.length
            let killedStarts = ls |> List.filter (fun (k, pid, _, _) -> k = "start" && pid = victim.Id) |> List.length
            Expect.isLessThanOrEqual survivorStarts 1 $"step {pos} ran at most once outside the killed worker (victim {victim.Id}): %A{ls}"
            Expect.isLessThanOrEqual killedStarts 1 $"step {pos} ran at most once in the killed worker"
        let rerun = lines |> List.groupBy (fun (_, _, _, p) -> p) |> List.filter (fun (_, ls) -> (ls |> List.filter (fun (k, _, _, _) -> k = "start")).Length > 1) |> List.length
        printfn $"crash test ({spec.Split(':')[0]}): killed at {doneAtKill}/1000 done, {rerun} in-flight steps ran again elsewhere"
    finally
        for p in procs do
            try p.Kill() with _ -> ()
            p.WaitForExit(10_000) |> ignore
        for f in Directory.GetFiles(Path.GetDirectoryName log, Path.GetFileName log + ".*") do File.Delete f

let tests =
    testSequenced <| testList "Crash with SIGKILL" [
        test "SQLite: three worker processes, one killed mid-run and restarted; every step completes exactly once" {
            let path = Path.Combine(Path.GetTempPath(), $"stent-crash-{Guid.NewGuid():N}.db")
            crashRun $"sqlite:{path}" (Stent.Sqlite.SqliteWorkStore(path))
        }
        test "PostgreSQL: three worker processes, one killed mid-run and restarted; every step completes exactly once" {
            let pg = Environment.GetEnvironmentVariable "STENT_PG"
            if String.IsNullOrEmpty pg then skiptest "STENT_PG is not set: run the tests with scripts/test.sh, which starts PostgreSQL"
            let schema = "crash_" + Guid.NewGuid().ToString("N").Substring(0, 10)
            crashRun $"postgres:{schema}:{pg}" (new Stent.Marten.PostgresWorkStore(pg, schema))
        }
    ]
