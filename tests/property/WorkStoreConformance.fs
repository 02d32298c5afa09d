/// The distributed-execution conformance suite: the same tests against every IWorkStore (in-memory, SQLite, PostgreSQL).
module WorkStoreConformance

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
open Stent.Sqlite
open Stent.Storage
open Support

/// A store kind: `fresh ()` makes an empty database and returns a function that opens a store on it (again after a "restart").
type Kind = { Name: string; Fresh: unit -> (unit -> IWorkStore) }


let kinds : Kind list =
    [ { Name = "in-memory"; Fresh = fun () -> let s = SqliteWorkStore.InMemory() in fun () -> s :> IWorkStore }
      { Name = "SQLite"; Fresh = fun () ->
          let path = Path.Combine(Path.GetTempPath(), $"stent-test-{Guid.NewGuid():N}.db")
          fun () -> new SqliteWorkStore(path) :> IWorkStore }
      { Name = "PostgreSQL"; Fresh = fun () ->
          if String.IsNullOrEmpty pg then skiptest "STENT_PG is not set: run the tests with scripts/test.sh, which starts PostgreSQL"
          let schema = "w_" + Guid.NewGuid().ToString("N").Substring(0, 12)
          fun () -> new Stent.Marten.PostgresWorkStore(pg, schema) :> IWorkStore } ]

/// A real store whose step completions fail until `healthyAt` (a database that is down for a while), whose decision
/// commits each take at least `commitDelay` more, whose claims after the first take `claimDelay` more, and that counts
/// whole-stream reads (what a worker does to learn an execution's functions), decisions claimed and calls recording
/// step outcomes apart from a decision.
type private Observed(inner: IWorkStore, healthyAt: DateTime, ?commitDelay: TimeSpan, ?claimDelay: TimeSpan) =
    let reads = ref 0
    let claimed = ref 0
    let completions = ref 0
    let claims = ref 0
    let delayedClaims = ref 0
    member _.Reads = reads.Value
    member _.DecisionsClaimed = claimed.Value
    member _.Completions = completions.Value
    /// Claims held up by `claimDelay` right now.
    member _.ClaimsHeldUp = Volatile.Read(&delayedClaims.contents)
    /// Claims asked for so far.
    member _.Claims = Volatile.Read(&claims.contents)
    interface IWorkStore with
        member _.CreateExecutionAsync(e, ct) = inner.CreateExecutionAsync(e, ct)
        member _.GetExecutionAsync(id, ct) = inner.GetExecutionAsync(id, ct)
        member _.ListExecutionsAsync(f, ct) = inner.ListExecutionsAsync(f, ct)
        member _.ReadAsync(id, ct) =
            Interlocked.Increment reads |> ignore
            inner.ReadAsync(id, ct)
        member _.ReadAfterAsync(id, after, ct) = inner.ReadAfterAsync(id, after, ct)
        member _.ClaimAsync(q, ct) =
            task {
                match claimDelay with
                | Some delay when Interlocked.Increment claims > 1 ->
                    Interlocked.Increment delayedClaims |> ignore
                    try do! Task.Delay(delay, CancellationToken.None)
                    finally Interlocked.Decrement delayedClaims |> ignore
                | _ -> ()
                let! r = inner.ClaimAsync(q, ct)
                Interlocked.Add(claimed, r.Decisions.Count) |> ignore
                return r
            }
        member _.CommitDecisionAsync(d, ct) =
            match commitDelay with
            | Some delay ->
                task {
                    do! Task.Delay(delay, ct)
                    return! inner.CommitDecisionAsync(d, ct)
                }
            | None -> inner.CommitDecisionAsync(d, ct)
        member _.CompleteStepsAsync(o, ct) =
            Interlocked.Increment completions |> ignore
            if DateTime.UtcNow < healthyAt then raise (IOException "the database is down") else inner.CompleteStepsAsync(o, ct)
        member _.RenewLeasesAsync(s, l, ct) = inner.RenewLeasesAsync(s, l, ct)
        member _.ReleaseStepsAsync(s, ct) = inner.ReleaseStepsAsync(s, ct)
        member _.SignalAsync(id, n, p, ct) = inner.SignalAsync(id, n, p, ct)
        member _.CancelAsync(id, ct) = inner.CancelAsync(id, ct)
        member _.ListDeadLettersAsync(n, ct) = inner.ListDeadLettersAsync(n, ct)
        member _.GetDeadLetterAsync(id, ct) = inner.GetDeadLetterAsync(id, ct)
        member _.DiscardDeadLetterAsync(id, ct) = inner.DiscardDeadLetterAsync(id, ct)
        member _.DeleteEndedAsync(age, ct) = inner.DeleteEndedAsync(age, ct)
        member _.AnnounceWorkerAsync(w, ct) = inner.AnnounceWorkerAsync(w, ct)
        member _.ListWorkersAsync(within, ct) = inner.ListWorkersAsync(within, ct)
        member _.ChangeScheduleAsync(name, change, ct) = inner.ChangeScheduleAsync(name, change, ct)
        member _.ListSchedulesAsync ct = inner.ListSchedulesAsync ct
        member _.FireSchedulesAsync(plan, ct) = inner.FireSchedulesAsync(plan, ct)
        member _.RoundTrips = inner.RoundTrips

let private newExec id = NewExecution(id, "wf", 1, "null", null, TimeSpan.Zero, Nullable(), null, [], 0)

/// Creates an execution and commits a first decision that schedules `count` steps of `name` (cap and rate optional).
let private scheduleLimited (store: IWorkStore) id name (cap: int option) (rate: int option) count =
    store.CreateExecutionAsync(newExec id).Wait()
    let claim = store.ClaimAsync(ClaimRequest("setup", 1, 0, TimeSpan.FromMinutes 1.0)).Result
    let d = claim.Decisions |> Seq.find (fun d -> d.ExecutionId = id)
    let steps = [ for i in 0 .. count - 1 -> NewStep($"{i}", name, $"{i}", null, [], 0, Option.toNullable cap, Option.toNullable rate) ]
    let commit =
        DecisionCommit(id, d.LeaseToken, d.Version, [ DecisionCompleted 1 ], ExecutionState.Running, Steps = steps)
    let ok = store.CommitDecisionAsync(commit).Result.Accepted
    Expect.isTrue ok "setup decision committed"

let private scheduleSteps store id name cap count = scheduleLimited store id name cap None count

/// A workflow that runs `step` on every item of its input and sums the results.
let private summing name (step: Durable<int, int>) =
    Workflow.define name (fun (xs: int list) -> xs |> Workflow.traverse step.Call |> Workflow.map List.sum)

