/// Example-based tests for every combinator of the Workflow algebra, run through the real interpreter and runtime.
module CombinatorTests

open System
open System.Threading
open System.Threading.Tasks
open Expecto
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Replay
open Stent.Storage
open Stent.Sqlite
open Stent.Testing
open Support

let private failing name (calls: Calls) (failFirst: int) =
    Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.Fixed(3, Duration.Parse "1s"))) name (fun (x: int) ctx ->
        calls.Hit ctx
        if ctx.Attempt <= failFirst then raise (IO.IOException $"boom {x} attempt {ctx.Attempt}")
        x * 10)

let tests =
    testList "Combinators" [
        test "pure and map produce values without recording steps" {
            let r, h = runFresh (Workflow.define "w" (fun (x: int) -> Workflow.ret x |> Workflow.map ((+) 1))) 41
            Expect.equal (value r) 42 "value"
            Expect.isEmpty (h |> Seq.filter (fun e -> e :? StepScheduled)) "no steps"
        }
        test "bind sequences steps and C# query syntax shapes compose" {
            let calls = Calls()
            let inc = counted calls "inc"
            let w = inc.Call 1 |> Workflow.bind inc.Call |> Workflow.bind inc.Call
            Expect.equal (value (run w)) 4 "1+1+1+1"
            Expect.equal calls.Total 3 "three steps"
            let q = (inc.Call 1).SelectMany((fun a -> inc.Call a), (fun a b -> a * 100 + b))
            Expect.equal (value (run q)) 203 "select many with projection"
        }
        test "a step that throws is retried by its policy and recorded with the chosen retry time" {
            let calls = Calls()
            let f = failing "flaky" calls 2
            let r, h = runFresh (Workflow.define "w" (fun () -> f.Call 4)) ()
            Expect.equal (value r) 40 "third attempt succeeds"
            Expect.equal calls.Total 3 "three attempts"
            let retries = h |> Seq.choose (function :? StepAttemptFailed as a -> Some a | _ -> None) |> List.ofSeq
            Expect.equal (retries |> List.map (fun a -> a.Attempt)) [ 1; 2 ] "attempts recorded"
            Expect.stringContains retries[0].Error.Message "boom 4" "error kept"
        }
        test "a step failing after its last retry is a failure, distinguishable from a business error" {
            let calls = Calls()
            let f = failing "broken" calls 99
            let e = error (run (f.Call 1))
            Expect.isTrue e.IsFailure "failure"
            Expect.isFalse e.IsBusiness "not business"
            match e with
            | :? Failure as f ->
                Expect.equal f.ErrorType "System.IO.IOException" "type kept"
                Expect.equal f.Step "broken" "step named"
            | _ -> failtest "not a Failure"
            let b = error (run (Workflow.fail<int> "nothing succeeded"))
            Expect.isTrue b.IsBusiness "business"
            Expect.equal b.Message "nothing succeeded" "message"
        }
        test "traverse keeps input order and fails fast with the failing item's error" {
            let calls = Calls()
            let inc = counted calls "inc"
            Expect.equal (value (run ([ 5; 3; 9; 1 ] |> Workflow.traverse inc.Call))) [ 6; 4; 10; 2 ] "order"
            let f = failing "bad" (Calls()) 99
            let w = [ 1; 2; 3 ] |> Workflow.traverse (fun i -> if i = 2 then f.Call i else inc.Call i)
            Expect.stringContains (error (run w)).Message "boom 2" "fails with item 2"
        }
        test "a fail-fast race is settled by the decision that saw the failure first, and replays the same way" {
            let bad = failing "bad" (Calls()) 99
            let slowBad =
                Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.Fixed(3, Duration.Parse "1h"))) "slow_bad" (fun (x: int) ctx ->
                    raise (IO.IOException $"boom {x} attempt {ctx.Attempt}"))
            let echo = Durable.createSync "echo" (fun (s: string) _ -> s)
            let slowFail = slowBad.Call 1
            let fastFail = bad.Call 2
            let w = Workflow.define "race" (fun () ->
                Workflow.whenAll [ slowFail; fastFail ]
                |> Workflow.map (fun _ -> "none")
                |> Workflow.recover (fun e -> e.Message)
                |> Workflow.bind (fun m -> Workflow.sleep "3h" |> Workflow.bind (fun () -> echo.Call m)))
            let r, h = runFresh w ()
            Expect.stringContains (value r) "boom 2" "the failure seen first wins, though item 1 failed later with a lower index"
            Expect.isTrue (h |> Seq.exists (function :? StepFailed as f -> f.Error.Message.Contains "boom 1" | _ -> false)) "item 1 did fail later"
            let replay = Interpreter.Decide(w, h, Json.serializer, DateTimeOffset.MaxValue, Random 1, true)
            Expect.equal replay.State ExecutionState.Completed "replays with every input as recorded"
        }
        test "traverseAll gives one Result per item in input order" {
            let f = failing "bad" (Calls()) 99
            let inc = counted (Calls()) "inc"
            let rs = value (run ([ 1; 2; 3 ] |> Workflow.traverseAll (fun i -> if i = 2 then f.Call i else inc.Call i)))
            match rs with
            | [ Ok 2; Error e; Ok 4 ] -> Expect.stringContains e.Message "boom 2" "error kept"
            | other -> failtestf "unexpected %A" other
        }
        test "a fan-out of a durable function makes each item's branch when it is reached, as its call would" {
            let inc = Durable.createSync "inc_lazy" (fun (x: int) _ -> x + 1)
            let items = [ 3; 1; 2 ]
            let branches (w: Workflow<_>) =
                match w.Node with
                | :? Stent.Workflows.MapNode as m -> (m.Source :?> Stent.Workflows.ParallelNode).Branches
                | other -> failwithf "not a fan-out: %A" other
            let mapped, all = branches (items.Map inc), branches (items.TraverseAll inc)
            Expect.equal mapped.Count 3 "one branch per item"
            Expect.sequenceEqual mapped [ for x in items -> (inc.Call x).Node ] "each branch is the item's step"
            Expect.sequenceEqual all [ for x in items -> (inc.Call(x).Attempt()).Node ] "each branch is its attempt"
            Expect.isFalse (obj.ReferenceEquals(mapped[0], mapped[0])) "made at each access, not kept"
        }
        test "Map schedules every step in one decision and returns values in input order" {
            let inc = counted (Calls()) "inc"
            let items = [ 1..500 ]
            let r, h = runFresh (Workflow.define "m" (fun (xs: int list) -> xs.Map(inc) |> Workflow.map List.ofSeq)) items
            Expect.equal (value r) [ 2..501 ] "order"
            let firstDecision = h |> Seq.findIndex (fun e -> e :? DecisionCompleted)
            let scheduled = h |> Seq.take firstDecision |> Seq.filter (fun e -> e :? StepScheduled) |> Seq.length
            Expect.equal scheduled 500 "the first decision schedules every step in one append"
        }
        test "chunk covers 1,001 items in 11 chunks with a progress report and a durable pause between chunks" {
            let calls = Calls()
            let inc = counted calls "inc"
            let r, h =
                runFresh (Workflow.define "c" (fun (xs: int list) ->
                    xs.Chunk(100, inc, Duration.Parse "100ms") |> Workflow.map List.ofSeq)) [ 1..1001 ]
            let rs = value r
            Expect.equal rs.Length 1001 "every item"
            Expect.equal (rs |> List.map (fun r -> r.Value)) [ 2..1002 ] "in order"
            Expect.equal calls.Total 1001 "each once"
            let progress = h |> Seq.choose (function :? ProgressReported as p -> Some p.Report | _ -> None) |> List.ofSeq
            Expect.equal progress.Length 11 "11 reports"
            Expect.equal (List.last progress).Done 1001L "done"
            Expect.equal (h |> Seq.filter (fun e -> e :? TimerStarted) |> Seq.length) 10 "10 pauses"
        }
        test "chunk rejects a zero or negative size naming it, before anything runs" {
            for size in [ 0; -1 ] do
                let e = throws<ArgumentOutOfRangeException> (fun () -> [ 1; 2 ] |> Workflow.chunk size None (Workflow.traverse Workflow.ret) |> ignore)
                Expect.stringContains e.Message (string size) "names size"
        }
        test "a registry takes one thing per name, and dispatch by an unknown name lists the registered ones, closest first" {
            let probe = Durable.createSync "registry-probe" (fun (x: int) _ -> x)
            let registry = Registry().Add(probe).Add(probe)
            let e = throws<ArgumentException> (fun () -> registry.Add(Durable.createSync "registry-probe" (fun (x: int) _ -> x + 1)) |> ignore)
            Expect.stringContains e.Message "'registry-probe'" "names the function"
            let batch = Workflow.define "nightly_batch" (fun (x: int) -> Workflow.ret x)
            let client = StentClient(SqliteWorkStore.InMemory(), Json.serializer).Register(batch).Register(Workflow.define "weekly_report" (fun (x: int) -> Workflow.ret x))
            let e = throws<Collections.Generic.KeyNotFoundException> (fun () -> client.DispatchAsync("nightly_bach", 1).Wait())
            Expect.stringContains e.Message "Unknown workflow 'nightly_bach' (registered: 'nightly_batch', 'weekly_report')" "closest first"
            let e = throws<ArgumentException> (fun () -> client.DispatchAsync("nightly_batch", "one").Wait())
            Expect.stringContains e.Message "takes System.Int32, not System.String" "a wrong input type is named"
            Expect.isNonEmpty (client.DispatchAsync("nightly_batch", 1).Result) "a registered name dispatches"
        }
        test "null items are rejected naming the index" {
            let e = throws<ArgumentNullException> (fun () -> [ "a"; null ] |> Workflow.traverse Workflow.ret |> ignore)
            Expect.stringContains e.Message "index 1" "index"
        }
        test "sleep is a durable timer on the store's clock" {
            use e = env ()
            let start = e.Time.GetUtcNow()
            let w = Workflow.define "s" (fun () -> Workflow.sleep "2d8h" |> Workflow.bind (fun () -> Workflow.now))
            let r = e.RunAsync(w, (), "x").Result
            Expect.equal (value r) (start + TimeSpan.FromHours 56.0) "woke at due time"
            let timer = e.Store.ReadAsync("x").Result |> Seq.pick (function :? TimerStarted as t -> Some t | _ -> None)
            Expect.equal timer.DueAt (start + TimeSpan.FromHours 56.0) "due recorded"
        }
        test "retry over a sub-workflow reruns it after a recorded back-off, and not for business errors" {
            let mutable runs = 0
            let once = Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.None)) "once" (fun (x: int) _ ->
                runs <- runs + 1
                if runs < 3 then failwith "not yet"
                x)
            let r, h = runFresh (Workflow.define "r" (fun () -> once.Call 7 |> Workflow.retry (RetryPolicy.Fixed(5, Duration.Parse "1m")))) ()
            Expect.equal (value r) 7 "third run"
            Expect.equal runs 3 "three runs"
            Expect.equal (h |> Seq.filter (function :? TimerStarted as t -> t.Purpose = TimerPurpose.Retry | _ -> false) |> Seq.length) 2 "two back-offs"
            let mutable biz = 0
            let w = Workflow.delay (fun () -> biz <- biz + 1; Workflow.fail<int> "no") |> Workflow.retry (RetryPolicy.Fixed(5, Duration.Parse "1s"))
            Expect.isTrue (error (run w)).IsBusiness "business error passes"
        }
        test "catch and recover handle errors, attempt turns them into values" {
            let f = failing "bad" (Calls()) 99
            Expect.equal (value (run (f.Call 1 |> Workflow.recover (fun _ -> -1)))) -1 "recover"
            Expect.equal (value (run (f.Call 1 |> Workflow.catch (fun e -> Workflow.ret e.Message.Length)))) ("boom 1 attempt 3".Length) "catch"
            match value (run (Workflow.attempt (Workflow.fail<int> "x"))) with
            | Error e -> Expect.equal e.Message "x" "attempt"
            | Ok _ -> failtest "expected error"
        }
        test "finally runs its cleanup workflow on success and on failure" {
            let calls = Calls()
            let cleanup = counted calls "cleanup"
            Expect.equal (value (run (Workflow.ret 1 |> Workflow.tryFinally (cleanup.Call 0)))) 1 "success kept"
            Expect.equal calls.Total 1 "cleanup ran"
            let e = error (run (Workflow.fail<int> "bad" |> Workflow.tryFinally (cleanup.Call 0)))
            Expect.equal e.Message "bad" "error kept"
            Expect.equal calls.Total 2 "cleanup ran again"
        }
        test "whenAll gives every value, whenAny the first to finish" {
            let inc = counted (Calls()) "inc"
            Expect.equal (value (run (Workflow.whenAll [ inc.Call 1; inc.Call 2 ]))) [ 2; 3 ] "all"
            let slow = Workflow.sleep "1h" |> Workflow.bind (fun () -> Workflow.ret "slow")
            let fast = Workflow.sleep "1s" |> Workflow.bind (fun () -> Workflow.ret "fast")
            Expect.equal (value (run (Workflow.whenAny [ slow; fast ]))) "fast" "any"
        }
        test "now, newGuid and random are recorded once and replayed identically" {
            let w = Workflow.define "rec" (fun () ->
                workflow {
                    let! t = Workflow.now
                    let! g = Workflow.newGuid
                    let! n = Workflow.random 0 1_000_000
                    do! Workflow.sleep "1s"
                    return (t, g, n)
                })
            let r, h = runFresh w ()
            let d = Interpreter.Decide(w, h, Json.serializer, DateTimeOffset.MaxValue, Random 99)
            Expect.equal d.State ExecutionState.Completed "replayed"
            Expect.equal (Json.serializer.Deserialize(d.Output, typeof<DateTimeOffset * Guid * int>) :?> DateTimeOffset * Guid * int) (value r) "same values"
        }
        test "progress is recorded once and reported once" {
            let reports = Collections.Generic.List<string>()
            let opts = WorkerOptions(Serializer = Json.serializer, OnProgress = Action<_, _>(fun _ p -> reports.Add p.Message))
            use e = new TestEnvironment(Func<_, _>(inMemory.Open), opts)
            let w = Workflow.define "p" (fun () -> workflow {
                do! Workflow.progress "half" 1L 2L
                do! Workflow.sleep "1s"
                do! Workflow.progress "all" 2L 2L
                return 0 })
            e.RunAsync(w, ()).Result |> value |> ignore
            Expect.equal (List.ofSeq reports) [ "half"; "all" ] "each once, though the workflow replayed three times"
        }
        test "an idempotent function's result is reused by key across executions" {
            let calls = Calls()
            let f = Durable.createSyncWith (DurableOptions(Idempotent = true, IdempotencyKey = fun x -> $"k{x}")) "idem" (fun (x: int) ctx -> calls.Hit ctx; x * 2)
            use e = env ()
            let w = Workflow.define "i" (fun (x: int) -> f.Call x)
            Expect.equal (value (e.RunAsync(w, 5, "a").Result)) 10 "first"
            Expect.equal (value (e.RunAsync(w, 5, "b").Result)) 10 "second"
            Expect.equal calls.Total 1 "ran once"
        }
        test "a step over its timeout fails with TimeoutException and is retried" {
            let timed = DurableOptions(Timeout = "50ms", Retry = RetryPolicy.Fixed(2, "1s"))
            let f = Durable.createWith timed "slow" (fun (x: int) ctx ->
                task {
                    do! Task.Delay(10_000, ctx.CancellationToken)
                    return x
                })
            let r, h = runFresh (Workflow.define "t" (fun () -> f.Call 1)) ()
            match error r with
            | :? Failure as e -> Expect.equal e.ErrorType "System.TimeoutException" "timeout"
            | e -> failtestf "unexpected %O" e
            Expect.equal (h |> Seq.filter (fun e -> e :? StepAttemptFailed) |> Seq.length) 1 "retried once"
        }
        test "MaxConcurrent caps running steps of a function on a worker that runs many at once" {
            let mutable running = 0
            let mutable peak = 0
            let gate = obj ()
            let f = Durable.createWith (DurableOptions(MaxConcurrent = Nullable 3)) "capped" (fun (x: int) _ ->
                task {
                    let n = Interlocked.Increment(&running)
                    lock gate (fun () -> peak <- max peak n)
                    do! Task.Delay 5
                    Interlocked.Decrement(&running) |> ignore
                    return x })
            let wf = Workflow.define "cap" (fun (xs: int list) -> xs |> Workflow.traverse f.Call)
            let options id = WorkerOptions(WorkerId = id, MaxConcurrency = 16, PollMax = TimeSpan.FromMilliseconds 20.0)
            let r = withWorkers 1 (SqliteWorkStore.InMemory()) options (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, [ 1..60 ])
                return! c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0) })
            Expect.equal (value r).Length 60 "all ran"
            Expect.isLessThanOrEqual peak 3 "cap held"
            Expect.isGreaterThan peak 1 "ran concurrently"
        }
        test "a 10,000-step sequential chain replays without overflowing the stack" {
            let inc = counted (Calls()) "inc"
            let rec chain i acc = if i = 0 then Workflow.ret acc else inc.Call acc |> Workflow.bind (chain (i - 1))
            let w = [ 1..10_000 ] |> List.fold (fun w _ -> w |> Workflow.map id) (Workflow.ret 0) |> Workflow.bind (chain 3)
            Expect.equal (value (run w)) 3 "deep left-nested maps and a chain"
            let deep = Workflow.define "deep" (fun () -> chain 2000 0)
            let r, _ = runFresh deep ()
            Expect.equal (value r) 2000 "2,000 sequential steps"
        }
        test "a payload over the configured limit is rejected at dispatch, naming its size and the limit, and nothing is recorded" {
            use rt = new TestEnvironment(Func<_, _>(inMemory.Open), WorkerOptions(Serializer = Json.serializerWithLimit 1000))
            let w = Workflow.define "big" (fun (s: string) -> Workflow.ret s.Length)
            let e = throws<ArgumentException> (fun () -> rt.DispatchAsync(w, String('x', 5000), "big").Wait())
            Expect.stringContains e.Message "over the payload limit of 1000 bytes" "names the limit"
            Expect.stringContains e.Message "5002 bytes" "names the size"
            Expect.isEmpty (rt.Store.ReadAsync("big").Result) "nothing recorded"
            let step = Durable.createSync "grow" (fun (n: int) _ -> String('y', n))
            let r = rt.RunAsync(Workflow.define "grows" (fun (n: int) -> step.Call n), 5000).Result
            Expect.stringContains (error r).Message "over the payload limit" "an oversized step output is a failure"
        }
        test "an argument that cannot be serialized is a clear failure naming its type" {
            let f = Durable.createSync "fn" (fun (g: Func<int>) _ -> g.Invoke())
            let e = error (run (f.Call(Func<int>(fun () -> 1))))
            Expect.stringContains e.Message "System.Func" "names the type"
        }
        test "a C# project that references Stent keeps LINQ's own Zip, with First and Second" {
            Expect.equal (Stent.TestWorker.ApiShape.PlainZip()) "1a2b" "compiled in tests/worker and run"
        }
        test "Chunk takes a workflow per item with a pause: one result per item, a durable pause between chunks" {
            let each = Workflow.define "chunk_each" (fun (xs: int[]) -> Stent.TestWorker.ApiShape.ChunkPerItem xs)
            let r, h = runFresh each
                                [| 1..5 |]
            Expect.equal (value r |> Seq.map value |> List.ofSeq) [ 2; 4; 6; 8; 10 ] "every item, in order"
            let sleeps = h |> Seq.filter (function :? TimerStarted as t -> t.Purpose = TimerPurpose.Sleep | _ -> false)
            Expect.equal (Seq.length sleeps) 2 "a pause between each two of the three chunks"
        }
        test "default(Result<T>) is not a success, and its error says it is empty" {
            let empty = Unchecked.defaultof<Stent.Result<int>>
            Expect.isFalse empty.IsOk "not Ok"
            Expect.stringContains empty.Error.Message "empty Result<Int32>" "says why"
            Expect.throwsT<InvalidOperationException> (fun () -> empty.Value |> ignore) "no value"
        }
        test "a signal wait with a timeout gives a Stent Optional: the payload, or none when it timed out" {
            use e = env ()
            let wf = Workflow.define "optional_wait" (fun () -> Stent.TestWorker.ApiShape.WaitWithTimeout())
            let id = e.Register(wf).DispatchAsync(wf, ()).Result
            e.RunUntilIdleAsync().Wait()
            Expect.equal (value (e.ResultAsync<string>(id).Result)) "timed out" "none after the hour"
            let id = e.DispatchAsync(wf, ()).Result
            e.Client.SignalAsync(id, "approval", "gail").Wait()
            e.RunUntilIdleAsync().Wait()
            Expect.equal (value (e.ResultAsync<string>(id).Result)) "gail" "the payload"
            Expect.equal (Optional<int>.None.GetValueOrDefault 7) 7 "a fallback for none"
        }
        test "an input whose type does not survive JSON is rejected at dispatch, its type and the loss named" {
            use e = env ()
            let wf = Workflow.define "private_point" (fun (p: Stent.TestWorker.ApiShape.PrivatePoint) ->
                Workflow.ret p.X)
            let ex = throws<ArgumentException> (fun () ->
                e.DispatchAsync(wf, Stent.TestWorker.ApiShape.PrivatePoint(3), "pp").GetAwaiter().GetResult() |> ignore)
            Expect.stringContains ex.Message "ApiShape+PrivatePoint" "names the type"
            Expect.stringContains ex.Message "{\"x\":3} reads back as {\"x\":0}" "shows what is lost"
            Expect.isNull (e.Store.GetExecutionAsync("pp").Result) "nothing recorded"
        }
    ]
