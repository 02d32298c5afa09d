/// Test helpers: the test environment (the real worker, a fake clock) on every store, crashes at every store write.
module Support

open System
open System.Collections.Concurrent
open System.IO
open System.Threading
open System.Threading.Tasks
open Expecto
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Replay
open Stent.Storage
open Stent.Storage.Relational
open Stent.Sqlite
open Stent.Testing

/// The PostgreSQL connection string the test script provides; tests make a store per test and leave them to the
/// collector, so idle pooled connections are closed after a second or two instead of five minutes.
let pg =
    match Environment.GetEnvironmentVariable "STENT_PG" with
    | null | "" -> null
    | c -> c + ";Connection Idle Lifetime=2;Connection Pruning Interval=1"

/// A store kind: `open time` makes a fresh, isolated database and a store on it timed by `time`.
type StoreKind = { Name: string; Open: TimeProvider -> RelationalWorkStore }

let inMemory = { Name = "in-memory"; Open = fun t -> SqliteWorkStore.InMemory t :> RelationalWorkStore }

let sqlite =
    { Name = "SQLite"
      Open = fun t -> new SqliteWorkStore(Path.Combine(Path.GetTempPath(), $"stent-test-{Guid.NewGuid():N}.db"), t) :> RelationalWorkStore }

let postgres =
    { Name = "PostgreSQL"
      Open = fun t ->
        if String.IsNullOrEmpty pg then skiptest "STENT_PG is not set: run the tests with scripts/test.sh, which starts PostgreSQL"
        let schema = "w_" + Guid.NewGuid().ToString("N").Substring(0, 12)
        new Stent.Marten.PostgresWorkStore(pg, schema, t) :> RelationalWorkStore }

let storeKinds = [ inMemory; sqlite; postgres ]

/// Empties every table of `schema` (once it exists) but the record of the version that made them: a store opened on a
/// shared schema starts as empty as a fresh database, whatever a test before it left there (executions of a failed
/// run would otherwise be claimed by the next environment's worker, which registers a workflow of the same name, and
/// replayed against other code).
let private emptySchema (schema: string) =
    use c = new Npgsql.NpgsqlConnection(pg)
    c.Open()
    use cmd = c.CreateCommand()
    cmd.CommandText <- $"""
        DO $$ DECLARE t text; BEGIN
            FOR t IN SELECT format('%%I.%%I', schemaname, tablename) FROM pg_tables WHERE schemaname = '{schema}'
                    AND tablename <> 'stent_meta' LOOP
                EXECUTE 'DELETE FROM ' || t;
            END LOOP;
        END $$"""
    cmd.ExecuteNonQuery() |> ignore

/// PostgreSQL in one schema for the whole test run, emptied for each environment (which gets a new store object with
/// its own clock): property tests run hundreds of short executions, and making a schema costs Marten's setup.
let postgresShared =
    let schema = "p_" + Guid.NewGuid().ToString("N").Substring(0, 12)
    { postgres with
        Name = "PostgreSQL"
        Open = fun t ->
            if String.IsNullOrEmpty pg then skiptest "STENT_PG is not set: run the tests with scripts/test.sh, which starts PostgreSQL"
            emptySchema schema
            new Stent.Marten.PostgresWorkStore(pg, schema, t) :> RelationalWorkStore }

/// A fresh in-memory store, a SQLite file per environment, and PostgreSQL in one schema: where the properties run.
let propertyKinds = [ inMemory; sqlite; postgresShared ]

/// A new execution id.
let newId () = Guid.NewGuid().ToString("N")

/// Worker options of the tests' environments.
let testOptions = WorkerOptions(Serializer = Json.serializer, MaxConcurrency = 32)

/// A test environment on a fresh store of `kind`.
let envOn (kind: StoreKind) = new TestEnvironment(Func<_, _>(kind.Open), testOptions)

/// A test environment on a fresh in-memory store.
let env () = envOn inMemory