/// Dispatches `input` to `wf` on `count` workers made with `options`, and waits for its end: its id and its result.
let private runToEnd count store options (wf: WorkflowDef<'I, 'O>) (input: 'I) =
    withWorkers count store options (fun w -> w.Register wf) (fun c -> task {
        let! id = c.DispatchAsync(wf, input)
        let! r = c.WaitAsync(wf, id, TimeSpan.FromSeconds 60.0)
        return id, r })

let private completed (s: StepTask) = StepOutcome(LeasedStep(s.Id, s.LeaseToken), StepCompleted(s.Position, "1", null, s.Attempt))

let private suite kind =
    let fresh () = (kind.Fresh ()) ()
    testList kind.Name [
        test "a decision at a stale version or after losing its lease is rejected" {
            let store = fresh ()
            store.CreateExecutionAsync(newExec "e").Wait()
            let d = (store.ClaimAsync(ClaimRequest("a", 1, 0, TimeSpan.FromMinutes 1.0)).Result).Decisions[0]
            let commit v token = DecisionCommit("e", token, v, [ DecisionCompleted 1 ], ExecutionState.Running)
            Expect.isFalse (store.CommitDecisionAsync(commit 5L d.LeaseToken).Result.Accepted) "stale version"
            Expect.isFalse (store.CommitDecisionAsync(commit 1L (d.LeaseToken + 1000L)).Result.Accepted) "wrong lease"
            Expect.isTrue (store.CommitDecisionAsync(commit 1L d.LeaseToken).Result.Accepted) "right version and lease"
            Expect.isFalse (store.CommitDecisionAsync(commit 1L d.LeaseToken).Result.Accepted) "a lease is used once"
            Expect.equal (store.ReadAsync("e").Result.Count) 2 "one append"
            Expect.equal (store.ReadAfterAsync("e", 1L).Result |> List.ofSeq |> List.map string) [ string (DecisionCompleted 1) ] "reads after a version"
            Expect.isEmpty (store.ReadAfterAsync("e", 2L).Result) "nothing after the end"
        }
        test "a decision of more events than one command carries appends them all, in order; a stale one writes none" {
            let store = fresh ()
            store.CreateExecutionAsync(newExec "e").Wait()
            let d = (store.ClaimAsync(ClaimRequest("a", 1, 0, TimeSpan.FromMinutes 1.0)).Result).Decisions[0]
            let events : HistoryEvent list =
                [ for i in 0 .. 599 -> StepScheduled($"{i}", "f", $"{i}") ] @ [ DecisionCompleted 1 ]
            let commit v = DecisionCommit("e", d.LeaseToken, v, events, ExecutionState.Running)
            Expect.isFalse (store.CommitDecisionAsync(commit 0L).Result.Accepted) "a stale version is refused"
            Expect.equal (store.ReadAsync("e").Result.Count) 1 "and wrote no event"
            Expect.isTrue (store.CommitDecisionAsync(commit 1L).Result.Accepted) "the right version is accepted"
            let stored = store.ReadAsync("e").Result |> List.ofSeq
            Expect.equal (List.map string stored.Tail) (List.map string events) "every event, in order"
        }
        test "eight concurrent claimers never get the same step" {
            let store = fresh ()
            scheduleSteps store "e" "work" None 200
            let seen = ConcurrentBag<int64>()
            let claimer i = Task.Run(fun () ->
                let mutable go = true
                while go do
                    let c = store.ClaimAsync(ClaimRequest($"c{i}", 0, 7, TimeSpan.FromMinutes 1.0)).Result
                    if c.Steps.Count = 0 then go <- false
                    for s in c.Steps do seen.Add s.Id)
            Task.WaitAll [| for i in 1..8 -> claimer i |]
            Expect.equal seen.Count 200 "every step claimed"
            Expect.equal (seen |> Seq.distinct |> Seq.length) 200 "none twice"
        }
        test "a decision claims the new steps it is asked to in its commit; only those, for its worker" {
            let store = fresh ()
            let minute = TimeSpan.FromMinutes 1.0
            store.CreateExecutionAsync(newExec "s").Wait()
            let d = (store.ClaimAsync(ClaimRequest("a", 1, 0, minute)).Result).Decisions[0]
            let steps = [ for p in [ "0"; "1" ] -> NewStep(p, "f", p, null, [], 0, Nullable()) ]
            let commit =
                DecisionCommit("s", d.LeaseToken, d.Version, [ DecisionCompleted 1 ], ExecutionState.Running,
                               Steps = steps, Claim = StepClaim("a", minute, [ "0" ]))
            let r = store.CommitDecisionAsync(commit).Result
            Expect.isTrue r.Accepted "committed"
            Expect.equal [ for s in r.Claimed -> s.Position, s.Attempt ] [ "0", 1 ] "the step asked for, first attempt"
            let others = store.ClaimAsync(ClaimRequest("b", 0, 10, minute)).Result
            Expect.equal [ for s in others.Steps -> s.Position ] [ "1" ] "another worker gets only the other step"
            let lease = LeasedStep(r.Claimed[0].Id, r.Claimed[0].LeaseToken)
            Expect.isEmpty (store.RenewLeasesAsync([ lease ], minute).Result) "its lease is held"
        }
        test "a commit without a lease records its steps' outcomes with the next decision, unless something came in" {
            let store = fresh ()
            let minute = TimeSpan.FromMinutes 1.0
            let start id =
                store.CreateExecutionAsync(newExec id).Wait()
                let claimed = store.ClaimAsync(ClaimRequest("a", 10, 0, minute)).Result
                let d = claimed.Decisions |> Seq.find (fun d -> d.ExecutionId = id)
                let commit =
                    DecisionCommit(id, d.LeaseToken, d.Version, [ StepScheduled("0", "f", "1"); DecisionCompleted 1 ],
                                   ExecutionState.Running, Steps = [ NewStep("0", "f", "1", null, [], 0, Nullable()) ],
                                   Claim = StepClaim("a", minute, [ "0" ]))
                d.Version + 2L, (store.CommitDecisionAsync(commit).Result).Claimed[0]
            let done' = StepCompleted("0", "2", null, 1)
            let goOn id version (step: StepTask) token =
                let outcome = StepOutcome(LeasedStep(step.Id, token), done')
                let commit =
                    DecisionCommit(id, 0L, version, [ done'; DecisionCompleted 2 ], ExecutionState.Running,
                                   Optimistic = true, Outcomes = [ outcome ])
                (store.CommitDecisionAsync(commit).Result).Accepted
            let v, step = start "quiet"
            Expect.isFalse (goOn "quiet" v step (step.LeaseToken + 1L)) "refused with a step lease it does not hold"
            Expect.isFalse (goOn "quiet" (v - 1L) step step.LeaseToken) "refused at a stale version"
            Expect.isTrue (goOn "quiet" v step step.LeaseToken) "accepted: nothing came in"
            Expect.equal (store.ReadAfterAsync("quiet", v).Result |> Seq.map string |> List.ofSeq)
                [ string done'; string (DecisionCompleted 2) ] "outcome and decision appended together"
            let lease = LeasedStep(step.Id, step.LeaseToken)
            Expect.equal (List.ofSeq (store.RenewLeasesAsync([ lease ], minute).Result)) [ lease ] "the step is gone"
            let v, step = start "signalled"
            store.SignalAsync("signalled", "go", "1").Wait()
            Expect.isFalse (goOn "signalled" v step step.LeaseToken) "refused while a signal waits in the inbox"
            let outcome = StepOutcome(LeasedStep(step.Id, step.LeaseToken), done')
            Expect.equal (List.ofSeq (store.CompleteStepsAsync([ outcome ]).Result)) [ true ]
                "the refused commit wrote nothing: the outcome is recorded the usual way"
            let v, step = start "leased"
            Expect.isEmpty (store.ClaimAsync(ClaimRequest("c", 10, 0, minute)).Result).Decisions "nothing to decide yet"
            store.CancelAsync("leased").Wait()
            let taken = (store.ClaimAsync(ClaimRequest("c", 10, 0, minute)).Result).Decisions
            Expect.equal [ for d in taken -> d.ExecutionId ] [ "leased" ] "another worker claims it to cancel it"
            Expect.isFalse (goOn "leased" v step step.LeaseToken) "refused while another worker leases the execution"
        }
        test "down a chain the next step takes the recorded step's row, as a first attempt under a new lease" {
            let store = fresh ()
            let minute = TimeSpan.FromMinutes 1.0
            store.CreateExecutionAsync(newExec "c").Wait()
            let d = (store.ClaimAsync(ClaimRequest("a", 1, 0, minute)).Result).Decisions[0]
            let first =
                (store.CommitDecisionAsync(
                    DecisionCommit("c", d.LeaseToken, d.Version, [ StepScheduled("0", "f", "1"); DecisionCompleted 1 ],
                                   ExecutionState.Running, Steps = [ NewStep("0", "f", "1", null, [], 0, Nullable()) ],
                                   Claim = StepClaim("a", TimeSpan.FromMilliseconds 200.0, [ "0" ])))
                    .Result).Claimed[0]
            Thread.Sleep 400
            let taken = (store.ClaimAsync(ClaimRequest("b", 0, 1, minute)).Result).Steps[0]
            Expect.equal (taken.Id, taken.Attempt, taken.Lost) (first.Id, 2, 1) "its lease expired: b runs it again"
            let done' = StepCompleted("0", "2", null, 2)
            let goOn (step: StepTask) worker =
                store.CommitDecisionAsync(
                    DecisionCommit("c", 0L, d.Version + 2L, [ done'; DecisionCompleted 2 ], ExecutionState.Running,
                                   Optimistic = true, Outcomes = [ StepOutcome(step.Lease, done') ],
                                   Steps = [ NewStep("1", "g", "2", null, [], 0, Nullable()) ],
                                   Claim = StepClaim(worker, minute, [ "1" ]))).Result
            Expect.isFalse (goOn first "a").Accepted "the worker that lost the lease records nothing"
            Expect.isEmpty (store.RenewLeasesAsync([ taken.Lease ], minute).Result) "the row is still b's step's"
            let next = goOn taken "b"
            Expect.isTrue next.Accepted "b records the outcome with the next decision"
            let step = next.Claimed[0]
            Expect.equal (step.Id, step.Position, step.Name, step.Input, step.Attempt, step.Lost)
                (first.Id, "1", "g", "2", 1, 0) "the next step has the row, as a first attempt"
            Expect.equal (List.ofSeq (store.RenewLeasesAsync([ taken.Lease; step.Lease ], minute).Result))
                [ taken.Lease ] "the recorded step's lease is gone, the next one's held"
            Expect.isEmpty (store.ClaimAsync(ClaimRequest("x", 0, 10, minute)).Result).Steps "no one else can take it"
        }
        test "an expired lease is handed over and the late worker's outcome is rejected" {
            let store = fresh ()
            scheduleSteps store "e" "work" None 1
            let first = (store.ClaimAsync(ClaimRequest("slow", 0, 1, TimeSpan.FromMilliseconds 200.0)).Result).Steps[0]
            Expect.isEmpty (store.ClaimAsync(ClaimRequest("fast", 0, 1, TimeSpan.FromMinutes 1.0)).Result).Steps "not while leased"
            Thread.Sleep 400
            let renewed = store.RenewLeasesAsync([ first.Lease ], TimeSpan.FromMinutes 1.0).Result
            Expect.equal (List.ofSeq renewed) [ first.Lease ] "renewal after expiry fails"
            let second = (store.ClaimAsync(ClaimRequest("fast", 0, 1, TimeSpan.FromMinutes 1.0)).Result).Steps[0]
            Expect.equal second.Id first.Id "same step"
            let lost = store.RenewLeasesAsync([ first.Lease; second.Lease ], TimeSpan.FromMinutes 1.0).Result
            Expect.equal (List.ofSeq lost) [ first.Lease ] "of two leases of one step id, the one taken over is lost"
            Expect.equal (second.Attempt, second.Lost) (2, 1) "a new run, the lost one counted apart"
            Expect.equal (List.ofSeq (store.CompleteStepsAsync([ completed first ]).Result)) [ false ] "late write rejected"
            Expect.equal (List.ofSeq (store.CompleteStepsAsync([ completed second ]).Result)) [ true ] "current holder accepted"
        }
        test "a step handed back is claimed again at once as the same attempt; a stale hand-back changes nothing" {
            let store = fresh ()
            scheduleSteps store "e" "work" None 1
            let claim worker = (store.ClaimAsync(ClaimRequest(worker, 0, 1, TimeSpan.FromMinutes 1.0)).Result).Steps
            let first = (claim "stopping")[0]
            store.ReleaseStepsAsync([ LeasedStep(first.Id, first.LeaseToken ^^^ 1L) ]).Wait()
            Expect.isEmpty (claim "next") "a hand-back with another lease token releases nothing"
            store.ReleaseStepsAsync([ LeasedStep(first.Id, first.LeaseToken) ]).Wait()
            let second = (claim "next")[0]
            Expect.equal (second.Id, second.Attempt) (first.Id, 1) "the same step, as the same attempt"
            let accepted = List.ofSeq (store.CompleteStepsAsync([ completed first ]).Result)
            Expect.equal accepted [ false ] "the old outcome is rejected"
        }
        test "an idle worker's claims commit nothing until work is ready, and then claim it at once" {
            let store = fresh ()
            let relational = store :?> Stent.Storage.Relational.RelationalWorkStore
            let claim () = store.ClaimAsync(ClaimRequest("idle", 4, 4, TimeSpan.FromMinutes 1.0)).Result
            Expect.isEmpty (claim ()).Decisions "nothing to claim"
            let commits = relational.Commits
            for _ in 1..5 do Expect.isEmpty (claim ()).Decisions "still nothing"
            Expect.equal relational.Commits commits "no empty claim committed (a read looked first)"
            store.CreateExecutionAsync(newExec "ready").Wait()
            Expect.equal [ for d in (claim ()).Decisions -> d.ExecutionId ] [ "ready" ] "new work is claimed at once"
        }
        test "the time a store spends in database calls grows with each call and never exceeds the calls' own" {
            let store = fresh ()
            let relational = store :?> Stent.Storage.Relational.RelationalWorkStore
            store.CreateExecutionAsync(newExec "first").Wait()
            let timed (call: unit -> unit) =
                let before = relational.DatabaseTime
                let watch = Diagnostics.Stopwatch.StartNew()
                call ()
                let spent = relational.DatabaseTime - before
                watch.Stop()
                Expect.isGreaterThan spent TimeSpan.Zero "the call's database time is counted"
                Expect.isLessThanOrEqual spent watch.Elapsed "no more than the call took"
            timed (fun () -> store.CreateExecutionAsync(newExec "second").Wait())
            timed (fun () -> store.ReadAsync("second").Result |> ignore)
            timed (fun () -> store.ClaimAsync(ClaimRequest("w", 4, 4, TimeSpan.FromMinutes 1.0)).Result |> ignore)
        }
        test "a claim that takes capped work costs the round trips of one that finds nothing" {
            let store = fresh ()
            scheduleLimited store "e" "capped_trips" (Some 2) (Some 100) 3
            let trips f =
                let before = store.RoundTrips
                let claimed = f ()
                store.RoundTrips - before, claimed
            let claim () = (store.ClaimAsync(ClaimRequest("w", 0, 3, TimeSpan.FromMinutes 1.0)).Result).Steps.Count
            let capped, taken = trips claim
            let empty, none = trips claim
            Expect.equal (taken, none) (2, 0) "the cap let two through, then nothing"
            Expect.equal capped empty "caps, rate window, ranking and the claim itself are one command"
        }
        test "the concurrency cap holds under racing claims, and capped backlog never blocks other work" {
            for round in 1..10 do
                let store = fresh ()
                scheduleSteps store $"capped{round}" "capped" (Some 3) 40
                scheduleSteps store $"free{round}" "free" None 10
                let running = ConcurrentDictionary<int64, unit>()
                let mutable peak = 0
                let mutable freeClaimed = 0
                let gate = obj ()
                let claimer i = Task.Run(fun () ->
                    let mutable idle = 0
                    while idle < 3 do
                        let c = store.ClaimAsync(ClaimRequest($"c{i}", 0, 2, TimeSpan.FromMinutes 1.0)).Result
                        if c.Steps.Count = 0 then idle <- idle + 1; Thread.Sleep 5
                        for s in c.Steps do
                            if s.Name = "capped" then
                                running[s.Id] <- ()
                                lock gate (fun () -> peak <- max peak running.Count)
                            else Interlocked.Increment(&freeClaimed) |> ignore
                        Thread.Sleep 2
                        for s in c.Steps do
                            if s.Name = "capped" then running.TryRemove s.Id |> ignore
                            store.CompleteStepsAsync([ completed s ]).Wait())
                Task.WaitAll [| for i in 1..4 -> claimer i |]
                Expect.isLessThanOrEqual peak 3 $"round {round}: cap held"
                Expect.equal freeClaimed 10 $"round {round}: uncapped work ran"
        }
        test "a per-second rate limit holds across racing claimers, and rate-limited backlog never blocks other work" {
            let store = fresh ()
            scheduleLimited store "limited" "limited" None (Some 10) 30
            scheduleSteps store "free" "free" None 10
            let claims = ConcurrentBag<TimeSpan * string>()
            let watch = Diagnostics.Stopwatch.StartNew()
            let claimer i = Task.Run(fun () ->
                while claims.Count < 40 && watch.Elapsed < TimeSpan.FromSeconds 15.0 do
                    let c = store.ClaimAsync(ClaimRequest($"c{i}", 0, 4, TimeSpan.FromMinutes 1.0)).Result
                    let at = watch.Elapsed
                    for s in c.Steps do
                        claims.Add((at, s.Name))
                        store.CompleteStepsAsync([ completed s ]).Wait()
                    if c.Steps.Count = 0 then Thread.Sleep 20)
            Task.WaitAll [| for i in 1..3 -> claimer i |]
            let limited = claims |> Seq.filter (fun (_, n) -> n = "limited") |> Seq.map fst |> Seq.sort |> List.ofSeq
            Expect.equal limited.Length 30 "every limited step ran"
            Expect.equal (claims |> Seq.filter (fun (_, n) -> n = "free") |> Seq.length) 10 "other work ran"
            let first = List.head limited
            // Claims are timed when they return (the store's windows start at its claim statements): allow 100 ms of latency.
            Expect.isLessThanOrEqual (limited |> List.filter (fun t -> t < first + TimeSpan.FromSeconds 0.9) |> List.length) 10 "at most 10 in the first second"
            Expect.isGreaterThanOrEqual (List.last limited - first) (TimeSpan.FromSeconds 1.9) "30 starts at 10 a second take at least three windows"
        }
        test "a fan-out of 1,000 items is stored 16 items a row, each item run once with its own outcome" {
            let store = fresh ()
            let calls = Calls()
            let step = Durable.createSync $"{kind.Name}-batched" (fun (x: int) ctx -> calls.Hit ctx; x * 2)
            let id, r = runToEnd 2 store opts (summing "batched" step) [ 1..1000 ]
            Expect.equal (value r) (1000 * 1001) "every item's result"
            Expect.equal calls.Total 1000 "each item ran once"
            let events = store.ReadAsync(id).Result
            let count f = events |> Seq.filter f |> Seq.length
            Expect.equal (count (fun e -> e :? StepScheduled)) 1000 "read one by one: a scheduled event per item"
            Expect.equal (count (fun e -> e :? StepCompleted)) 1000 "and a completion per item"
            let stored = store.ReadAfterAsync(id, 0L).Result
            let batches = [ for e in stored do match e with :? EventBatch as b -> b.Events.Count | _ -> () ]
            // ceil(1000 / 64) = 16 items a batch: 63 batches (the last of 8), scheduled and completed.
            Expect.equal (List.length batches) 126 "63 batches scheduled, 63 completed"
            Expect.equal (List.max batches) 16 "of 16 items at most"
            Expect.isLessThan stored.Count 200 "2,000 step events stored in fewer than 200 (batches, decisions)"
        }
        test "an item of a batch whose attempt fails is retried alone; the other items run once" {
            let store = fresh ()
            let runs = ConcurrentDictionary<int, int>()
            let retry = DurableOptions(Retry = RetryPolicy.Fixed(3, Duration.Parse "10ms"))
            let step = Durable.createSyncWith retry $"{kind.Name}-flaky-item" (fun (x: int) _ ->
                let n = runs.AddOrUpdate(x, 1, fun _ n -> n + 1)
                if x = 77 && n < 3 then invalidOp $"item {x}: try again"
                x)
            let id, r = runToEnd 1 store opts (summing "flaky_items" step) [ 1..200 ]
            Expect.equal (value r) (200 * 201 / 2) "every item's result"
            Expect.equal runs[77] 3 "the failing item ran three times"
            let others = runs |> Seq.filter (fun kv -> kv.Key <> 77) |> Seq.sumBy (fun kv -> kv.Value)
            Expect.equal others 199 "every other item ran once"
            let events = List.ofSeq (store.ReadAsync(id).Result)
            let failed = [ for e in events do match e with :? StepAttemptFailed as f -> f.Attempt | _ -> () ]
            Expect.equal failed [ 1; 2 ] "two failed attempts recorded"
            let attempts =
                [ for e in events do match e with :? StepCompleted as c when c.Attempt <> 1 -> c.Attempt | _ -> () ]
            Expect.equal attempts [ 3 ] "one item completed on its third attempt, the rest on their first"
        }
        test "an item of a batch that fails for good is dead-lettered alone, with its own input" {
            let store = fresh ()
            let runs = ConcurrentDictionary<int, int>()
            let name = $"{kind.Name}-bad-item"
            let step = Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.None)) name (fun (x: int) _ ->
                runs.AddOrUpdate(x, 1, fun _ n -> n + 1) |> ignore
                if x = 13 then invalidOp $"item {x} is corrupt"
                x)
            let wf = Workflow.define "bad_item" (fun (xs: int list) ->
                xs |> Workflow.traverseAll step.Call |> Workflow.map (List.filter Result.isError >> List.length))
            let _, r = runToEnd 1 store opts wf [ 1..200 ]
            Expect.equal (value r) 1 "one item failed"
            Expect.equal (runs.Values |> Seq.sum) 200 "each item ran once"
            let dead = store.ListDeadLettersAsync().Result
            Expect.equal [ for d in dead -> d.Input, d.Name ] [ "13", name ] "one dead letter: that item's"
            Expect.stringContains dead[0].Failure.Error.Message "item 13 is corrupt" "with its error"
        }
        test "a batch whose worker was lost runs again item by item, each item once more" {
            let store = fresh ()
            let calls = Calls()
            // On a queue the deciding worker does not serve, so a doomed claim can take the batches first.
            let far = DurableOptions(Queue = "far")
            let step = Durable.createSyncWith far $"{kind.Name}-orphaned" (fun (x: int) ctx -> calls.Hit ctx; x)
            let wf = summing "orphaned" step
            let near w = WorkerOptions(WorkerId = w, Serializer = Json.serializer, Queues = [| "near" |])
            let id = withWorkers 1 store near (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, [ 1..200 ])
                let scheduled () = store.ReadAsync(id).Result |> Seq.exists (fun e -> e :? StepScheduled)
                waitUntil "the fan-out is scheduled" 20.0 scheduled
                return id })
            let claim = ClaimRequest("doomed", 0, 1000, TimeSpan.FromMilliseconds 100.0, Queues = [| "far" |])
            let doomed = store.ClaimAsync(claim).Result
            Expect.equal [ for s in doomed.Steps -> s.Items ] (List.replicate 50 4)
                "50 batches of 4 items, all taken by a worker that dies"
            Thread.Sleep 300
            let wait (c: StentClient) = c.WaitAsync(wf, id, TimeSpan.FromSeconds 60.0)
            let r = withWorkers 1 store opts (fun w -> w.Register wf) wait
            Expect.equal (value r) (200 * 201 / 2) "every item's result"
            Expect.equal calls.Total 200 "each item ran once (the dead worker ran none)"
            let stored = store.ReadAfterAsync(id, 0L).Result
            // A batch's outcomes are stored as a batch of outcomes alone; a decision's events end with its marker.
            let batchOutcome (e: HistoryEvent) =
                match e with
                | :? EventBatch as b -> b.Events |> Seq.forall (fun e -> e :? StepCompleted || e :? StepFailed)
                | _ -> false
            Expect.isFalse (stored |> Seq.exists batchOutcome) "each item ran as a step of its own"
            Expect.equal (HistoryEvent.Flatten stored |> Seq.filter (fun e -> e :? StepCompleted) |> Seq.length) 200
                "each item's outcome recorded once"
            let attempts =
                [ for e in store.ReadAsync(id).Result do match e with :? StepCompleted as c -> c.Attempt | _ -> () ]
            Expect.equal (List.distinct attempts) [ 1 ] "the lost run does not count against its retry policy"
        }
        test "a long batch records the items it finished as it goes, at least every second" {
            let store = fresh ()
            let calls = Calls()
            let slow =
                Durable.createSync $"{kind.Name}-slow-item" (fun (x: int) ctx -> calls.Hit ctx; Thread.Sleep 250; x)
            let options w = WorkerOptions(WorkerId = w, Serializer = Json.serializer, MaxBatchSize = 10,
                                          MinBatchPieces = 1, PollMax = TimeSpan.FromMilliseconds 50.0)
            let id, r = runToEnd 1 store options (summing "slow_batch" slow) [ 1..10 ]
            Expect.equal (value r) 55 "every item's result"
            Expect.equal calls.Total 10 "each item ran once"
            let stored = store.ReadAfterAsync(id, 0L).Result
            let batches = [ for e in stored do match e with :? EventBatch as b -> b | _ -> () ]
            let parts = [ for b in batches do if b.Events[0] :? StepCompleted then b.Events.Count ]
            Expect.equal (batches.Length - parts.Length) 1 "the ten items scheduled as one batch"
            Expect.isGreaterThanOrEqual parts.Length 2 $"its 2.5 s of work recorded in parts: %A{parts}"
            Expect.equal (List.sum parts) 10 "every item recorded once"
        }
        test "a workflow runs end to end on workers, with results, timeline and counters" {
            let store = fresh ()
            let calls = Calls()
            let step = Durable.createSync $"{kind.Name}-double" (fun (x: int) ctx -> calls.Hit ctx; x * 2)
            let wf = summing "double_all" step
            let r, details = withWorkers 2 store opts (fun w -> w.Register wf) (fun client -> task {
                let! id = client.DispatchAsync(wf, [ 1..50 ])
                let! r = client.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0)
                let! d = client.GetAsync id
                return r, d })
            Expect.equal (value r) 2550 "sum"
            Expect.equal details.Info.State ExecutionState.Completed "state"
            Expect.equal details.Steps.Count 50 "timeline"
            Expect.equal details.Counters["completed"] 50L "counters"
            Expect.equal calls.Total 50 "each step once"
        }
        test "a step's recorded start comes after the commit that scheduled it, also down a chain one worker runs" {
            // Each decision's commit takes 100 ms more: the next step cannot start sooner, and its record must say so
            // (a worker going on with an execution's chain once dated each step from the previous step's end). A
            // worker reads the store's clock once per claim, so a time may be off by as long as a claim takes: the
            // gap asked for is half the delay.
            let store = Observed(fresh (), DateTime.MinValue, TimeSpan.FromMilliseconds 100.0) :> IWorkStore
            let step = Durable.createSync $"{kind.Name}-next" (fun (x: int) _ -> x + 1)
            let wf = Workflow.define "chain_of_five" (fun (x: int) -> workflow {
                let! a = step.Call x
                let! b = step.Call a
                let! c = step.Call b
                let! d = step.Call c
                return! step.Call d })
            let r, details = withWorkers 1 store opts (fun w -> w.Register wf) (fun client -> task {
                let! id = client.DispatchAsync(wf, 0)
                let! r = client.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0)
                let! d = client.GetAsync id
                return r, d })
            Expect.equal (value r) 5 "five steps"
            let steps = details.Steps |> Seq.sortBy (fun s -> s.StartedAt.Value) |> List.ofSeq
            Expect.equal steps.Length 5 "timeline"
            for before, after in List.pairwise steps do
                let gap = after.StartedAt.Value - before.EndedAt.Value
                Expect.isGreaterThanOrEqual gap.TotalMilliseconds 50.0
                    $"step {after.Position} starts at least a commit after step {before.Position} ended (gap {gap})"
        }
        test "a worker goes on with a fan-out it decided: outcomes that come in apart are each folded by a decision" {
            // Each step waits for its gate, and the test opens the next gate only once the step before it is recorded:
            // the worker holds one outcome at a time, and each is recorded in one commit with a decision that folds
            // it, none apart from a decision and none by a claim. (Steps that slept apart once did this on timing
            // alone, which a loaded machine's thread pool defeats.)
            let store = Observed(fresh (), DateTime.MinValue)
            let gates = Array.init 7 (fun _ -> TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))
            let step = Durable.create $"{kind.Name}-gated" (fun (x: int) _ -> task {
                do! gates[x].Task
                return x })
            let wf = summing "gated" step
            let recorded id =
                (store :> IWorkStore).ReadAsync(id).Result |> Seq.filter (fun e -> e :? StepCompleted) |> Seq.length
            let r, decisions = withWorkers 1 store opts (fun w -> w.Register wf) (fun client -> task {
                let! id = client.DispatchAsync(wf, [ 1..6 ])
                for x in 1..6 do
                    gates[x].SetResult()
                    waitUntil $"step {x}'s outcome recorded" 30.0 (fun () -> recorded id = x)
                let! r = client.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0)
                let! events = (store :> IWorkStore).ReadAsync(id)
                return r, events |> Seq.filter (fun e -> e :? DecisionCompleted) |> Seq.length })
            Expect.equal (value r) 21 "every item's result"
            Expect.equal store.Completions 0 "no outcome recorded apart from a decision"
            Expect.equal store.DecisionsClaimed 1 "only the first decision was claimed"
            Expect.equal decisions 7 "the first decision, then one decision for each outcome"
        }
        test "a chain goes on from step to step on the worker's step thread, while the worker's loop waits on a claim" {
            // Every claim after the first takes 2 s: the worker's loop is held up in one while the chain runs. Each
            // step's outcome is recorded, the next step decided and claimed in one commit, and that step run, by the
            // thread that ran the step before it (once the loop took care of that, and waited on its claim).
            let store = Observed(fresh (), DateTime.MinValue, claimDelay = TimeSpan.FromSeconds 2.0)
            // For each step, the claim under way when it ran (0: none held up).
            let during = Collections.Concurrent.ConcurrentQueue<int>()
            let step = Durable.createSync $"{kind.Name}-link" (fun (x: int) _ ->
                during.Enqueue(if store.ClaimsHeldUp > 0 then store.Claims else 0)
                x + 1)
            let wf = Workflow.define "chain_of_ten" (fun (x: int) ->
                List.replicate 10 () |> List.fold (fun acc () -> acc |> Workflow.bind step.Call) (Workflow.ret x))
            let _, r = runToEnd 1 (store :> IWorkStore) opts wf 0
            Expect.equal (value r) 10 "ten steps"
            let inOneClaim =
                during |> Seq.filter (fun c -> c > 0) |> Seq.countBy id |> Seq.fold (fun m (_, n) -> max m n) 0
            Expect.isGreaterThanOrEqual inOneClaim 8
                $"the chain's steps ran while one claim held the loop up {List.ofSeq during}"
            Expect.equal store.Completions 0 "no outcome recorded apart from a decision"
            Expect.equal store.DecisionsClaimed 1 "only the first decision was claimed"
        }
        test "a step that fails for good becomes a dead letter; custom state shows in GetAsync" {
            let store = fresh ()
            let broken = Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.Fixed(2, Duration.Parse "10ms"))) $"{kind.Name}-broken" (fun (x: int) _ ->
                if x > 0 then invalidOp $"item {x} is corrupt"
                x)
            let wf = Workflow.define "with_state" (fun (x: int) -> workflow {
                do! Workflow.SetState("phase", "started") |> Workflow.ignore
                let! r = broken.Call x |> Workflow.attempt
                do! Workflow.SetState("phase", (match r with Ok _ -> "ok" | Error _ -> "recovered")) |> Workflow.ignore
                return 0 })
            let details = withWorkers 1 store opts (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, 5)
                let! _ = c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0)
                return! c.GetAsync id })
            Expect.equal details.CustomState["phase"] "\"recovered\"" "last value wins"
            let dead = store.ListDeadLettersAsync().Result
            Expect.equal dead.Count 1 "one dead letter"
            Expect.equal dead[0].Name $"{kind.Name}-broken" "names the function"
            Expect.equal dead[0].Input "5" "keeps the input"
            Expect.equal dead[0].Failure.Attempts 2 "after its last attempt"
            Expect.stringContains dead[0].Failure.Error.Message "item 5 is corrupt" "keeps the error"
        }
        test "the same idempotency key twice returns the same execution" {
            let store = fresh ()
            let wf = Workflow.define "noop" (fun (x: int) -> Workflow.ret x)
            let client = StentClient(store, Json.serializer)
            let a = client.DispatchAsync(wf, 1, DispatchOptions(IdempotencyKey = "k")).Result
            let b = client.DispatchAsync(wf, 2, DispatchOptions(IdempotencyKey = "k")).Result
            Expect.equal a b "same execution"
            Expect.equal (client.ListAsync().Result.Count) 1 "one execution"
        }
        test "dispatching the key of a failed execution resumes it: finished steps are reused, only the rest runs" {
            let store = fresh ()
            let runs = ConcurrentDictionary<int, int>()
            let broken = ConcurrentDictionary<int, bool>()
            let step = Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.None)) $"{kind.Name}-resumable" (fun (x: int) _ ->
                runs.AddOrUpdate(x, 1, fun _ n -> n + 1) |> ignore
                if broken.ContainsKey x then invalidOp $"item {x}: service down"
                x * 10)
            let wf = Workflow.define "resumable" (fun (xs: int list) -> workflow {
                let! batch = Workflow.newGuid
                let! rs = xs |> Workflow.traverseAll step.Call
                let failed = rs |> List.filter Result.isError |> List.length
                if failed > 0 then return! Workflow.fail $"{failed} failed"
                else return batch, rs |> List.sumBy (function Ok v -> v | Error _ -> 0) })
            for x in [ 3; 7 ] do broken[x] <- true
            let first, second, again, d1, d2, all = withWorkers 1 store opts (fun w -> w.Register wf) (fun c -> task {
                let! first = c.DispatchAsync(wf, [ 1..10 ], DispatchOptions(IdempotencyKey = "nightly"))
                let! r1 = c.WaitAsync(wf, first, TimeSpan.FromSeconds 30.0)
                Expect.equal (error r1).Message "2 failed" "the first run fails"
                broken.Clear()
                let! second = c.DispatchAsync(wf, [ 1..10 ], DispatchOptions(IdempotencyKey = "nightly"))
                let! r2 = c.WaitAsync(wf, second, TimeSpan.FromSeconds 30.0)
                let! again = c.DispatchAsync(wf, [ 1..10 ], DispatchOptions(IdempotencyKey = "nightly"))
                let! d1 = c.GetAsync first
                let! d2 = c.GetAsync second
                let! all = c.ListAsync()
                return first, (second, r2), again, d1, d2, all })
            let second, r2 = second
            Expect.notEqual second first "a new execution"
            Expect.equal (snd (value r2)) 550 "the resumed run completes"
            let h1 = store.ReadAsync(first).Result
            let guid1 = h1 |> Seq.pick (function :? ValueRecorded as v -> Some v.Value | _ -> None)
            Expect.equal (string (fst (value r2))) (guid1.Trim('"')) "recorded values are the same"
            Expect.equal again second "the key now names the resumed execution"
            Expect.equal d2.ResumedFrom first "reports what it resumed"
            Expect.equal d2.Counters["reused"] 8L "reports what was already done"
            Expect.equal d2.Counters["completed"] 2L "and ran only the rest"
            Expect.equal d1.Info.ResumedBy second "the old execution points to the new one"
            Expect.isNull d1.Info.IdempotencyKey "the key moved"
            Expect.equal all.Count 2 "two executions"
            for x in 1..10 do
                Expect.equal runs[x] (if x = 3 || x = 7 then 2 else 1) $"item {x} ran {runs[x]} times"
        }
        test "dead letters are shown, replayed by resuming their failed execution, and discarded" {
            let store = fresh ()
            let broken = ConcurrentDictionary<int, bool>()
            let step = Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.None)) $"{kind.Name}-dl" (fun (x: int) _ ->
                if broken.ContainsKey x then invalidOp $"item {x} is corrupt"
                x)
            let strict = Workflow.define "strict" (fun (xs: int list) -> xs |> Workflow.traverse step.Call |> Workflow.map List.sum)
            let lenient = Workflow.define "lenient" (fun (xs: int list) ->
                xs |> Workflow.traverseAll step.Call |> Workflow.map (List.sumBy (function Ok v -> v | Error _ -> 0)))
            broken[4] <- true
            withWorkers 1 store opts (fun w -> w.Register(strict).Register(lenient)) (fun c -> task {
                let! failed = c.DispatchAsync(strict, [ 1..5 ])
                let! r = c.WaitAsync(strict, failed, TimeSpan.FromSeconds 30.0)
                Expect.isFalse r.IsOk "fails on item 4"
                let! ok = c.DispatchAsync(lenient, [ 4; 5 ])
                let! r = c.WaitAsync(lenient, ok, TimeSpan.FromSeconds 30.0)
                Expect.equal (value r) 5 "carries on without item 4"
                let! letters = c.ListDeadLettersAsync()
                Expect.equal letters.Count 2 "two dead letters"
                let ofStrict = letters |> Seq.find (fun l -> l.ExecutionId = failed)
                let! shown = c.GetDeadLetterAsync ofStrict.Id
                Expect.equal (shown.Name, shown.Input, shown.Position) ($"{kind.Name}-dl", "4", ofStrict.Position) "shows function, input and position"
                Expect.stringContains shown.Failure.Error.Message "item 4 is corrupt" "and the error"
                Expect.isNotNull shown.Failure.Error.StackTrace "with its stack trace"
                broken.Clear()
                let! resumed = c.ReplayDeadLetterAsync ofStrict.Id
                let! r = c.WaitAsync(strict, resumed, TimeSpan.FromSeconds 30.0)
                Expect.equal (value r) 15 "the replayed step's result counts"
                let gone () = c.DiscardDeadLetterAsync(ofStrict.Id).Wait()
                throws<Collections.Generic.KeyNotFoundException> gone |> ignore
                let ofLenient = letters |> Seq.find (fun l -> l.ExecutionId = ok)
                let e = throws<InvalidOperationException> (fun () -> c.ReplayDeadLetterAsync(ofLenient.Id).Wait())
                Expect.stringContains e.Message "Completed" "a completed execution took the failure: replay explains why not"
                do! c.DiscardDeadLetterAsync ofLenient.Id
                throws<Collections.Generic.KeyNotFoundException> (fun () -> c.GetDeadLetterAsync(ofLenient.Id).Wait()) |> ignore
                let! left = c.ListDeadLettersAsync()
                Expect.isEmpty left "none left"
                let e = throws<InvalidOperationException> (fun () -> c.ResumeAsync(ok).Wait())
                Expect.stringContains e.Message $"'{ok}' is Completed" "a completed execution cannot be resumed"
                let! twice = c.ResumeAsync failed
                Expect.equal twice resumed "resuming again returns the first resumption"
                return () })
        }
        test "a child workflow runs as its own execution; its result or error returns to the parent; cancelling the parent cancels it" {
            let store = fresh ()
            let calls = Calls()
            let step = Durable.createSync $"{kind.Name}-child-step" (fun (x: int) ctx -> calls.Hit ctx; x * x)
            let child = Workflow.define $"{kind.Name}-square" (fun (x: int) -> if x < 0 then Workflow.fail "negative" else step.Call x)
            let parent = Workflow.define $"{kind.Name}-squares" (fun (xs: int list) -> workflow {
                let! squares = xs |> List.map (Workflow.child child) |> Workflow.whenAll
                let! bad = Workflow.child child -1 |> Workflow.attempt
                return List.sum squares, (match bad with Error e -> e.Message | Ok _ -> "?") })
            let waiter = Workflow.define $"{kind.Name}-waiter" (fun () -> Workflow.WaitForSignal<int> "never")
            let holder = Workflow.define $"{kind.Name}-holder" (fun () -> Workflow.child waiter ())
            // Only the parents are registered: a worker finds a child workflow defined in its process by name.
            withWorkers 2 store opts (fun w -> w.Register(parent).Register(holder)) (fun c -> task {
                let! id = c.DispatchAsync(parent, [ 1; 2; 3 ])
                let! r = c.WaitAsync(parent, id, TimeSpan.FromSeconds 30.0)
                Expect.equal (value r) (14, "negative") "children's results and a child's error"
                let! children = c.ListAsync(ExecutionFilter(Workflow = $"{kind.Name}-square"))
                Expect.equal children.Count 4 "four child executions"
                for ch in children do
                    Expect.equal ch.ParentId id "each names its parent"
                    Expect.isTrue (ch.Id.StartsWith(id + "/")) "and has an id under the parent's"
                    let! h = store.ReadAsync ch.Id
                    Expect.equal (h[0] :?> ExecutionStarted).ParentId id "with its own stream"
                Expect.equal calls.Total 3 "each child's step ran once"
                let! d = c.GetAsync id
                Expect.equal d.Counters["children"] 4L "the parent counts its children"
                let! h = c.DispatchAsync(holder, ())
                let waitChild () = task {
                    let mutable found = None
                    while found.IsNone do
                        let! l = c.ListAsync(ExecutionFilter(Workflow = $"{kind.Name}-waiter"))
                        found <- l |> Seq.tryFind (fun e -> e.ParentId = h)
                        if found.IsNone then do! Task.Delay 20
                    return found.Value.Id }
                let! childId = waitChild ()
                let! _ = c.CancelAsync h
                let! rh = c.WaitAsync(holder, h, TimeSpan.FromSeconds 30.0)
                Expect.equal (error rh).Message "cancelled" "the parent is cancelled"
                let! rc = c.WaitAsync<int>(childId, TimeSpan.FromSeconds 30.0)
                Expect.equal (error rc).Message "cancelled" "and so is its child"
                return () })
        }
        test "a worker never runs more steps at once than its MaxConcurrency" {
            let store = fresh ()
            let running = ref 0
            let peak = ref 0
            let step = Durable.create $"{kind.Name}-slow-square" (fun (x: int) ctx -> task {
                let now = Interlocked.Increment running
                lock peak (fun () -> if now > peak.Value then peak.Value <- now)
                do! Task.Delay(20, ctx.CancellationToken)
                Interlocked.Decrement running |> ignore
                return x * x })
            let wf = Workflow.define "squares_capped_by_worker" (fun (xs: int list) -> xs |> Workflow.traverse step.Call |> Workflow.map List.sum)
            let capped id = WorkerOptions(WorkerId = id, Serializer = Json.serializer, PollMax = TimeSpan.FromMilliseconds 50.0, MaxConcurrency = 3)
            let r = withWorkers 1 store capped (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, [ 1..30 ])
                return! c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0) })
            Expect.equal (value r) (List.sumBy (fun x -> x * x) [ 1..30 ]) "result"
            Expect.equal peak.Value 3 "three at once, never more"
        }
        test "work of a workflow or function no worker has stays pending, is reported, and runs once a worker that has it comes" {
            let store = fresh ()
            let known = Workflow.define "known" (fun (x: int) -> Workflow.ret x)
            let late = Durable.createSync $"{kind.Name}-late-function" (fun (x: int) _ -> x * 3)
            let later = Workflow.define $"{kind.Name}-later" (fun (x: int) -> late.Call x)
            store.CreateExecutionAsync(newExec "orphan-step").Wait()
            let claim = store.ClaimAsync(ClaimRequest("setup", 10, 0, TimeSpan.FromMinutes 1.0)).Result
            let d = claim.Decisions |> Seq.find (fun d -> d.ExecutionId = "orphan-step")
            let commit = DecisionCommit("orphan-step", d.LeaseToken, d.Version, [ StepScheduled("0", $"{kind.Name}-late-function", "1"); DecisionCompleted 1 ],
                                        ExecutionState.Running, Steps = [ NewStep("0", $"{kind.Name}-late-function", "1", null, [], 0, Nullable()) ])
            Expect.isTrue (store.CommitDecisionAsync(commit).Result.Accepted)
                "a step of a function no worker has is scheduled"
            let client = StentClient(store, Json.serializer)
            let id = client.DispatchAsync(later, 5).Result
            let unserved, info = withWorkers 1 store opts (fun w -> w.Register known) (fun c -> task {
                do! Task.Delay 500
                let! d = c.GetAsync id
                let! info = store.GetExecutionAsync id
                return d.Unserved, info })
            Expect.equal info.State ExecutionState.Pending "the execution waits; it is not failed"
            Expect.stringContains unserved $"no worker has workflow '{kind.Name}-later'" "and says why"
            let r = withWorkers 1 store opts (fun w -> w.Register(later).Register(late)) (fun c -> c.WaitAsync(later, id, TimeSpan.FromSeconds 30.0))
            Expect.equal (value r) 15 "a worker that has it runs it"
            let orphan = (store.ReadAsync "orphan-step").Result
            Expect.isTrue (store.ListDeadLettersAsync().Result |> Seq.isEmpty) "nothing was failed for being unknown"
            Expect.isNonEmpty orphan "the orphan step's execution is intact"
        }
        test "steps that finished while completions could not be written keep their lease and never run again" {
            let inner = fresh ()
            let calls = Calls()
            let step = Durable.createSync $"{kind.Name}-while-down" (fun (x: int) ctx -> calls.Hit ctx; x + 1)
            let wf = Workflow.define "while_down" (fun (xs: int list) -> xs |> Workflow.traverse step.Call |> Workflow.map List.sum)
            let store = Observed(inner, DateTime.UtcNow.AddSeconds 3.0) :> IWorkStore
            let short id = WorkerOptions(WorkerId = id, Serializer = Json.serializer, PollMax = TimeSpan.FromMilliseconds 50.0, LeaseDuration = TimeSpan.FromSeconds 1.0)
            let r = withWorkers 2 store short (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, [ 1..5 ])
                return! c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0) })
            Expect.equal (value r) 20 "result"
            Expect.equal calls.Total 5 "each step ran once, though its outcome waited three lease lengths to be written"
        }
        test "a worker that meets a fan-out's steps before their function learns it with one replay, not one per step" {
            let inner = fresh ()
            let apart = DurableOptions(Queue = "apart")
            let step = Durable.createSyncWith apart $"{kind.Name}-learned" (fun (x: int) _ -> x)
            let wf = Workflow.define "learned" (fun (xs: int list) ->
                xs |> Workflow.traverse step.Call |> Workflow.map List.sum)
            let decider = WorkerOptions(WorkerId = "decider", Serializer = Json.serializer, Queues = [||])
            let id =
                serve inner [ Worker(inner, decider).Register wf ] (fun c ->
                    let id = c.DispatchAsync(wf, [ 1..50 ]).Result
                    waitUntil "the steps scheduled" 20.0 (fun () ->
                        inner.ReadAsync(id).Result |> Seq.exists (fun e -> e :? DecisionCompleted))
                    id)
            let observed = Observed(inner, DateTime.MinValue)
            let store = observed :> IWorkStore
            // The workflow only: its functions are learned from the history when its steps arrive.
            let runner = WorkerOptions(WorkerId = "runner", Serializer = Json.serializer, Queues = [| "apart" |],
                                       MaxConcurrency = 64)
            let r = serve store [ Worker(store, runner).Register wf ] (fun c ->
                c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0).Result)
            Expect.equal (value r) (List.sum [ 1..50 ]) "every step ran"
            Expect.equal observed.Reads 1 "one whole-stream read to learn the function, shared by the 50 steps"
        }
        test "a worker with two versions of a workflow runs each execution on the one it started with; others wait" {
            let store = fresh ()
            let upper = Durable.createSync $"{kind.Name}-upper" (fun (s: string) _ -> s.ToUpperInvariant())
            let v1 = Stent.Workflow.Define("greeting", Func<string, Workflow<string>>(fun name ->
                Workflow.WaitForSignal<string> "go" |> Workflow.map (fun g -> $"v1 {g} {name}")), 1)
            // Version 2 calls a step before the wait: a version 1 history replayed on it would not match.
            let v2 = Stent.Workflow.Define("greeting", Func<string, Workflow<string>>(fun name -> workflow {
                let! n = upper.Call name
                let! g = Workflow.WaitForSignal<string> "go"
                return $"v2 {g} {n}" }), 2)
            let started id = store.ReadAsync(id).Result |> Seq.exists (fun e -> e :? DecisionCompleted)
            let old = withWorkers 1 store opts (fun w -> w.Register v1) (fun c -> task {
                let! id = c.DispatchAsync(v1, "ann")
                waitUntil "the version 1 execution waits" 20.0 (fun () -> started id)
                return id })
            let waiting = withWorkers 1 store opts (fun w -> w.Register v2) (fun c -> task {
                let! id = c.DispatchAsync(v1, "cy")
                do! Task.Delay 500
                return id })
            let state = store.GetExecutionAsync(waiting).Result.State
            Expect.equal state ExecutionState.Pending "a worker without version 1 leaves a version 1 execution alone"
            let r1, r2, r3 = withWorkers 1 store opts (fun w -> w.Register(v1).Register(v2)) (fun c -> task {
                let! fresh = c.DispatchAsync(v2, "bob")
                waitUntil "the version 2 execution waits" 20.0 (fun () -> started fresh)
                for id in [ old; fresh; waiting ] do
                    let! delivered = c.SignalAsync(id, "go", "hi")
                    Expect.isTrue delivered "the signal was delivered"
                let! r1 = c.WaitAsync(v1, old, TimeSpan.FromSeconds 30.0)
                let! r2 = c.WaitAsync(v2, fresh, TimeSpan.FromSeconds 30.0)
                let! r3 = c.WaitAsync(v1, waiting, TimeSpan.FromSeconds 30.0)
                return r1, r2, r3 })
            Expect.equal (value r1, value r2, value r3) ("v1 hi ann", "v2 hi BOB", "v1 hi cy") "each on its own version"
        }
        test "an execution its code no longer matches is blocked, losing nothing; matching code carries it on" {
            let store = fresh ()
            let plusOne = Durable.createSync $"{kind.Name}-plus-one" (fun (x: int) _ -> x + 1)
            let plusTwo = Durable.createSync $"{kind.Name}-plus-two" (fun (x: int) _ -> x + 2)
            let body (step: Durable<int, int>) (x: int) = workflow {
                let! y = step.Call x
                let! g = Workflow.WaitForSignal<int> "go"
                return y + g }
            let original = Workflow.define "drifting" (body plusOne)
            // The same name and version with another step: a history of the original does not match it.
            let changed = Workflow.define "drifting" (body plusTwo)
            let quick id =
                WorkerOptions(WorkerId = id, Serializer = Json.serializer, PollMax = TimeSpan.FromMilliseconds 50.0,
                              BlockedRetry = TimeSpan.FromMilliseconds 200.0)
            let waiting id = store.ReadAsync(id).Result |> Seq.exists (fun e -> e :? StepCompleted)
            let stateOf id = store.GetExecutionAsync(id).Result.State
            let parked, cancelled, strict = withWorkers 1 store quick (fun w -> w.Register original) (fun c -> task {
                let! ids = Task.WhenAll [ for x in [ 1; 10; 100 ] -> c.DispatchAsync(original, x) ]
                waitUntil "all three wait for the signal" 20.0 (fun () -> ids |> Array.forall waiting)
                return ids[0], ids[1], ids[2] })
            let recorded = store.ReadAsync(parked).Result.Count
            withWorkers 1 store quick (fun w -> w.Register changed) (fun c -> task {
                for id in [ parked; cancelled ] do
                    let! delivered = c.SignalAsync(id, "go", 5)
                    Expect.isTrue delivered "the signal was delivered"
                let bothBlocked () =
                    [ parked; cancelled ] |> List.forall (fun id -> stateOf id = ExecutionState.Blocked)
                waitUntil "blocked" 20.0 bothBlocked
                let! info = store.GetExecutionAsync parked
                Expect.stringContains info.Error.Message "Non-determinism at position" "the error says where"
                let! accepted = c.CancelAsync cancelled
                Expect.isTrue accepted "a blocked execution can be cancelled"
                waitUntil "cancelled" 20.0 (fun () -> stateOf cancelled = ExecutionState.Cancelled)
                do! Task.Delay 500
                Expect.equal (stateOf parked) ExecutionState.Blocked "tried again, still blocked" })
            Expect.equal (store.ReadAsync(parked).Result.Count) recorded "nothing was written to its history"
            let r = withWorkers 1 store quick (fun w -> w.Register original) (fun c ->
                c.WaitAsync(original, parked, TimeSpan.FromSeconds 30.0))
            Expect.equal (value r) 7 "matching code carried it on with the signal sent while it was blocked"
            // Last, so that no blocked execution is left for this worker to retry and fail.
            withWorkers 1 store quick (fun w -> w.Register(changed.FailOnMismatch())) (fun c -> task {
                let! _ = c.SignalAsync(strict, "go", 5)
                let! r = c.WaitAsync(changed, strict, TimeSpan.FromSeconds 30.0)
                Expect.stringContains (error r).Message "Non-determinism" "a workflow that asks to fail, fails" })
        }
        test "a workflow patched in place: executions past the patch keep the old path, new ones take the new one" {
            let store = fresh ()
            let plusOne = Durable.createSync $"{kind.Name}-patch-one" (fun (x: int) _ -> x + 1)
            let plusTen = Durable.createSync $"{kind.Name}-patch-ten" (fun (x: int) _ -> x + 10)
            let rest a = workflow {
                let! g = Workflow.WaitForSignal<int> "go"
                let! b = plusOne.Call g
                return a + b }
            let before = Workflow.define "patchable" (fun (x: int) -> plusOne.Call x |> Workflow.bind rest)
            let after = Workflow.define "patchable" (fun (x: int) -> workflow {
                let! p = Workflow.patched "ten"
                let! a = if p then plusTen.Call x else plusOne.Call x
                return! rest a })
            let waiting id = store.ReadAsync(id).Result |> Seq.exists (fun e -> e :? StepCompleted)
            let old = withWorkers 1 store opts (fun w -> w.Register before) (fun c -> task {
                let! id = c.DispatchAsync(before, 1)
                waitUntil "the old execution waits" 20.0 (fun () -> waiting id)
                return id })
            let r1, r2, h2 = withWorkers 1 store opts (fun w -> w.Register after) (fun c -> task {
                let! fresh = c.DispatchAsync(after, 1)
                waitUntil "the new execution waits" 20.0 (fun () -> waiting fresh)
                for id in [ old; fresh ] do
                    let! delivered = c.SignalAsync(id, "go", 5)
                    Expect.isTrue delivered "the signal was delivered"
                let! r1 = c.WaitAsync(after, old, TimeSpan.FromSeconds 30.0)
                let! r2 = c.WaitAsync(after, fresh, TimeSpan.FromSeconds 30.0)
                let! h2 = store.ReadAsync fresh
                return r1, r2, h2 })
            Expect.equal (value r1, value r2) (2 + 6, 11 + 6) "the old execution kept the old path, the new one"
            let marks = h2 |> Seq.choose (function :? ValueRecorded as v -> Some (v.Position, v.Kind) | _ -> None)
            Expect.equal (List.ofSeq marks) [ "0", "patch ten" ] "the new path is recorded where the patch is"
        }
        test "a declared signal types wait and send; a JSON payload of the wrong kind is refused, naming the type" {
            let store = fresh ()
            let approve = Signal<bool>("approve")
            let wf = Workflow.define "typed_approval" (fun () ->
                approve.Wait() |> Workflow.map (fun ok -> if ok then "approved" else "rejected"))
            let r, refused, untaken = withWorkers 1 store opts (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, ())
                waitUntil "the wait" 20.0 (fun () -> store.GetExecutionAsync(id).Result.Awaiting.Count = 1)
                let refused = throws<Serialization.PayloadException> (fun () ->
                    c.SignalJsonAsync(id, "approve", "\"yes\"").Wait())
                let! misspelt = c.SignalJsonAsync(id, "aprove", "true")
                Expect.isTrue misspelt "a name it does not wait for is kept"
                let! sent = c.SignalAsync(id, approve, true)
                Expect.isTrue sent "the typed send was delivered"
                let! r = c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0)
                let! details = c.GetAsync id
                return r, refused.Message, details.UntakenSignals })
            Expect.equal (value r) "approved" "the typed payload arrived"
            let said = "waits for signal 'approve' as System.Boolean (JSON boolean); the payload \"yes\" (string)"
            Expect.stringContains refused said "the refusal names the expected type"
            Expect.equal (List.ofSeq untaken) [ "aprove" ] "the misspelt signal is reported as never taken"
        }
        test "cleanup deletes ended executions with their histories and dead letters, and keeps running ones and what they resume" {
            let store = fresh ()
            let broken = ConcurrentDictionary<int, bool>()
            let step = Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.None)) $"{kind.Name}-cleanup-step" (fun (x: int) _ ->
                if broken.ContainsKey x then invalidOp $"item {x} is corrupt"
                x)
            let wf = Workflow.define $"{kind.Name}-cleanup-batch" (fun (xs: int list) -> xs |> Workflow.traverse step.Call |> Workflow.map List.sum)
            let waiter = Workflow.define $"{kind.Name}-cleanup-waiter" (fun (x: int) -> workflow {
                let! _ = step.Call x
                return! Workflow.WaitForSignal<int> "never" })
            broken[2] <- true
            withWorkers 1 store opts (fun w -> w.Register(wf).Register(waiter)) (fun c -> task {
                let! ok = c.DispatchAsync(wf, [ 1; 3 ])
                let! _ = c.WaitAsync(wf, ok, TimeSpan.FromSeconds 30.0)
                let! failed = c.DispatchAsync(wf, [ 1; 2 ])
                let! _ = c.WaitAsync(wf, failed, TimeSpan.FromSeconds 30.0)
                let! old = c.DispatchAsync(waiter, 2)
                let! _ = c.WaitAsync(waiter, old, TimeSpan.FromSeconds 30.0)
                broken.Clear()
                let! resumer = c.ResumeAsync old
                let mutable waiting = false
                while not waiting do
                    let! info = c.GetAsync resumer
                    waiting <- info.Counters["completed"] = 1L
                    if not waiting then do! Task.Delay 20
                let! deleted = c.CleanupAsync(Duration.From TimeSpan.Zero)
                Expect.equal deleted 2 "the completed and the failed execution"
                let! left = c.ListAsync()
                Expect.equal (left |> Seq.map (fun e -> e.Id) |> set) (set [ old; resumer ]) "a running execution and the one it resumes stay"
                let! h = store.ReadAsync ok
                Expect.isEmpty h "a deleted execution's history went"
                let! letters = c.ListDeadLettersAsync()
                Expect.equal (letters |> Seq.map (fun l -> l.ExecutionId) |> List.ofSeq) [ old ] "its dead letters went, the kept one's stay"
                let! again = c.CleanupAsync(Duration.From TimeSpan.Zero)
                Expect.equal again 0 "nothing more to delete"
                return () })
            throws<ArgumentOutOfRangeException> (fun () -> store.DeleteEndedAsync(TimeSpan.FromSeconds -1.0).Wait()) |> ignore
        }
        test "a resumed execution takes again the signals its predecessor took, and its timeouts stay timed out" {
            let store = fresh ()
            let broken = ref true
            let calls = Calls()
            let ship = Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.None)) $"{kind.Name}-ship" (fun (who: string) ctx ->
                calls.Hit ctx
                if broken.Value then invalidOp "the carrier is down"
                $"shipped for {who}")
            let wf = Workflow.define $"{kind.Name}-approve-then-ship" (fun () -> workflow {
                let! who = Workflow.WaitForSignal<string> "approval"
                let! extra = Workflow.WaitForSignal<string>("extra", Duration.Parse "10ms")
                let! shipped = ship.Call who
                return $"{shipped}, extra: {extra.HasValue}" })
            let first, second, r, h = withWorkers 1 store opts (fun w -> w.Register wf) (fun c -> task {
                let! first = c.DispatchAsync(wf, ())
                let! delivered = c.SignalAsync(first, "approval", "carol")
                Expect.isTrue delivered "the signal was delivered"
                let! r1 = c.WaitAsync(wf, first, TimeSpan.FromSeconds 30.0)
                Expect.stringContains (error r1).Message "the carrier is down" "the first run fails after the approval"
                broken.Value <- false
                let! second = c.ResumeAsync first
                let! r = c.WaitAsync(wf, second, TimeSpan.FromSeconds 30.0)
                let! h = store.ReadAsync second
                return first, second, r, List.ofSeq h })
            Expect.equal (value r) "shipped for carol, extra: False" "the approval is taken again without a new signal; the timed-out wait stays timed out"
            Expect.notEqual second first "a new execution"
            Expect.isFalse (h |> List.exists (fun e -> e :? TimerStarted)) "no new timeout timer"
            Expect.equal calls.Total 2 "the failed step ran again, once"
        }
        test "a worker stopped while it commits a decision finishes it: nothing stays leased to it" {
            let store = fresh ()
            let relational = store :?> Stent.Storage.Relational.RelationalWorkStore
            let step = Durable.createSync $"{kind.Name}-stopped-while-deciding" (fun (x: int) _ -> x + 1)
            let wf = Workflow.define "stopped-while-deciding" (fun (x: int) -> step.Call x)
            let client = StentClient(store, Json.serializer)
            let id = client.DispatchAsync(wf, 1).Result
            use stop = new CancellationTokenSource()
            // The stop comes while the first decision is being committed.
            relational.BeforeCommit <- fun operation -> if operation = "decision" then stop.Cancel()
            Worker(store, opts "stopping").Register(wf).ServeAsync(stop.Token).Wait(TimeSpan.FromSeconds 20.0)
            |> fun stopped -> Expect.isTrue stopped "the worker stopped"
            relational.BeforeCommit <- null
            Expect.isTrue (store.ReadAsync(id).Result |> Seq.exists (fun e -> e :? DecisionCompleted))
                "the decision under way was committed"
            // Its lease (30 s) would otherwise keep the execution from the next worker.
            let wait (c: StentClient) = c.WaitAsync(wf, id, TimeSpan.FromSeconds 10.0)
            let r = withWorkers 1 store opts (fun w -> w.Register wf) wait
            Expect.equal (value r) 2 "the next worker finishes it at once"
        }
        test "a timer fires after a restart of every worker and store object" {
            let openStore = kind.Fresh ()
            let step = Durable.createSync $"{kind.Name}-after-sleep" (fun (x: int) _ -> x + 1)
            // The sleep outlasts the first workers' 150 ms by far: a loaded machine does not end it before the restart.
            let wf =
                Workflow.define "sleepy" (fun (x: int) -> Workflow.sleep "2s" |> Workflow.bind (fun () -> step.Call x))
            let id = withWorkers 1 (openStore ()) opts (fun w -> w.Register wf) (fun client -> task {
                let! id = client.DispatchAsync(wf, 41)
                do! Task.Delay 150
                return id })
            let store2 = openStore ()
            Expect.notEqual (store2.GetExecutionAsync(id).Result.State) ExecutionState.Completed "still sleeping at restart"
            let r = withWorkers 1 store2 opts (fun w -> w.Register wf) (fun client -> client.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0))
            Expect.equal (value r) 42 "woke after restart"
        }
        test "signals sent before the wait are kept, delivered in order; none to a finished one; unknown ids throw" {
            let store = fresh ()
            let wf = Workflow.define "waiter" (fun () -> workflow {
                do! Workflow.sleep "200ms"
                let! a = Workflow.WaitForSignal<string> "go"
                let! b = Workflow.WaitForSignal<string> "go"
                return a + b })
            let client = StentClient(store, Json.serializer)
            let id = client.DispatchAsync(wf, ()).Result
            client.SignalAsync(id, "go", "first-").Wait()
            client.SignalAsync(id, "go", "second").Wait()
            let r = withWorkers 1 store opts (fun w -> w.Register wf) (fun c -> c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0))
            Expect.equal (value r) "first-second" "both, in order"
            Expect.isFalse (client.SignalAsync(id, "go", "late").Result) "a finished execution takes no signal"
            let unknown () = client.SignalAsync("nope", "go", "x").GetAwaiter().GetResult() |> ignore
            Expect.throwsT<Collections.Generic.KeyNotFoundException> unknown "unknown"
        }
        test "a signal sent after a timed wait started is taken, and its timer then changes nothing" {
            let store = fresh ()
            let wf = Workflow.define "patient" (fun () ->
                Workflow.WaitForSignal<int>("go", Duration.Parse "30s")
                |> Workflow.map (fun o -> o.GetValueOrDefault -1))
            let r = withWorkers 1 store opts (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, ())
                do! Task.Delay 300
                let! delivered = c.SignalAsync(id, "go", 42)
                Expect.isTrue delivered "the signal was delivered"
                return! c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0) })
            Expect.equal (value r) 42 "the signal, not the timeout"
        }
        test "a signal wait with a timeout gives None when nothing comes" {
            let store = fresh ()
            let wf = Workflow.define "impatient" (fun () ->
                Workflow.WaitForSignal<int>("go", Duration.Parse "200ms") |> Workflow.map (fun o -> not o.HasValue))
            let r = withWorkers 1 store opts (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, ())
                return! c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0) })
            Expect.isTrue (value r) "timed out"
        }
        test "cancellation ends a waiting execution: pending steps never start, a running step sees its token, Finally runs" {
            let store = fresh ()
            let calls = Calls()
            let started = new ManualResetEventSlim()
            let sawCancel = new ManualResetEventSlim()
            let never = Durable.createSync $"{kind.Name}-never" (fun (x: int) ctx -> calls.Hit ctx; x)
            let long = Durable.createWith (DurableOptions(Retry = RetryPolicy.None)) $"{kind.Name}-long" (fun (x: int) ctx -> task {
                started.Set()
                try do! Task.Delay(60_000, ctx.CancellationToken)
                with :? OperationCanceledException -> sawCancel.Set()
                return x })
            let stubborn = Durable.createWith (DurableOptions(Retry = RetryPolicy.None)) $"{kind.Name}-stubborn" (fun (x: int) ctx -> task {
                do! Task.Delay(60_000, ctx.CancellationToken)
                return x })
            let cleanup = Durable.createSync $"{kind.Name}-cleanup" (fun (x: int) ctx -> calls.Hit ctx; x)
            let wf = Workflow.define "cancellable" (fun () ->
                Workflow.whenAll [ long.Call 1; stubborn.Call 2; Workflow.sleep "1h" |> Workflow.bind (fun () -> never.Call 1) ]
                |> Workflow.map List.sum
                |> Workflow.tryFinally (cleanup.Call 7))
            let quick id = WorkerOptions(WorkerId = id, Serializer = Json.serializer, PollMax = TimeSpan.FromMilliseconds 50.0, LeaseDuration = TimeSpan.FromSeconds 1.0)
            let state, r, h = withWorkers 1 store quick (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, ())
                Expect.isTrue (started.Wait(TimeSpan.FromSeconds 20.0)) "the long step started"
                let! cancelled = c.CancelAsync id
                Expect.isTrue cancelled "cancel accepted"
                let! r = c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0)
                let! info = store.GetExecutionAsync id
                let! h = store.ReadAsync id
                return info.State, r, h })
            Expect.equal state ExecutionState.Cancelled "cancelled"
            Expect.isFalse r.IsOk "no value"
            Expect.equal r.Error.Message "cancelled" "says so"
            Expect.isTrue (sawCancel.Wait(TimeSpan.FromSeconds 20.0)) "the running step saw its cancellation token"
            Expect.equal calls.Total 1 $"only the cleanup ran; the pending step never started: %A{calls.Keys}"
            Expect.isTrue (h |> Seq.exists (function :? StepCompleted as s -> s.Output = "7" | _ -> false)) "Finally's cleanup step completed"
            Expect.isTrue (h |> Seq.exists (fun e -> e :? ExecutionCancelled)) "recorded as cancelled"
        }
        test "MaxDuration ends the execution as timed out, after its Finally cleanup" {
            let store = fresh ()
            let cleanup = Durable.createSync $"{kind.Name}-timeout-cleanup" (fun (x: int) _ -> x)
            let wf = Workflow.define "too_slow" (fun () -> Workflow.sleep "1h" |> Workflow.map (fun () -> 1) |> Workflow.tryFinally (cleanup.Call 3))
            let state, h = withWorkers 1 store opts (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, (), DispatchOptions(MaxDuration = Duration.Parse "300ms"))
                let! r = c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0)
                Expect.stringContains r.Error.Message "timed out" "error says so"
                let! info = store.GetExecutionAsync id
                let! h = store.ReadAsync id
                return info.State, h })
            Expect.equal state ExecutionState.TimedOut "timed out"
            Expect.isTrue (h |> Seq.exists (function :? StepCompleted as s -> s.Output = "3" | _ -> false)) "cleanup ran"
        }
    ]

