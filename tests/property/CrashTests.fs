/// Real worker processes on one database run a batch; the busiest is killed with SIGKILL mid-run and a replacement
/// started. Covers the crash batch (pattern 1's shape), patterns 3, 6 and 10, and the main job on SQLite; and a
/// PostgreSQL server restarted under running workers.
module CrashTests

open System
open System.Diagnostics
open System.IO
open System.Threading
open Expecto
open Stent
open Stent.Examples.CSharp
open Stent.Execution
open Stent.Replay
open Stent.Storage
open Stent.TestWorker
open Support


/// A step attempt seen in the worker processes' logs.
type private Line = { Kind: string; Pid: int; Execution: string; Position: string; Attempt: int; At: DateTimeOffset }

let private logLines (log: string) =
    Directory.GetFiles(Path.GetDirectoryName log, Path.GetFileName log + ".*")
    |> Seq.collect File.ReadAllLines
    |> Seq.map (fun l -> l.Split ' ')
    |> Seq.filter (fun a -> a.Length = 6)
    |> Seq.map (fun a -> { Kind = a[0]; Pid = int a[1]; Execution = a[2]; Position = a[3]; Attempt = int a[4]; At = DateTimeOffset.FromUnixTimeMilliseconds(int64 a[5]) })
    |> List.ofSeq


/// Runs execution `id` on three worker processes, kills the busiest with SIGKILL once `readyToKill` holds, starts a
/// replacement and waits for the end. Checks that every step is recorded once and that no step attempt ever ran twice
/// (a step the victim was running is claimed again as a new attempt). Returns the result, the history and the log lines.
let private killMidRun (spec: string) (store: IWorkStore) (log: string) (id: string) (readyToKill: unit -> bool) =
    let procs = Collections.Generic.List<Process>([ for _ in 1..3 -> startWorker spec log [] ])
    try
        waitUntil "the moment to kill" 90.0 readyToKill
        let startsBy pid = logLines log |> List.filter (fun l -> l.Kind = "start" && l.Pid = pid && l.Execution = id) |> List.length
        let victim = procs |> Seq.maxBy (fun p -> startsBy p.Id)
        victim.Kill()
        victim.WaitForExit()
        procs.Add(startWorker spec log [])
        let r = StentClient(store).WaitAsync<obj>(id, TimeSpan.FromSeconds 120.0).Result
        let history = List.ofSeq (store.ReadAsync(id).Result)
        let completed = history |> List.choose (function :? StepCompleted as c -> Some c.Position | _ -> None)
        Expect.equal completed (List.distinct completed) "every step recorded once"
        let lines = logLines log |> List.filter (fun l -> l.Execution = id)
        Expect.isTrue (lines |> List.exists (fun l -> l.Pid = victim.Id)) "the killed worker had run steps"
        for (pos, attempt), ls in lines |> List.filter (fun l -> l.Kind = "start") |> List.groupBy (fun l -> l.Position, l.Attempt) do
            Expect.equal ls.Length 1 $"attempt {attempt} of step {pos} ran once (victim {victim.Id}): %A{ls}"
        r, history, lines
    finally stopAll procs

let private newLog () = Path.Combine(Path.GetTempPath(), $"stent-crash-{Guid.NewGuid():N}.log")

let private cleanLog (log: string) =
    for f in Directory.GetFiles(Path.GetDirectoryName log, Path.GetFileName log + ".*") do File.Delete f

let private completedCount (store: IWorkStore) id () =
    store.ReadAsync(id).Result |> Seq.filter (fun e -> e :? StepCompleted) |> Seq.length