/// Runs a workflow definition to its end on a fresh store of `kind`; returns the result and the history.
let runFreshOn kind (def: WorkflowDef<'I, 'O>) (input: 'I) =
    use e = envOn kind
    let r = e.RunAsync(def, input, "exec").Result
    r, e.Store.ReadAsync("exec").Result

/// Runs a workflow definition to its end on a fresh in-memory store; returns the result and the history.
let runFresh (def: WorkflowDef<'I, 'O>) (input: 'I) = runFreshOn inMemory def input

/// Store writes of `operation` (all when null) that a fresh run of the definition makes after its dispatch.
let writesOf kind (operation: string) (def: WorkflowDef<'I, 'O>) (input: 'I) =
    use e = envOn kind
    e.DispatchAsync(def, input, "exec").Wait()
    e.CrashAt(Int32.MaxValue, false, operation)
    e.RunUntilIdleAsync().Wait()
    e.Writes

/// Runs the definition on a fresh environment of `kind` with a crash planned at its store write `k` of `operation`
/// (all writes when null; before it commits when k is odd, right after when even); returns the history when the crash
/// happened, the result after recovery, the final history and the environment's crash count.
let crashedRun kind (operation: string) (def: WorkflowDef<'I, 'O>) (input: 'I) k =
    use e = envOn kind
    e.DispatchAsync(def, input, "x").Wait()
    e.CrashAt((k + 1) / 2, (k % 2 = 0), operation)
    let mutable before = None
    e.RestartAfterCrash <- false
    try e.RunUntilIdleAsync().Wait() with :? AggregateException as a when (a.InnerException :? SimulatedCrashException) -> ()
    before <- Some(List.ofSeq (e.Store.ReadAsync("x").Result))
    e.RestartAfterCrash <- true
    e.RunUntilIdleAsync().Wait()
    let r = e.ResultAsync<'O>("x").Result
    before.Value, r, List.ofSeq (e.Store.ReadAsync("x").Result), e.Crashes

/// Crashes the run at (up to 12 spread) event boundaries (decision writes, before and after they commit); each
/// recovery gives the uncrashed result, records every step and pause once, keeps the due time of every pause recorded
/// before the crash, and never records again a step that had completed before it.
let crashEverywhere (def: WorkflowDef<'I, 'O>) (input: 'I) =
    let expected, history = runFresh def input
    let history = List.ofSeq history
    let writes = writesOf inMemory "decision" def input
    let timers (h: HistoryEvent list) = h |> List.choose (function :? TimerStarted as t -> Some(t.Position, t.DueAt) | _ -> None)
    for k in List.distinct [ for i in 1..12 -> max 1 (i * (writes * 2) / 12) ] do
        let before, r, after, _ = crashedRun inMemory "decision" def input k
        Expect.equal (string r) (string expected) $"crash at write {k}: same result"
        let completed = after |> List.choose (function :? StepCompleted as c -> Some c.Position | :? StepFailed as f -> Some f.Position | _ -> None)
        Expect.equal completed (List.distinct completed) $"crash at {k}: every step recorded once"
        Expect.equal (timers after |> List.map fst) (timers history |> List.map fst) $"crash at {k}: every pause once"
        for position, due in timers before do
            Expect.equal (timers after |> List.find (fun (p, _) -> p = position) |> snd) due $"crash at {k}: the pause at {position} keeps its due time"
        let doneBefore = before |> List.choose (function :? StepCompleted as c -> Some c.Position | _ -> None) |> set
        let again = after |> List.choose (function :? StepCompleted as c when doneBefore.Contains c.Position -> Some c.Position | _ -> None)
        Expect.equal again.Length doneBefore.Count $"crash at {k}: steps completed before the crash were not recorded again"

/// Worker options for tests that serve workers for real.
let opts (id: string) = WorkerOptions(WorkerId = id, Serializer = Json.serializer, PollMax = TimeSpan.FromMilliseconds 50.0)

/// Serves `workers` on `store` while `f` runs with a client, then stops them (they drain).
let serve (store: IWorkStore) (workers: Worker list) (f: StentClient -> 'T) : 'T =
    use cts = new CancellationTokenSource()
    let serving = workers |> List.map (fun w -> Task.Run(fun () -> w.ServeAsync cts.Token))
    try f (StentClient(store, Json.serializer))
    finally
        cts.Cancel()
        if not (Task.WaitAll(Array.ofList serving, TimeSpan.FromSeconds 30.0)) then
            failtest "the workers did not drain within 30 s"

/// Runs `count` workers on the store until `f` finishes.
let withWorkers (count: int) (store: IWorkStore) (options: string -> WorkerOptions) (register: Worker -> Worker)
                (f: StentClient -> Task<'T>) : 'T =
    serve store [ for i in 1..count -> register (Worker(store, options $"w{i}")) ] (fun c -> (f c).Result)

/// Runs a workflow (no input) to its end; returns its result.
let run (w: Workflow<'T>) : Stent.Result<'T> =
    fst (runFresh (Workflow.define "test" (fun () -> w)) ())

/// The value of a successful run, or a test failure naming the error.
let value (r: Stent.Result<'T>) = if r.IsOk then r.Value else failwithf "expected a value, got %O" r.Error

/// The error of a failed run.
let error (r: Stent.Result<'T>) = match r.Error with null -> failwithf "expected an error, got %O" r | e -> e

/// Waits until `condition` holds, polling every 20 ms; fails the test after `seconds`.
let waitUntil (what: string) (seconds: float) (condition: unit -> bool) =
    let watch = Diagnostics.Stopwatch.StartNew()
    while not (condition ()) do
        if watch.Elapsed > TimeSpan.FromSeconds seconds then failtest $"timed out after {seconds} s waiting for {what}"
        Thread.Sleep 20

/// Counts invocations of step implementations by idempotency key (execution/position).
type Calls() =
    let calls = ConcurrentDictionary<string, int>()
    member _.Hit(ctx: StepContext) = calls.AddOrUpdate(ctx.IdempotencyKey, 1, fun _ n -> n + 1) |> ignore
    member _.Total = calls.Values |> Seq.sum
    member _.For key = match calls.TryGetValue key with | true, n -> n | _ -> 0
    member _.Keys = calls.Keys |> List.ofSeq
    member _.Clear() = calls.Clear()

/// A durable function that adds one, counting its calls.
let counted (calls: Calls) name =
    Durable.createSync name (fun (x: int) ctx -> calls.Hit ctx; x + 1)

/// Step-kind events of a history, as comparable text (position, kind, name).
let shape (events: HistoryEvent seq) =
    events |> Seq.map (fun e -> e.ToString()) |> List.ofSeq

/// Runs `f`, expecting it to throw 'E; returns the exception.
let throws<'E when 'E :> exn> (f: unit -> unit) : 'E =
    try
        f ()
        failwithf "expected %s" typeof<'E>.Name
    with
    | :? 'E as e -> e
    | :? AggregateException as a when (a.InnerException :? 'E) -> a.InnerException :?> 'E

/// The test worker process (tests/worker), built next to the tests.
let workerDll = Path.Combine(AppContext.BaseDirectory, "Stent.TestWorker.dll")

/// Starts `dotnet DLL ARGS` with extra environment variables, its output lines collected in `output`.
let spawn (dll: string) (args: string) (env: (string * string) list)
          (output: Collections.Concurrent.ConcurrentQueue<string>) =
    let psi = Diagnostics.ProcessStartInfo("dotnet", $"\"{dll}\" {args}", UseShellExecute = false,
                                            RedirectStandardOutput = true, RedirectStandardError = true)
    for k, v in env do psi.Environment[k] <- v
    let p = Diagnostics.Process.Start psi
    p.OutputDataReceived.Add(fun e -> if not (isNull e.Data) then output.Enqueue e.Data)
    p.ErrorDataReceived.Add(fun e -> if not (isNull e.Data) then output.Enqueue e.Data)
    p.BeginOutputReadLine()
    p.BeginErrorReadLine()
    p

/// A test worker process serving the store `spec` (sqlite:PATH or postgres:SCHEMA:CONNECTION), logging step attempts
/// to `log`.PID.
let startWorker spec log env = spawn workerDll $"\"{spec}\" \"{log}\" 8" env (Collections.Concurrent.ConcurrentQueue())

/// Kills the processes (SIGKILL) and waits for them to exit.
let stopAll (procs: Diagnostics.Process seq) =
    for p in procs do
        try p.Kill() with _ -> ()
        p.WaitForExit(10_000) |> ignore

/// A multi-process test on a fresh SQLite file and a fresh PostgreSQL schema: `f` gets the store's spec for the test
/// worker (sqlite:PATH or postgres:SCHEMA:CONNECTION) and a store object on it.
let onStores name (f: string -> IWorkStore -> unit) =
    [ test $"SQLite: {name}" {
          let path = Path.Combine(Path.GetTempPath(), $"stent-crash-{Guid.NewGuid():N}.db")
          f $"sqlite:{path}" (new SqliteWorkStore(path))
      }
      test $"PostgreSQL: {name}" {
          if String.IsNullOrEmpty pg then
              skiptest "STENT_PG is not set: run the tests with scripts/test.sh, which starts PostgreSQL"
          let schema = "crash_" + Guid.NewGuid().ToString("N").Substring(0, 10)
          f $"postgres:{schema}:{pg}" (new Stent.Marten.PostgresWorkStore(pg, schema))
      } ]