/// A SQLite file: opens a store on it, and runs a statement on it.
let private sqliteDatabase () =
    let path = Path.Combine(Path.GetTempPath(), $"stent-stamp-{Guid.NewGuid():N}.db")
    (fun () -> new SqliteWorkStore(path) :> Storage.Relational.RelationalWorkStore), "", fun (sql: string) ->
        use c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False")
        c.Open()
        use cmd = c.CreateCommand()
        cmd.CommandText <- sql
        cmd.ExecuteNonQuery() |> ignore

/// A PostgreSQL schema: opens a store on it, and runs a statement on it.
let private postgresDatabase () =
    if String.IsNullOrEmpty pg then skiptest "STENT_PG is not set: run the tests with scripts/test.sh"
    let schema = "w_" + Guid.NewGuid().ToString("N").Substring(0, 12)
    (fun () -> new Stent.Marten.PostgresWorkStore(pg, schema) :> Storage.Relational.RelationalWorkStore), schema + ".",
    fun (sql: string) ->
        use c = new Npgsql.NpgsqlConnection(pg)
        c.Open()
        use cmd = new Npgsql.NpgsqlCommand(sql, c)
        cmd.ExecuteNonQuery() |> ignore

/// A SQLite file whose tables an earlier version made (no `lost` column, no record of its version) is upgraded when
/// opened, and runs on.
let private upgrade =
    test "a SQLite file made by an earlier version gains the columns it lacks and runs workflows" {
        let opened, _, run = sqliteDatabase ()
        do
            use first = opened ()
            first.ListExecutionsAsync(ExecutionFilter()).Wait()
        run "ALTER TABLE stent_steps DROP COLUMN lost; DROP TABLE stent_meta"
        let store = opened ()
        let step = Durable.createSync "upgraded_step" (fun (x: int) _ -> x + 1)
        let wf = Workflow.define "upgraded" (fun (x: int) -> step.Call x)
        let r = withWorkers 1 store opts (fun w -> w.Register wf) (fun c -> task {
            let! id = c.DispatchAsync(wf, 41)
            return! c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0) })
        Expect.equal (value r) 42 "it runs"
    }

