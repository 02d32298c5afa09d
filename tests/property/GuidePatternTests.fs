/// The batch guide's patterns 4, 6, 7, 8 and 11 in C# and F#: each run and counted, and each crashed at every
/// event boundary and recovered to the same result without running a finished step again.
module GuidePatternTests

open System
open Expecto
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Replay
open Stent.Storage
open Support

type private Cs = Stent.Examples.CSharp.GuidePatterns
module Fs = Stent.Examples.GuidePatterns

let private run (def: WorkflowDef<'I, 'O>) (input: 'I) =
    let r, history = runFresh def input
    r, List.ofSeq history

/// Pattern 10 in a test environment: a run that fails while records 150 and 151 are unavailable, then a resumed run
/// that is crashed at its decision write `crashAt` (0: never; odd: before it commits, even: after) and recovered.
/// Returns the result, the resumed history and how often each record was processed in all.
let private failThenResume (def: WorkflowDef<'I, 'O>) (input: 'I) (processed: Collections.Concurrent.ConcurrentDictionary<int, int>)
                           (unavailable: Collections.Concurrent.ConcurrentDictionary<int, bool>) crashAt =
    processed.Clear()
    for x in [ 150; 151 ] do unavailable[x] <- true
    use e = env ()
    let first = e.RunAsync(def, input, "nightly").Result
    Expect.stringContains (error first).Message "service unavailable" "the first run fails"
    unavailable.Clear()
    let resumed = e.Client.ResumeAsync("nightly").Result
    if crashAt > 0 then e.CrashAt((crashAt + 1) / 2, (crashAt % 2 = 0), "decision")
    e.RunUntilIdleAsync().Wait()
    let r = e.ResultAsync<'O>(resumed).Result
    r, List.ofSeq (e.Store.ReadAsync(resumed).Result), Map.ofSeq (processed |> Seq.map (fun kv -> kv.Key, kv.Value))

/// Checks pattern 10's promise: the resumed run completes, reuses every step the failed run completed (records
/// 1..149 and 152..200 ran once in all), and runs only the rest — also when it is crashed at any boundary.
let private checkResume (def: WorkflowDef<'I, 'O>) (input: 'I) expected processed unavailable =
    let r, h, runs = failThenResume def input processed unavailable 0
    Expect.equal (value r) expected "the resumed run completes"
    let reused = h |> List.filter (function :? StepCompleted as c -> not (isNull c.ReusedFrom) | _ -> false) |> List.length
    Expect.isGreaterThanOrEqual reused 198 "the failed run's completed steps are reused"
    for x in 1..250 do
        let expectedRuns = if x = 150 || x = 151 then 3 else 1
        Expect.equal (runs.TryFind x |> Option.defaultValue 0) expectedRuns $"record {x} ran {runs.TryFind x} times"
    let appends = h |> List.filter (fun e -> e :? DecisionCompleted) |> List.length
    for k in List.distinct [ for i in 1..8 -> max 1 (i * (appends * 2) / 8) ] do
        let r, h, runs = failThenResume def input processed unavailable k
        Expect.equal (value r) expected $"crash at append {k} of the resumed run: same result"
        let completed = h |> List.choose (function :? StepCompleted as c -> Some c.Position | _ -> None)
        Expect.equal completed (List.distinct completed) $"crash at {k}: every step recorded once"
        // Reused steps never run again; new ones may run again when the crash fell between running and recording them.
        for x in 1..200 do
            if x <> 150 && x <> 151 then Expect.equal (runs.TryFind x |> Option.defaultValue 0) 1 $"crash at {k}: reused record {x} ran once in all"

let tests =
    testList "Guide patterns" [
        test "4. Map: results in input order, every step scheduled in one decision (C# and F#)" {
            let r, h = run Cs.MapBatch [| 1..500 |]
            Expect.equal ((value r) |> Seq.map (fun i -> i.Id) |> List.ofSeq) [ 1..500 ] "C# order"
            let first = h |> List.findIndex (fun e -> e :? DecisionCompleted)
            Expect.equal (h |> List.take first |> List.filter (fun e -> e :? StepScheduled) |> List.length) 500 "one batched write"
            let rf, _ = run Fs.mapBatch [ 1..500 ]
            Expect.equal (value rf |> List.map (fun i -> i.Id)) [ 1..500 ] "F# order"
            crashEverywhere Cs.MapBatch [| 1..40 |]
        }
        test "6. manual rate limiting: fixed batches with a durable pause between them; a crash never moves or repeats a pause" {
            let input = Stent.Examples.CSharp.RateLimitedInput([| 1..25 |], 10, "1s")
            let r, h = run Cs.ManualRateLimited input
            Expect.equal (value r).Count 25 "every item"
            Expect.equal (h |> List.filter (fun e -> e :? TimerStarted) |> List.length) 2 "two pauses for three batches"
            let rf, hf = run Fs.manualRateLimited ([ 1..25 ], 10, "1s")
            Expect.equal (value rf).Length 25 "F#: every item"
            Expect.equal (hf |> List.filter (fun e -> e :? TimerStarted) |> List.length) 2 "F#: two pauses"
            crashEverywhere Cs.ManualRateLimited input
            crashEverywhere Fs.manualRateLimited ([ 1..25 ], 10, "1s")
            let e = throws<FormatException> (fun () -> (env ()).DispatchAsync(Cs.ManualRateLimited, Stent.Examples.CSharp.RateLimitedInput([| 1 |], 10, "1 sec")).Wait())
            Expect.stringContains e.Message "'1 sec'" "a malformed pause is rejected at dispatch, naming the text"
        }
        test "7. continue on error: failures collected with their type, a threshold makes a business error, an empty batch succeeds" {
            let s = value (fst (run Cs.Resilient [| 1..10 |]))
            Expect.equal (s.Succeeded.Count, s.Failed.Count, s.SuccessRate) (8, 2, 0.8) "4 and 8 fail"
            Expect.equal s.Failed[0].ErrorType "System.IO.InvalidDataException" "error type kept"
            let bad = error (fst (run Cs.Resilient [| 4; 8; 12; 1 |]))
            Expect.isTrue bad.IsBusiness "business error"
            Expect.equal bad.Message "Too many failures: 3/4" "message"
            Expect.equal (value (fst (run Cs.Resilient [||]))).SuccessRate 1.0 "empty batch"
            let f = value (fst (run Fs.resilient [ 1..10 ]))
            Expect.equal (f.Succeeded.Length, f.Failed.Length) (8, 2) "F#"
            Expect.isTrue (error (fst (run Fs.resilient [ 4; 8; 12; 1 ]))).IsBusiness "F# threshold"
            crashEverywhere Cs.Resilient [| 1..12 |]
        }
        test "8. retry failed items in rounds with a pause; the last real error is kept" {
            let s = value (fst (run Cs.RetryInRounds [| 1..8 |]))
            Expect.equal (s.Succeeded |> Seq.sort |> List.ofSeq) [ 1; 2; 4; 5; 6; 8 ] "3 and 7 need a fourth round"
            Expect.equal (s.Failed |> Seq.map (fun f -> f.Id) |> List.ofSeq) [ 3; 7 ] "final failures"
            Expect.stringContains s.Failed[0].Error "timed out in round 2" "last real error"
            Expect.equal s.Rounds 3 "three rounds"
            let f = value (fst (run Fs.retryInRounds [ 1..8 ]))
            Expect.equal (f.Done |> List.sort) [ 1; 2; 4; 5; 6; 8 ] "F#"
            Expect.stringContains f.LastErrors[0].Error "timed out in round 2" "F# last error"
            crashEverywhere Cs.RetryInRounds [| 1..8 |]
            crashEverywhere Fs.retryInRounds [ 1..8 ]
        }
        test "10. checkpoint/resume: a failed run resumed reuses every finished step and runs only the rest, also when crashed (C# and F#)" {
            let cs = Stent.Examples.CSharp.ResumePattern.ResumableBatch
            checkResume cs [| 1..250 |] (Stent.Examples.CSharp.ResumableSummary(250, 62750L))
                Stent.Examples.CSharp.ResumePattern.Processed Stent.Examples.CSharp.ResumePattern.Unavailable
            checkResume Fs.resumableBatch [ 1..250 ] 62750L Fs.processed Fs.unavailable
        }
        test "11. ETL: each stage works only on the previous stage's successes" {
            let s = value (fst (run Cs.Etl [| "a"; "bx"; "bad1"; "c" |]))
            Expect.equal (s.OriginalCount, s.Extracted, s.Transformed, s.Loaded) (4, 3, 2, 2) "counts"
            Expect.equal (error (fst (run Cs.Etl [| "ax"; "bx" |]))).Message "All extractions failed" "business error"
            let f = value (fst (run Fs.etl [ "a"; "bx"; "bad1"; "c" ]))
            Expect.equal (f.Extracted, f.Transformed, f.Loaded) (3, 2, 2) "F#"
            crashEverywhere Cs.Etl [| "a"; "bx"; "bad1"; "c" |]
        }
    ]

let neighbourTests =
    testList "Guide neighbours" [
        test "13. saga: a failed step compensates the finished ones in reverse order; a failing compensation does not stop the rest" {
            let cs = Stent.Examples.CSharp.NeighbourPatterns.Compensated
            cs.Clear()
            let ok = value (fst (run Stent.Examples.CSharp.NeighbourPatterns.BookTrip (Stent.Examples.CSharp.Trip("ann"))))
            Expect.equal (ok |> Array.map (fun b -> b.Kind)) [| "flight"; "hotel"; "car" |] "all booked"
            Expect.isEmpty cs "nothing compensated"
            let r, h = run Stent.Examples.CSharp.NeighbourPatterns.BookTrip (Stent.Examples.CSharp.Trip("grumpy", CarFails = true))
            Expect.equal (error r).Message "no cars left" "the step's error"
            Expect.equal (List.ofSeq cs) [ "hotel-grumpy"; "flight-grumpy" ] "reverse order, and the flight is cancelled though the hotel refused"
            Expect.isTrue (h |> List.exists (function :? ProgressReported as p -> p.Report.Message.Contains "hotel refuses to cancel" | _ -> false)) "the compensation failure is reported"
            crashEverywhere Stent.Examples.CSharp.NeighbourPatterns.BookTrip (Stent.Examples.CSharp.Trip("bob", CarFails = true))
        }
        test "13. child workflows: each region is its own execution and stream; a crash at any boundary recovers (C# and F#)" {
            let check (def: WorkflowDef<'I, int>) (input: 'I) (child: string) =
                let streamsOf (e: Stent.Testing.TestEnvironment) =
                    e.Client.ListAsync().Result |> Seq.map (fun x -> x.Id) |> List.ofSeq
                use e = env ()
                let r = e.RunAsync(def, input, "import").Result
                Expect.equal (value r) 30 "both regions' rows"
                let streams = streamsOf e
                Expect.equal streams.Length 3 "the parent and one stream per child"
                for id in streams |> List.filter ((<>) "import") do
                    let started = e.Store.ReadAsync(id).Result[0] :?> ExecutionStarted
                    Expect.equal (started.Workflow, started.ParentId) (child, "import") "a child names its parent"
                let decisions = writesOf inMemory "decision" def input
                for k in 1 .. decisions * 2 do
                    use e = env ()
                    e.DispatchAsync(def, input, "import").Wait()
                    e.CrashAt((k + 1) / 2, (k % 2 = 0), "decision")
                    e.RunUntilIdleAsync().Wait()
                    Expect.equal (value (e.ResultAsync<int>("import").Result)) 30 $"crash at decision write {k}: same result"
                    let rows = streamsOf e |> Seq.collect (fun id -> e.Store.ReadAsync(id).Result) |> Seq.filter (fun e -> e :? StepCompleted) |> Seq.length
                    Expect.equal rows 10 $"crash at decision write {k}: every row recorded once"
            check Stent.Examples.CSharp.NeighbourPatterns.ImportAll [| "north"; "south" |] "import_region"
            check Fs.importAll [ "north"; "south" ] "fs_import_region"
        }
        test "13. waiting for an external signal with a timeout, on workers" {
            let store = Stent.Sqlite.SqliteWorkStore.InMemory()
            let wf = Stent.Examples.CSharp.NeighbourPatterns.AwaitApproval
            let approved, late = withWorkers 1 store opts (fun w -> w.Register wf) (fun c -> task {
                let! a = c.DispatchAsync(wf, "30s")
                let! delivered = c.SignalAsync(a, "approval", "carol")
                Expect.isTrue delivered "the signal was delivered"
                let! b = c.DispatchAsync(wf, "200ms")
                let! ra = c.WaitAsync(wf, a, TimeSpan.FromSeconds 30.0)
                let! rb = c.WaitAsync(wf, b, TimeSpan.FromSeconds 30.0)
                return value ra, value rb })
            Expect.equal approved "approved by carol" "signal arrived"
            Expect.equal late "no approval in time" "timed out"
        }
    ]

let practiceTests =
    testList "Guide practices" [
        test "5. rate limited: MaxConcurrent = 5 is never exceeded across two workers, and uncapped work is not starved" {
            let p = Stent.Examples.CSharp.PracticePatterns.RateLimitedBatch
            let other = Stent.Examples.CSharp.GuidePatterns.MapBatch
            Stent.Examples.CSharp.PracticePatterns.ResetPeak()
            let store = new Stent.Sqlite.SqliteWorkStore(IO.Path.Combine(IO.Path.GetTempPath(), $"stent-rate-{Guid.NewGuid():N}.db"))
            let r, otherDoneFirst = withWorkers 2 store opts (fun w -> w.Register(p).Register(other)) (fun c -> task {
                let! a = c.DispatchAsync(p, [| 1..60 |])
                let! b = c.DispatchAsync(other, [| 1..20 |])
                let! rb = c.WaitAsync(other, b, TimeSpan.FromSeconds 60.0)
                let! infoA = store.GetExecutionAsync a
                let! ra = c.WaitAsync(p, a, TimeSpan.FromSeconds 60.0)
                Expect.isTrue rb.IsOk "other work ran"
                return ra, infoA.State <> ExecutionState.Completed })
            Expect.equal (value r).Count 60 "every call made"
            Expect.isLessThanOrEqual Stent.Examples.CSharp.PracticePatterns.PeakConcurrentCalls 5 "never more than 5 at once"
            Expect.isTrue otherDoneFirst "the uncapped batch finished while the capped backlog was still running"
            crashEverywhere p [| 1..30 |]
            crashEverywhere Fs.rateLimitedBatch [ 1..30 ]
        }
        test "12. best practices: an idempotent result is reused by key across executions; cleanup runs on success and failure" {
            let store = Stent.Sqlite.SqliteWorkStore.InMemory()
            let idem = Workflow.define "idem_twice" (fun (id: int) -> Stent.Examples.CSharp.PracticePatterns.IdempotentProcess.Call id)
            let cleanup = Stent.Examples.CSharp.PracticePatterns.BatchWithCleanup
            let first, second, ok, failed, h = withWorkers 1 store opts (fun w -> w.Register(idem).Register(cleanup)) (fun c -> task {
                let! a = c.DispatchAsync(idem, 7)
                let! ra = c.WaitAsync(idem, a, TimeSpan.FromSeconds 30.0)
                let! b = c.DispatchAsync(idem, 7)
                let! rb = c.WaitAsync(idem, b, TimeSpan.FromSeconds 30.0)
                let! x = c.DispatchAsync(cleanup, struct (3, false))
                let! rx = c.WaitAsync(cleanup, x, TimeSpan.FromSeconds 30.0)
                let! y = c.DispatchAsync(cleanup, struct (3, true))
                let! ry = c.WaitAsync(cleanup, y, TimeSpan.FromSeconds 30.0)
                let! hy = store.ReadAsync y
                return value ra, value rb, rx, ry, List.ofSeq hy })
            Expect.equal second first "the second execution reused the first one's stored result"
            Expect.equal (value ok) 1 "success"
            Expect.equal (error failed).Message "aggregation failed" "the failure is kept"
            let deleted = h |> List.tryPick (function :? Stent.Replay.StepCompleted as s when s.Output = "3" -> Some s | _ -> None)
            Expect.isSome deleted "the cleanup deleted the 3 files after the failure"
            crashEverywhere cleanup struct (3, true)
            crashEverywhere Fs.slowWithCleanup "/tmp/batch-7"
        }
    ]

let fsharpTests =
    testList "Guide patterns in F#" [
        test "5, 9, 12 and 13 in F#: cap across workers, logging once, idempotent reuse, saga, approval" {
            let store = Stent.Sqlite.SqliteWorkStore.InMemory()
            let logs = new LoggingCapture.CaptureLogs()
            let options id = WorkerOptions(WorkerId = id, Serializer = Json.serializer, PollMax = TimeSpan.FromMilliseconds 50.0, LoggerFactory = logs)
            let register (w: Worker) =
                w.Register(Fs.rateLimitedBatch).Register(Fs.monitored).Register(Fs.bookTrip).Register(Fs.awaitApproval)
                 .Register(Workflow.define "fs_idem" (fun (id: int) -> Fs.idempotentProcess.Call id))
            let idem = Workflow.define "fs_idem" (fun (id: int) -> Fs.idempotentProcess.Call id)
            let capped, logged, firstIdem, secondIdem, trip, failedTrip, approved =
                withWorkers 2 store options register (fun c -> task {
                    let! a = c.DispatchAsync(Fs.rateLimitedBatch, [ 1..30 ])
                    let! ra = c.WaitAsync(Fs.rateLimitedBatch, a, TimeSpan.FromSeconds 30.0)
                    let! b = c.DispatchAsync(Fs.monitored, [ 1..120 ])
                    let! rb = c.WaitAsync(Fs.monitored, b, TimeSpan.FromSeconds 30.0)
                    let! i1 = c.DispatchAsync(idem, 3)
                    let! r1 = c.WaitAsync(idem, i1, TimeSpan.FromSeconds 30.0)
                    let! i2 = c.DispatchAsync(idem, 3)
                    let! r2 = c.WaitAsync(idem, i2, TimeSpan.FromSeconds 30.0)
                    let! t = c.DispatchAsync(Fs.bookTrip, ("ann", false))
                    let! rt = c.WaitAsync(Fs.bookTrip, t, TimeSpan.FromSeconds 30.0)
                    let! f = c.DispatchAsync(Fs.bookTrip, ("bob", true))
                    let! rf = c.WaitAsync(Fs.bookTrip, f, TimeSpan.FromSeconds 30.0)
                    let! s = c.DispatchAsync(Fs.awaitApproval, "30s")
                    let! delivered = c.SignalAsync(s, "approval", "dana")
                    Expect.isTrue delivered "the signal was delivered"
                    let! rs = c.WaitAsync(Fs.awaitApproval, s, TimeSpan.FromSeconds 30.0)
                    return value ra, value rb, value r1, value r2, value rt, rf, value rs })
            Expect.equal capped.Length 30 "every capped call"
            Expect.equal logged 120 "monitored batch"
            Expect.equal (logs.Records |> List.filter (fun l -> l.Message = "Starting batch processing of 120")).Length 1 "logged once"
            Expect.equal secondIdem firstIdem "idempotent result reused"
            Expect.equal trip [ "flight-ann"; "hotel-ann"; "car-ann" ] "saga booked everything"
            Expect.equal (error failedTrip).Message "no cars left" "saga failed with the step's error after compensating"
            Expect.equal approved "approved by dana" "approval"
        }
    ]
