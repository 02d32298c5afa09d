/// The stent command line against a real SQLite file (and PostgreSQL, for its schema option): listing, showing,
/// stats, resuming, signals, dead letters and migrations.
/// One rule for what is not there: an unknown id exits 1 naming it; a request too late for a finished execution
/// (cancel, signal) exits 1 saying it finished and nothing was done.
module CliTests

open System
open System.IO
open Expecto
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Sqlite
open Support

/// Runs `stent args…` as given: exit code, standard output and standard error.
let private stentWith (args: string list) =
    use out = new StringWriter()
    use err = new StringWriter()
    let code = Stent.Cli.Commands.RunAsync(Array.ofList args, out, err, Threading.CancellationToken.None).Result
    code, out.ToString(), err.ToString()

/// Runs `stent --db path args…`: exit code, standard output and standard error.
let private stent (db: string) (args: string list) = stentWith ("--db" :: db :: args)

/// Runs `stent args…` with no --db: exit code and standard error.
let private stentBare (args: string list) =
    let code, _, err = stentWith args
    code, err

let tests =
    testList "Command line" [
        test "a store that cannot be opened or reached is one line naming it, exit 1" {
            let code, err = stentBare [ "--postgres"; "Host=127.0.0.1;Port=1;Timeout=2"; "list" ]
            Expect.equal code 1 "an unreachable server"
            Expect.stringContains err "Cannot use the PostgreSQL at 127.0.0.1:1" "names host and port"
            let code, err = stentBare [ "--postgres"; "nonsense"; "list" ]
            Expect.equal code 1 "a connection string that does not parse"
            Expect.stringContains err "connection string (it does not parse)" "says so"
            let garbage = Path.Combine(Path.GetTempPath(), $"stent-garbage-{Guid.NewGuid():N}.db")
            File.WriteAllText(garbage, "not a database")
            let code, err = stentBare [ "--db"; garbage; "list" ]
            Expect.equal (code, err.Trim().Split('\n').Length) (1, 1) "a file that is not a database: one line"
            Expect.stringContains err $"Cannot use the SQLite database '{garbage}'" "names the path"
        }
        test "stent migrate makes a new SQLite file's tables and says so; the file then serves other commands" {
            let db = Path.Combine(Path.GetTempPath(), $"stent-migrate-{Guid.NewGuid():N}.db")
            let code, out, _ = stent db [ "migrate" ]
            Expect.equal code 0 "migrate"
            Expect.stringContains out $"the tables of SQLite database '{db}' are made and up to date" "says so"
            let code, out, _ = stent db [ "list" ]
            Expect.equal code 0 "the file exists and has the tables"
            Expect.stringContains out "0 execution(s)" "none yet"
        }
        test "stent --schema makes and reads the PostgreSQL schema it names" {
            if String.IsNullOrEmpty pg then skiptest "STENT_PG is not set: run the tests with scripts/test.sh"
            let schema = "c_" + Guid.NewGuid().ToString("N").Substring(0, 12)
            let code, out, _ = stentWith [ "--postgres"; pg; "--schema"; schema; "migrate" ]
            Expect.equal code 0 "migrate"
            Expect.stringContains out $"schema {schema}) are made and up to date" "names the schema"
            do
                use store = new Stent.Marten.PostgresWorkStore(pg, schema)
                store.CreateExecutionAsync(Storage.NewExecution("in-" + schema, "wf", 1, "1", null, TimeSpan.Zero,
                    Nullable(), null, [], 0)).Wait()
            let code, out, _ = stentWith [ "--postgres"; pg; "--schema"; schema; "list" ]
            Expect.equal code 0 "list"
            Expect.stringContains out ("in-" + schema) "the execution in that schema"
        }
        test "stent lists, shows, counts and resumes executions and lists, shows, replays and discards dead letters" {
            let db = Path.Combine(Path.GetTempPath(), $"stent-cli-{Guid.NewGuid():N}.db")
            let store = new SqliteWorkStore(db)
            let broken = Collections.Concurrent.ConcurrentDictionary<int, bool>()
            let step = Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.None)) "cli_step" (fun (x: int) _ ->
                if broken.ContainsKey x then invalidOp $"item {x} is corrupt"
                x)
            let wf = Workflow.define "cli_batch" (fun (xs: int list) -> xs |> Workflow.traverse step.Call |> Workflow.map List.sum)
            let waiter = Workflow.define "cli_waiter" (fun () -> Workflow.WaitForSignal<int> "go")
            broken[3] <- true
            let failed, waiting = withWorkers 1 store opts (fun w -> w.Register(wf).Register(waiter)) (fun c -> task {
                let! failed = c.DispatchAsync(wf, [ 1..5 ])
                let! _ = c.WaitAsync(wf, failed, TimeSpan.FromSeconds 30.0)
                let! waiting = c.DispatchAsync(waiter, ())
                return failed, waiting })
            let code, out, _ = stent db [ "list" ]
            Expect.equal code 0 "list"
            Expect.stringContains out failed "lists the failed execution"
            Expect.stringContains out "2 execution(s)" "and counts"
            let _, out, _ = stent db [ "list"; "--state"; "failed" ]
            Expect.stringContains out "1 execution(s)" "filters by state"
            let _, out, _ = stent db [ "show"; failed ]
            Expect.stringContains out "cli_batch v1, Failed" "shows the state"
            Expect.stringContains out "error: item 3 is corrupt" "and the error"
            Expect.stringContains out "cli_step" "and the step timeline"
            let _, out, _ = stent db [ "stats" ]
            Expect.stringContains out "Failed     1" "stats by state"
            let code, out, _ = stent db [ "dlq"; "list" ]
            Expect.equal code 0 "dlq list"
            Expect.stringContains out "item 3 is corrupt" "lists the dead letter"
            let letter = store.ListDeadLettersAsync().Result[0].Id
            let _, out, _ = stent db [ "dlq"; "show"; string letter ]
            Expect.stringContains out "input 3" "shows its input"
            Expect.stringContains out "System.InvalidOperationException: item 3 is corrupt" "its error type and message"
            broken.Clear()
            let code, out, _ = stent db [ "dlq"; "replay"; string letter ]
            Expect.equal code 0 "replay"
            Expect.stringContains out "replayed: execution" "names the execution that runs it again"
            let resumed = withWorkers 1 store opts (fun w -> w.Register(wf).Register(waiter)) (fun c -> task {
                let! info = c.GetAsync failed
                let! r = c.WaitAsync(wf, info.Info.ResumedBy, TimeSpan.FromSeconds 30.0)
                Expect.equal (value r) 15 "the replayed step's result counts"
                let! followed = c.WaitAsync(wf, failed, TimeSpan.FromSeconds 30.0)
                Expect.equal (value followed) 15 "a wait on the failed execution follows it to its resumption"
                waitUntil "the waiter waits for its signal" 30.0 (fun () ->
                    store.GetExecutionAsync(waiting).Result.Awaiting.Count > 0)
                let code, _, err = stent db [ "signal"; waiting; "go"; "\"seven\"" ]
                Expect.equal code 1 "a payload of the wrong kind"
                Expect.stringContains err "waits for signal 'go' as System.Int32" "names the expected type"
                let code, _, err = stent db [ "signal"; waiting; "og"; "7" ]
                Expect.equal code 0 "a name it does not wait for is sent"
                Expect.stringContains err "note: it waits for 'go' (System.Int32) now" "with a note"
                let code, out, _ = stent db [ "signal"; waiting; "go"; "7" ]
                Expect.equal (code, out.Trim()) (0, "signal sent") "signal"
                let! w = c.WaitAsync(waiter, waiting, TimeSpan.FromSeconds 30.0)
                Expect.equal (value w) 7 "the signal's payload arrived"
                return info.Info.ResumedBy })
            let code, out, _ = stent db [ "resume"; failed ]
            Expect.equal (code, out.Trim()) (0, $"resumed by {resumed}") "resuming again names the same resumption"
            let code, _, err = stent db [ "signal"; waiting; "go"; "8" ]
            Expect.equal code 1 "a signal to a finished execution"
            let said = $"Execution '{waiting}' has already finished (Completed): signal not delivered"
            Expect.stringContains err said "said"
            let code, _, err = stent db [ "cancel"; waiting ]
            Expect.equal code 1 "cancelling a finished execution"
            Expect.stringContains err "has already finished (Completed): nothing to cancel" "said"
            let code, _, err = stent db [ "cancel"; "nope" ]
            Expect.equal (code, err.Trim()) (1, "No execution 'nope' to cancel.") "an unknown id, as for every command"
            let code, _, err = stent db [ "dlq"; "discard"; string letter ]
            Expect.equal code 1 "a replayed dead letter is gone"
            Expect.stringContains err $"No dead letter {letter}" "says so"
            let code, _, err = stent db [ "show"; "nope" ]
            Expect.equal code 1 "unknown execution"
            Expect.stringContains err "No execution 'nope'" "named"
            let code, _, err = stent db [ "list"; "--state"; "sleeping" ]
            Expect.equal code 2 "bad state"
            Expect.stringContains err "Unknown state 'sleeping'" "named"
            let code, _, err = stent db [ "frobnicate" ]
            Expect.equal code 2 "unknown command"
            Expect.stringContains err "Unknown command 'frobnicate'" "named"
            let code, _, err = stent db [ "cleanup"; "--older-than"; "soon" ]
            Expect.equal code 2 "bad duration"
            Expect.stringContains err "Invalid duration 'soon'" "named"
            let code, out, _ = stent db [ "cleanup"; "--older-than"; "0s" ]
            Expect.equal code 0 "cleanup"
            Expect.stringContains out "deleted 3 ended execution(s)" "the failed one, its resumption and the waiter, all ended"
            let code, _, err = stent (db + ".missing") [ "list" ]
            Expect.equal (code, err.Trim()) (2, $"No database '{db}.missing' (use --db FILE or --postgres CONNECTION).")
                "a missing database: exit 2, one line naming the path"
        }
        test "stent schedules lists, pauses, resumes and deletes schedules, and names an unknown one" {
            let db = Path.Combine(Path.GetTempPath(), $"stent-cli-{Guid.NewGuid():N}.db")
            let store = new SqliteWorkStore(db)
            let wf = Workflow.define "cli_nightly" (fun (x: int) -> Workflow.ret x)
            let client = StentClient(store)
            client.ScheduleAsync("nightly", "0 2 * * *", wf, 1, "Europe/Paris").Wait()
            let code, out, _ = stent db [ "schedules" ]
            Expect.equal code 0 "list"
            Expect.stringContains out "nightly" "lists the schedule"
            Expect.stringContains out "Europe/Paris" "with its zone"
            Expect.stringContains out "1 schedule(s)" "and counts"
            let code, out, _ = stent db [ "schedules"; "pause"; "nightly" ]
            Expect.equal (code, out.Trim()) (0, "schedule nightly paused") "pause"
            let _, out, _ = stent db [ "schedules"; "list" ]
            Expect.stringContains out "paused" "shown paused"
            let code, out, _ = stent db [ "schedules"; "resume"; "nightly" ]
            Expect.equal code 0 "resume"
            Expect.stringContains out "next tick" "says when it fires"
            let code, out, _ = stent db [ "schedules"; "delete"; "nightly" ]
            Expect.equal (code, out.Trim()) (0, "schedule nightly deleted (its executions stay)") "delete"
            let code, _, err = stent db [ "schedules"; "pause"; "nightly" ]
            Expect.equal (code, err.Trim()) (1, "No schedule 'nightly'.") "an unknown schedule, exit 1"
            let code, _, err = stent db [ "schedules"; "delete"; "nightly" ]
            Expect.equal (code, err.Trim()) (1, "No schedule 'nightly'.") "deleting it again"
            let code, _, err = stent db [ "schedules"; "pause" ]
            Expect.equal code 2 "no name"
            Expect.stringContains err "needs a schedule name" "said"
        }
        test "stent show says what a live execution waits for, failures first, and pages a timeline in position order" {
            let db = Path.Combine(Path.GetTempPath(), $"stent-cli-{Guid.NewGuid():N}.db")
            let store = new SqliteWorkStore(db)
            let step = Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.None)) "show_step" (fun (x: int) _ ->
                if x = 3 then invalidOp "item 3 is corrupt"
                x)
            let wf = Workflow.define "show_batch" (fun (xs: int list) -> workflow {
                let! rs = xs |> Workflow.traverseAll step.Call
                let! _ = Workflow.WaitForSignal<bool>("approve", Duration.Parse "1h")
                return rs.Length })
            let id = withWorkers 1 store opts (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, [ 1..12 ])
                waitUntil "the execution waits for its signal" 30.0 (fun () ->
                    store.GetExecutionAsync(id).Result.Awaiting.Count > 0)
                return id })
            let code, out, _ = stent db [ "show"; id; "--steps"; "5" ]
            Expect.equal code 0 "show"
            Expect.stringContains out "waits for:" "says what it waits for"
            Expect.stringContains out "signal 'approve' (System.Boolean)" "the signal, with its type"
            Expect.stringContains out "(signal timeout) until" "and the timer that ends the wait, with its due time"
            Expect.stringContains out "show_step: 12 (11 completed, 1 failed)" "steps counted by name"
            let failures = out.IndexOf "failures (1):"
            let timeline = out.IndexOf "timeline in position order (5 of 12 steps"
            Expect.isTrue (failures > 0 && timeline > failures) "failures come before the timeline, which is paged"
            Expect.stringContains out "failed after 1 attempt(s): item 3 is corrupt" "the failure"
            let positions (text: string) =
                let table = text.Substring(text.IndexOf "POSITION")
                [ for m in Text.RegularExpressions.Regex.Matches(table, @"\n    (0\.\d+/0) ")
                      -> m.Groups[1].Value ]
            Expect.equal (positions out) [ for i in 0..4 -> $"0.{i}/0" ] "the first five positions, in order"
            Expect.stringContains out "ms " "steps' durations"
            let _, all, _ = stent db [ "show"; id; "--steps"; "12" ]
            Expect.equal (positions all) [ for i in 0..11 -> $"0.{i}/0" ] "0.9/0 comes before 0.10/0"
            let _, failed, _ = stent db [ "show"; id; "--failed" ]
            Expect.stringContains failed "item 3 is corrupt" "--failed shows the failures"
            Expect.isFalse (failed.Contains "timeline") "and no timeline"
            let file = db + ".history"
            let code, _, err = stent db [ "export"; id; "--out"; file ]
            Expect.equal code 0 "export"
            Expect.stringContains err $"to {file}" "says where"
            let exported = using (File.OpenText file) Stent.Replay.HistoryFile.Read
            Expect.equal (List.ofSeq exported) (List.ofSeq (store.ReadAsync(id).Result)) "the history, event for event"
            let _, printed, _ = stent db [ "export"; id ]
            Expect.equal (printed.Trim()) ((File.ReadAllText file).Trim()) "to standard output without --out"
            let code, _, err = stent db [ "export"; "nope" ]
            Expect.equal (code, err.Trim()) (1, "No execution 'nope'.") "an unknown id"
        }
    ]