/// The record of the version that made a store's tables: found, the tables are not checked again; missing (an
/// earlier version's tables), they are made and upgraded.
let private schemaStamp =
    testList "schema record" [
        for name, database in [ "SQLite", sqliteDatabase; "PostgreSQL", postgresDatabase ] ->
            test $"{name}: a store finding its tables recorded as this version's checks nothing; unrecorded, upgrades" {
                let opened, t, run = database ()
                let migrate () =
                    use store = opened ()
                    store.MigrateAsync().Wait()
                let hasLost () =
                    try run $"SELECT lost FROM {t}stent_steps WHERE 1 = 0"; true
                    with :? Data.Common.DbException -> false
                migrate ()
                Expect.isTrue (hasLost ()) "made"
                run $"ALTER TABLE {t}stent_steps DROP COLUMN lost"
                migrate ()
                Expect.isFalse (hasLost ()) "recorded as this version's: not checked, the column stays dropped"
                run $"DELETE FROM {t}stent_meta"
                migrate ()
                Expect.isTrue (hasLost ()) "unrecorded: checked, the column added again"
            } ]

/// What the record of the tables' version allows: workers that may not change the schema.
let private leastPrivilege =
    test "PostgreSQL: once an owner made the tables, a role that may only read and write rows runs workflows" {
        let opened, t, run = postgresDatabase ()
        do
            use owner = opened ()
            owner.MigrateAsync().Wait()
        let schema = t.TrimEnd '.'
        let role = "r" + schema
        run $"""CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA {schema} TO {role};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"""
        let connection = Npgsql.NpgsqlConnectionStringBuilder(pg, Username = role).ToString()
        do
            use c = new Npgsql.NpgsqlConnection(connection)
            c.Open()
            use create = new Npgsql.NpgsqlCommand($"CREATE TABLE {schema}.x (i int)", c)
            Expect.throwsT<Npgsql.PostgresException> (fun () -> create.ExecuteNonQuery() |> ignore)
                "the role may not change the schema"
        use store = new Stent.Marten.PostgresWorkStore(connection, schema)
        let step = Durable.createSync "restricted_step" (fun (x: int) _ -> x + 1)
        let wf = Workflow.define "restricted" (fun (xs: int list) -> xs |> Workflow.traverse step.Call)
        let r = withWorkers 1 store opts (fun w -> w.Register wf) (fun c -> task {
            let! id = c.DispatchAsync(wf, [ 1; 2; 3 ])
            return! c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0) })
        Expect.equal (value r) [ 2; 3; 4 ] "it runs"
    }

