/// Recurring schedules: each tick runs once (in its schedule's time zone), missed ticks follow the stated policy,
/// pause/resume/delete, and two worker processes with kills and an outage never run a tick twice.
module SchedulingTests

open System
open System.Diagnostics
open System.IO
open System.Threading
open Expecto
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Scheduling
open Stent.Storage
open Support

let private nightly = Workflow.define "nightly_sum" (fun (xs: int list) -> Workflow.ret (List.sum xs))

let private at (env: Stent.Testing.TestEnvironment) (iso: string) =
    env.Time.SetUtcNow(DateTimeOffset.Parse(iso, Globalization.CultureInfo.InvariantCulture))

let private fire (env: Stent.Testing.TestEnvironment) = env.FireSchedulesAsync().Result |> List.ofSeq

let private utc (iso: string) = DateTimeOffset.Parse(iso, Globalization.CultureInfo.InvariantCulture)

let private schedule (env: Stent.Testing.TestEnvironment) name cron zone (options: ScheduleOptions) =
    env.Client.ScheduleAsync(name, cron, nightly, [ 1; 2; 3 ], zone, options).Result

/// Ticks of a schedule's executions, from their ids (NAME@yyyyMMddTHHmmssZ), in order.
let private ticksOf (store: IWorkStore) (name: string) =
    store.ListExecutionsAsync(ExecutionFilter(Limit = 100_000)).Result
    |> Seq.filter (fun e -> e.Id.StartsWith(name + "@"))
    |> Seq.map (fun e -> DateTimeOffset.ParseExact(e.Id.Substring(name.Length + 1), "yyyyMMdd'T'HHmmss'Z'",
                                                   Globalization.CultureInfo.InvariantCulture,
                                                   Globalization.DateTimeStyles.AssumeUniversal))
    |> Seq.sort |> List.ofSeq

let private single kind =
    testList kind.Name [
        test "a schedule fires each tick once, as an execution named and keyed by the tick" {
            use env = envOn kind
            let s = schedule env "nightly" "0 2 * * *" "UTC" (ScheduleOptions())
            Expect.equal s.NextTick (Nullable(utc "2026-01-01T02:00:00Z")) "the first tick is the first after now"
            at env "2026-01-01T01:59:59Z"
            Expect.isEmpty (fire env) "nothing before the tick"
            at env "2026-01-01T02:00:00.5Z"
            Expect.equal (fire env) [ "nightly@20260101T020000Z" ] "the tick fires"
            Expect.isEmpty (fire env) "and only once"
            let info = env.Store.GetExecutionAsync("nightly@20260101T020000Z").Result
            Expect.equal info.IdempotencyKey "schedule:nightly@20260101T020000Z" "keyed by the tick"
            env.Register(nightly).RunUntilIdleAsync().Wait()
            Expect.equal (value (env.Client.WaitAsync(nightly, info.Id).Result)) 6 "the execution ran its workflow"
            let listed = env.Client.ListSchedulesAsync().Result |> Seq.exactlyOne
            Expect.equal listed.NextTick (Nullable(utc "2026-01-02T02:00:00Z")) "the next tick is tomorrow's"
            Expect.equal listed.LastExecutionId "nightly@20260101T020000Z" "the last execution is kept"
        }
        test "ticks fired late but within MissedAfter each run; older ones follow the policy: RunOnce runs the latest" {
            use env = envOn kind
            schedule env "minutely" "* * * * *" "UTC" (ScheduleOptions(MissedAfter = Duration.Parse "5m")) |> ignore
            at env "2026-01-01T00:03:10Z"
            Expect.equal (fire env)
                [ "minutely@20260101T000100Z"; "minutely@20260101T000200Z"; "minutely@20260101T000300Z" ]
                "three late ticks, each run"
            at env "2026-01-01T01:00:30Z"
            Expect.equal (fire env)
                [ "minutely@20260101T005500Z"; "minutely@20260101T005600Z"; "minutely@20260101T005700Z"
                  "minutely@20260101T005800Z"; "minutely@20260101T005900Z"; "minutely@20260101T010000Z" ]
                "of the 51 missed ticks (00:04 to 00:55 are older than 5 minutes) the latest runs; fresh ones run"
        }
        test "missed ticks: RunOnce runs one execution for the latest, Skip none; both go on at the next tick" {
            use env = envOn kind
            schedule env "once" "0 2 * * *" "UTC" (ScheduleOptions(Missed = MissedTicks.RunOnce)) |> ignore
            schedule env "skip" "0 2 * * *" "UTC" (ScheduleOptions(Missed = MissedTicks.Skip)) |> ignore
            at env "2026-01-04T12:00:00Z"
            Expect.equal (fire env) [ "once@20260104T020000Z" ]
                "four ticks missed: one run for the latest, none skipped"
            for s in env.Client.ListSchedulesAsync().Result do
                Expect.equal s.NextTick (Nullable(utc "2026-01-05T02:00:00Z")) $"{s.Name} goes on at the next tick"
        }
        test "the cron is read in the schedule's time zone" {
            use env = envOn kind
            let s = schedule env "ny" "0 2 * * *" "America/New_York" (ScheduleOptions())
            Expect.equal s.NextTick (Nullable(utc "2026-01-01T07:00:00Z")) "02:00 in New York is 07:00 UTC in winter"
            at env "2026-07-01T00:00:00Z"
            let s = env.Client.ResumeScheduleAsync("ny").Result
            Expect.equal s.NextTick (Nullable(utc "2026-01-01T07:00:00Z")) "resuming a running schedule changes nothing"
        }
        test "a paused schedule fires nothing, and resumes at its first tick after now without catching up" {
            use env = envOn kind
            schedule env "paused" "0 * * * *" "UTC" (ScheduleOptions()) |> ignore
            let p = env.Client.PauseScheduleAsync("paused").Result
            Expect.isTrue p.Paused "paused"
            at env "2026-01-01T05:30:00Z"
            Expect.isEmpty (fire env) "nothing fires while paused"
            let r = env.Client.ResumeScheduleAsync("paused").Result
            Expect.equal r.NextTick (Nullable(utc "2026-01-01T06:00:00Z")) "the next tick after now"
            Expect.isEmpty (fire env) "the ticks of the pause are not run"
            Expect.isTrue (env.Client.DeleteScheduleAsync("paused").Result) "deleted"
            Expect.isFalse (env.Client.DeleteScheduleAsync("paused").Result) "a second delete finds nothing"
            Expect.isEmpty (env.Client.ListSchedulesAsync().Result) "gone"
            let e = throws<AggregateException> (fun () -> env.Client.PauseScheduleAsync("paused").Result |> ignore)
            Expect.stringContains e.InnerException.Message "'paused'" "an unknown schedule is named"
        }
        test "replacing a schedule keeps its name and takes the new cron" {
            use env = envOn kind
            schedule env "twice" "0 2 * * *" "UTC" (ScheduleOptions()) |> ignore
            let s = schedule env "twice" "30 3 * * *" "UTC" (ScheduleOptions())
            Expect.equal s.NextTick (Nullable(utc "2026-01-01T03:30:00Z")) "the new cron"
            Expect.equal (env.Client.ListSchedulesAsync().Result.Count) 1 "one schedule"
        }
    ]