/// Pattern 1's shape: a 1,000-item fan-out, killed at about a quarter.
let private fanOut spec (store: IWorkStore) =
    let log = newLog ()
    try
        let items = [| 1..1000 |]
        let id = StentClient(store).DispatchAsync(CrashBatch.Workflow, items).Result
        let _, history, lines = killMidRun spec store log id (fun () -> completedCount store id () >= 250)
        let r = StentClient(store).WaitAsync(CrashBatch.Workflow, id).Result
        Expect.equal (value r) (items |> Array.sumBy (fun i -> 2L * int64 i)) "the result is right"
        Expect.equal (history |> List.filter (fun e -> e :? StepCompleted) |> List.length) 1000 "every item's step completed"
        let rerun = lines |> List.filter (fun l -> l.Kind = "start" && l.Attempt > 1) |> List.length
        printfn $"crash test ({spec.Split(':')[0]}): {rerun} in-flight steps ran again elsewhere"
    finally cleanLog log

/// A chain of 150 steps, its worker killed in the middle of it: the step it held (each takes over the row of the step
/// before it, claimed by the commit that records that one) runs again elsewhere, as a lost run, once.
let private chain spec (store: IWorkStore) =
    let log = newLog ()
    try
        let id = StentClient(store).DispatchAsync(CrashChain.Workflow, 150).Result
        let _, history, lines = killMidRun spec store log id (fun () -> completedCount store id () >= 40)
        Expect.equal (value (StentClient(store).WaitAsync(CrashChain.Workflow, id).Result)) 150 "the result is right"
        Expect.equal (history |> List.filter (fun e -> e :? StepCompleted) |> List.length) 150 "every step completed"
        let again = lines |> List.filter (fun l -> l.Kind = "start" && l.Attempt > 1)
        Expect.equal again.Length 1 "the step the killed worker held runs again, once"
        for l in again do
            Expect.equal l.Attempt 2 "it ran again as its second run (the first may have been lost before it began)"
            for first in lines |> List.filter (fun r -> r.Kind = "start" && r.Position = l.Position && r.Attempt = 1) do
                Expect.notEqual first.Pid l.Pid "on another worker than the one that lost it"
        printfn $"crash test, chain ({spec.Split(':')[0]}): {again.Length} step ran again elsewhere"
    finally cleanLog log

/// Pattern 3: chunks of 100 with a 100 ms durable pause and progress; killed after the third chunk.
let private chunked spec (store: IWorkStore) =
    let log = newLog ()
    try
        let id = StentClient(store).DispatchAsync(Patterns.Chunked, [| 1..1000 |]).Result
        let _, history, _ = killMidRun spec store log id (fun () -> completedCount store id () >= 300)
        let r = value (StentClient(store).WaitAsync(Patterns.Chunked, id).Result)
        Expect.equal (r.Total, r.Succeeded + r.Failed) (1000, 1000) "every item has an outcome"
        Expect.equal (history |> List.filter (fun e -> e :? ProgressReported) |> List.length) 10 "progress after each of the 10 chunks"
        let pauses = history |> List.choose (function :? TimerStarted as t -> Some t.Position | _ -> None)
        Expect.equal pauses.Length 9 "nine pauses, none repeated"
    finally cleanLog log

/// Pattern 6: batches of 50 with a 300 ms pause, killed while a pause is pending; each pause ends at its original
/// due time (the next batch never starts before it) and happens once.
let private manualRateLimited spec (store: IWorkStore) =
    let log = newLog ()
    try
        let id = StentClient(store).DispatchAsync(GuidePatterns.ManualRateLimited, RateLimitedInput([| 1..300 |], 50, "300ms")).Result
        let pausing () =
            let h = store.ReadAsync(id).Result
            let started = h |> Seq.filter (fun e -> e :? TimerStarted) |> Seq.length
            started >= 2 && started > (h |> Seq.filter (fun e -> e :? TimerFired) |> Seq.length)
        let _, history, lines = killMidRun spec store log id pausing
        Expect.equal (value (StentClient(store).WaitAsync(GuidePatterns.ManualRateLimited, id).Result)).Count 300 "every item"
        let timers = history |> List.choose (function :? TimerStarted as t -> Some t | _ -> None)
        Expect.equal (timers |> List.map (fun t -> t.Position) |> List.distinct |> List.length) 5 "five pauses, each once"
        Expect.equal (history |> List.filter (fun e -> e :? TimerFired) |> List.length) 5 "each fired once"
        // Steps of batch k+1 were scheduled after pause k fired: none may start before that pause's due time.
        let scheduledAfter (t: TimerStarted) =
            let fired = history |> List.findIndex (function :? TimerFired as f -> f.Position = t.Position | _ -> false)
            history |> List.skip fired |> List.choose (function :? StepScheduled as s -> Some s.Position | _ -> None) |> set
        for t in timers do
            let next = scheduledAfter t
            for l in lines |> List.filter (fun l -> l.Kind = "start" && next.Contains l.Position) do
                Expect.isGreaterThanOrEqual l.At (t.DueAt.AddMilliseconds -5.0) $"step {l.Position} started after the pause at {t.Position} was due"
    finally cleanLog log