/// A clock `offset` ahead of the system's: a process whose clock jumped.
type private Ahead(offset: TimeSpan) =
    inherit TimeProvider()
    override _.GetUtcNow() = DateTimeOffset.UtcNow + offset

/// What the README promises of a SQLite file shared by processes whose clocks disagree.
let private clockAhead =
    test "on a SQLite file, a process whose clock runs ahead takes over a live lease; the step is still recorded once" {
        let path = Path.Combine(Path.GetTempPath(), $"stent-clock-{Guid.NewGuid():N}.db")
        let honest = new SqliteWorkStore(path)
        let ahead = new SqliteWorkStore(path, Ahead(TimeSpan.FromHours 1.0))
        scheduleSteps honest "e" "work" None 1
        let lease = TimeSpan.FromMinutes 1.0
        let held = (honest.ClaimAsync(ClaimRequest("honest", 0, 1, lease)).Result).Steps[0]
        let taken = (ahead.ClaimAsync(ClaimRequest("ahead", 0, 1, lease)).Result).Steps
        Expect.equal (taken |> Seq.map (fun t -> t.Id) |> List.ofSeq) [ held.Id ] "the live lease is taken over"
        let lost = List.ofSeq (honest.RenewLeasesAsync([ held.Lease ], lease).Result)
        Expect.equal lost [ held.Lease ] "the first holder learns it lost it (its token fires)"
        let late = List.ofSeq (honest.CompleteStepsAsync([ completed held ]).Result)
        Expect.equal late [ false ] "its outcome is rejected"
        let current = List.ofSeq (ahead.CompleteStepsAsync([ completed taken[0] ]).Result)
        Expect.equal current [ true ] "the new holder's is recorded"
    }

let tests =
    testList "Work store conformance" (upgrade :: schemaStamp :: leastPrivilege :: clockAhead
        :: (kinds |> List.map suite))