let private badInput =
    test "a bad name, cron expression or time zone is rejected with the bad value named" {
        use env = env ()
        let rejected name cron zone =
            let e = throws<ArgumentException> (fun () ->
                env.Client.ScheduleAsync(name, cron, nightly, [ 1 ], zone).GetAwaiter().GetResult() |> ignore)
            e.Message
        Expect.stringContains (rejected "n" "0 2 * *" "UTC") "'0 2 * *'" "a cron with four fields"
        Expect.stringContains (rejected "n" "0 25 * * *" "UTC") "'0 25 * * *'" "an hour out of range"
        Expect.stringContains (rejected "n" "0 2 * * *" "Mars/Olympus") "'Mars/Olympus'" "an unknown zone"
        Expect.stringContains (rejected "my schedule" "0 2 * * *" "UTC") "'my schedule'" "a name with a space"
        Expect.isEmpty (env.Client.ListSchedulesAsync().Result) "nothing stored"
    }

/// Two worker processes fire an every-second schedule; one is killed with SIGKILL and replaced, then both are killed
/// and the workers stay down for 8 seconds before two new ones start. Every tick runs once as its own execution;
/// while a worker ran no tick was lost; of the ticks missed during the outage at most one ran (RunOnce).
let private workersAndOutage spec (store: IWorkStore) =
    let log = Path.Combine(Path.GetTempPath(), $"stent-sched-{Guid.NewGuid():N}")
    let client = StentClient(store)
    let options = ScheduleOptions(MissedAfter = Duration.Parse "2s")
    client.ScheduleAsync("every-second", "* * * * * *", Stent.TestWorker.CrashBatch.Workflow, [| 1; 2; 3 |], "UTC",
                         options).Wait()
    let count () = (ticksOf store "every-second").Length
    let procs = Collections.Generic.List<Process>([ for _ in 1..2 -> startWorker spec log [] ])
    let now () = DateTimeOffset.UtcNow
    try
        waitUntil "four ticks" 30.0 (fun () -> count () >= 4)
        stopAll [ procs[0] ]
        procs.Add(startWorker spec log [])
        let before = count ()
        waitUntil "four more ticks after a kill" 30.0 (fun () -> count () >= before + 4)
        stopAll procs
        let down = now ()
        Thread.Sleep 8000
        let up = now ()
        procs.Add(startWorker spec log [])
        procs.Add(startWorker spec log [])
        let before = count ()
        waitUntil "three ticks after the outage" 30.0 (fun () -> count () >= before + 3)
        client.PauseScheduleAsync("every-second").Wait()
        let all () = store.ListExecutionsAsync(ExecutionFilter(Limit = 100_000)).Result
        waitUntil "every tick's execution completes" 60.0 (fun () ->
            all () |> Seq.forall (fun e -> e.State = ExecutionState.Completed))
        let ticks = ticksOf store "every-second"
        Expect.equal (all () |> Seq.length) ticks.Length "every execution is a tick's"
        for e in all () do Expect.equal e.Output "12" $"{e.Id} ran its workflow"
        let second = TimeSpan.FromSeconds 1.0
        let gaps = List.pairwise ticks |> List.filter (fun (a, b) -> b - a <> second)
        Expect.isLessThanOrEqual gaps.Length 2 $"ticks are contiguous except around the outage: {gaps}"
        for a, b in gaps do
            Expect.isTrue (a >= down - 2.0 * second && b <= up + 3.0 * second)
                $"the gap {a:o} .. {b:o} is in the outage"
        let missed = ticks |> List.filter (fun t -> t > down + second && t < up - 2.0 * second)
        Expect.isLessThanOrEqual missed.Length 1 $"of the ticks missed in the outage at most one ran: {missed}"
    finally
        stopAll procs

let tests =
    testList "Schedules" [
        testList "Each store" [ for kind in storeKinds -> single kind ]
        badInput
        testSequenced <| testList "Worker processes" [
            yield! onStores "two worker processes, kills and an outage: each tick of an every-second schedule runs once"
                       workersAndOutage
        ]
    ]