/// Pattern 10: a first run fails while records 150 and 151 are unavailable; dispatched again with the same key on
/// healthy workers it resumes, and one of those is killed mid-run. Steps the failed run completed never run again.
let private resumed spec (store: IWorkStore) =
    let log = newLog ()
    try
        let client = StentClient(store)
        let key = DispatchOptions(IdempotencyKey = $"nightly-{Guid.NewGuid():N}")
        let sick = [ for _ in 1..2 -> startWorker spec log [ "STENT_UNAVAILABLE", "150,151" ] ]
        let first =
            try
                let first = client.DispatchAsync(ResumePattern.ResumableBatch, [| 1..600 |], key).Result
                Expect.stringContains (error (client.WaitAsync(ResumePattern.ResumableBatch, first, TimeSpan.FromSeconds 120.0).Result)).Message "service unavailable" "the first run fails"
                first
            finally stopAll sick
        let second = client.DispatchAsync(ResumePattern.ResumableBatch, [| 1..600 |], key).Result
        Expect.notEqual second first "a new execution resumes the failed one"
        let doneFirst = completedCount store first ()
        let _, history, lines = killMidRun spec store log second (fun () -> completedCount store second () >= doneFirst + 150)
        let r = value (client.WaitAsync(ResumePattern.ResumableBatch, second).Result)
        Expect.equal r.Total (int64 (600 * 601)) "the resumed run's result"
        let reused = history |> List.choose (function :? StepCompleted as c when not (isNull c.ReusedFrom) -> Some c.Position | _ -> None) |> set
        Expect.equal reused.Count doneFirst "every step the failed run completed is reused"
        Expect.isEmpty (lines |> List.filter (fun l -> reused.Contains l.Position)) "no reused step ran in the resumed execution"
    finally cleanLog log

/// A step that kills its worker process (SIGKILL) on every run: after three lost runs it fails for good as "worker
/// lost", is dead-lettered, and the rest of the batch completes. A new worker process replaces each dead one.
let private poison (spec: string) (store: IWorkStore) =
    let log = newLog ()
    let procs = Collections.Generic.List<Process>()
    try
        let client = StentClient(store)
        let id = client.DispatchAsync(PoisonBatch.Workflow, [| 1..6 |]).Result
        let ended () = store.GetExecutionAsync(id).Result.State > ExecutionState.Running
        let watch = Stopwatch.StartNew()
        procs.Add(startWorker spec log [])
        while not (ended ()) do
            if watch.Elapsed > TimeSpan.FromSeconds 90.0 then failtest $"not ended after 90 s, {procs.Count} processes"
            if procs[procs.Count - 1].HasExited then procs.Add(startWorker spec log [])
            Thread.Sleep 50
        let deaths = procs |> Seq.filter (fun p -> p.HasExited) |> Seq.length
        let r: string[] = value (client.WaitAsync(PoisonBatch.Workflow, id, TimeSpan.FromSeconds 10.0).Result)
        let lost = $"failed:{typeof<WorkerLostException>.FullName}"
        Expect.equal r [| "ok:10"; "ok:20"; lost; "ok:40"; "ok:50"; "ok:60" |] "only the poison item failed, as lost"
        Expect.equal deaths 3 "one dead worker per allowed attempt, none after"
        let failed =
            store.ReadAsync(id).Result |> Seq.choose (function :? StepFailed as f -> Some f | _ -> None) |> List.ofSeq
        let recorded = failed |> List.map (fun f -> f.Attempts, f.Error.ErrorType)
        Expect.equal recorded [ 3, typeof<WorkerLostException>.FullName ] "failed for good after three lost runs"
        let letters = store.ListDeadLettersAsync(100).Result |> Seq.filter (fun d -> d.ExecutionId = id) |> List.ofSeq
        Expect.equal (letters |> List.map (fun d -> d.Position)) [ failed[0].Position ] "dead-lettered"
        let storeName = spec.Split(':')[0]
        let took = watch.Elapsed.TotalSeconds
        printfn $"poison step ({storeName}): dead-lettered after {deaths} worker deaths in {took:F1} s"
    finally
        stopAll procs
        cleanLog log

/// The main job (examples/BatchCs) killed with SIGKILL mid-run and started again: it resumes the same execution.
let private mainJob () =
    let dll = Path.Combine(AppContext.BaseDirectory, "BatchCs.dll")
    let db = Path.Combine(Path.GetTempPath(), $"stent-main-{Guid.NewGuid():N}.db")
    let args = $"--items 600 --workers 2 --db \"{db}\""
    let store = new Stent.Sqlite.SqliteWorkStore(db)
    let first = Collections.Concurrent.ConcurrentQueue<string>()
    let p = spawn dll args [] first
    let id =
        try
            waitUntil "the main job's execution" 60.0 (fun () -> store.ListExecutionsAsync(ExecutionFilter()).Result.Count > 0)
            let id = store.ListExecutionsAsync(ExecutionFilter()).Result[0].Id
            waitUntil "a third of the downloads" 60.0 (fun () -> completedCount store id () >= 200)
            id
        finally
            p.Kill()
            p.WaitForExit()
    let doneAtKill = completedCount store id ()
    Expect.isLessThan doneAtKill 700 "killed mid-run"
    let second = Collections.Concurrent.ConcurrentQueue<string>()
    let q = spawn dll args [] second
    if not (q.WaitForExit 120_000) then
        q.Kill()
        failtest $"the rerun did not finish: %A{List.ofSeq second}"
    q.WaitForExit()
    let out = String.Join("\n", second)
    Expect.equal q.ExitCode 0 $"the rerun succeeded: {out}"
    Expect.stringContains out $"resuming execution {id}" "the rerun resumes the same execution"
    Expect.stringContains out $"execution {id}: Completed" "and completes it"
    Expect.stringContains out "image pipeline: https://gallery.example/" "with the gallery"
    let history = store.ReadAsync(id).Result
    let completed = history |> Seq.choose (function :? StepCompleted as c -> Some c.Position | _ -> None) |> List.ofSeq
    Expect.equal completed (List.distinct completed) "every step recorded once"
    Expect.equal (store.ListExecutionsAsync(ExecutionFilter()).Result.Count) 1 "one execution"

/// The database restarts mid-run: workers reconnect, nothing recorded is lost, no step runs twice.
let private databaseRestart () =
    let pg = Environment.GetEnvironmentVariable "STENT_PG"
    let restart = Environment.GetEnvironmentVariable "STENT_PG_RESTART"
    if String.IsNullOrEmpty pg || String.IsNullOrEmpty restart then
        skiptest "STENT_PG_RESTART is not set: run the tests with scripts/test.sh, which starts a PostgreSQL it can restart"
    let schema = "restart_" + Guid.NewGuid().ToString("N").Substring(0, 10)
    let store = new Stent.Marten.PostgresWorkStore(pg, schema)
    // A client of its own, whose pooled connection is idle when the server restarts.
    let clientStore = new Stent.Marten.PostgresWorkStore(pg, schema)
    let calls = Calls()
    let step = Stent.Dsl.Durable.create "restart_slow_double" (fun (x: int) ctx -> task {
        do! Threading.Tasks.Task.Delay(10, ctx.CancellationToken)
        calls.Hit ctx
        return x * 2 })
    let wf = Stent.Dsl.Workflow.define "restart_batch" (fun (xs: int list) -> xs |> Stent.Dsl.Workflow.traverse step.Call |> Stent.Dsl.Workflow.map List.sum)
    let options id = WorkerOptions(WorkerId = id, Serializer = Stent.Dsl.Json.serializer, PollMax = TimeSpan.FromMilliseconds 100.0, MaxConcurrency = 16)
    let serverStart () =
        use c = new Npgsql.NpgsqlConnection(pg + ";Pooling=false")
        c.Open()
        use cmd = new Npgsql.NpgsqlCommand("SELECT pg_postmaster_start_time()", c)
        cmd.ExecuteScalar() :?> DateTime
    let before = serverStart ()
    let r, id = withWorkers 2 store options (fun w -> w.Register wf) (fun c -> task {
        let! id = c.DispatchAsync(wf, [ 1..400 ])
        waitUntil "a quarter of the steps" 60.0 (fun () -> calls.Total >= 100)
        let client = StentClient(clientStore, Stent.Dsl.Json.serializer)
        let! seen = client.GetAsync id
        Expect.equal seen.Info.Id id "the client reads before the restart"
        let psi = ProcessStartInfo("bash", $"-c \"{restart}\"", UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true)
        use p = Process.Start psi
        let err = p.StandardError.ReadToEnd()
        p.WaitForExit()
        Expect.equal p.ExitCode 0 $"the database restarted: {err}"
        Expect.isGreaterThan (serverStart ()) before "the server really restarted"
        // The client's pooled connection died with the server: its next call is retried on a new one.
        let! seenAgain = client.GetAsync id
        Expect.equal seenAgain.Info.Id id "a client call right after the restart succeeds"
        printfn $"database restart test: restarted at {calls.Total}/400 steps run"
        let! r = c.WaitAsync(wf, id, TimeSpan.FromSeconds 120.0)
        return r, id })
    Expect.equal (value r) (List.sum [ for x in 1..400 -> 2 * x ]) "the result is right"
    let completed = store.ReadAsync(id).Result |> Seq.choose (function :? StepCompleted as c -> Some c.Position | _ -> None) |> List.ofSeq
    Expect.equal completed.Length 400 "every step recorded"
    Expect.equal (List.distinct completed).Length 400 "once"
    Expect.equal calls.Total 400 "no step ran twice"

let tests =
    testSequenced <| testList "Crashes (SIGKILL, database restart)" [
        yield! onStores "three worker processes run a 1,000-item fan-out, one killed mid-run and replaced; every step completes once" fanOut
        yield! onStores "a chain's worker killed mid-step: that step runs again elsewhere, once; all complete once"
                   chain
        yield! onStores "pattern 3: chunked processing with pauses survives a killed worker; progress and pauses recorded once" chunked
        yield! onStores "pattern 6: a pause interrupted by a killed worker ends at its original due time, once" manualRateLimited
        yield! onStores "a step that kills its worker on every run is dead-lettered after three; the batch completes"
                   poison
        yield! onStores "pattern 10: a failed run resumed by its key on workers, one killed mid-run; finished steps never run again" resumed
        test "the main job killed with SIGKILL and started again resumes the same execution and finishes it" { mainJob () }
        test "PostgreSQL restarted mid-run: workers reconnect, nothing recorded is lost and no step runs twice" { databaseRestart () }
    ]
