/// What a worker fleet can rely on when things go wrong, on every store: step timeouts that hold, cancellation and
/// deadlines that reach running steps, shutdown that hands work back, unreadable data that fails one step, and waits
/// that honour their token. (Worker processes killed mid-step: CrashTests.)
module FailureSemanticsTests

open System
open System.Diagnostics
open System.Threading
open System.Threading.Tasks
open Expecto
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Replay
open Stent.Serialization
open Stent.Storage
open Support
open WorkStoreConformance

/// Default worker options (the latencies below hold with them), with the DSL's serializer.
let private options id = WorkerOptions(WorkerId = id, Serializer = Json.serializer)

/// A worker that decides executions but runs only steps of the default queue, and one that runs the "apart" queue.
let private deciderAndRunner store (wf: WorkflowDef<'I, 'O>) (step: Durable<'A, 'B>) =
    [ Worker(store, WorkerOptions(WorkerId = "decider", Serializer = Json.serializer, Queues = [||])).Register wf
      Worker(store, WorkerOptions(WorkerId = "runner", Serializer = Json.serializer, Queues = [| "apart" |]))
          .Register step ]

/// A step on the "apart" queue that waits a minute on its token and notes when the token fired.
let private tokenWatcher name (started: ManualResetEventSlim) (fired: int64 ref) =
    Durable.createWith (DurableOptions(Queue = "apart", Retry = RetryPolicy.None)) name (fun (x: int) ctx -> task {
        use _ = ctx.CancellationToken.Register(fun () -> fired.Value <- Stopwatch.GetTimestamp())
        started.Set()
        do! Task.Delay(60_000, ctx.CancellationToken)
        return x })

/// Runs a workflow of one `tokenWatcher` step (on the runner; the decider decides) with an optional MaxDuration;
/// once the step runs, `act` stops it somehow and says when it did. Returns the time from then to the step's token,
/// after checking the execution ended as cancelled or timed out.
let private untilToken store (name: string) (maxDuration: string option) (act: StentClient -> string -> int64) =
    let started = new ManualResetEventSlim()
    let fired = ref 0L
    let step = tokenWatcher $"watch_{name}" started fired
    let wf = Workflow.define $"{name}_while_running" (fun () -> step.Call 1)
    serve store (deciderAndRunner store wf step) (fun c ->
        let limit = maxDuration |> Option.map Duration.Parse |> Option.defaultValue Duration.Zero
        let options = DispatchOptions(MaxDuration = limit)
        let id = c.DispatchAsync(wf, (), options).Result
        Expect.isTrue (started.Wait(TimeSpan.FromSeconds 20.0)) "the step started"
        let from = act c id
        waitUntil "the token" 10.0 (fun () -> fired.Value <> 0L)
        let r = c.WaitAsync(wf, id, TimeSpan.FromSeconds 10.0).Result
        Expect.contains [ "cancelled"; "timed out" ] r.Error.Message "the execution was stopped"
        Stopwatch.GetElapsedTime(from, fired.Value))

let private suite (kind: Kind) =
    let fresh () = (kind.Fresh ()) ()
    testList kind.Name [
        test "an attempt past its timeout fails and is retried though its body ignores the token; late results drop" {
            let store = fresh ()
            let runs = ref 0
            let slow =
                let twice = RetryPolicy.Fixed(2, Duration.Parse "10ms")
                Durable.createSyncWith (DurableOptions(Timeout = Duration.Parse "200ms", Retry = twice))
                    "ignores_token" (fun (x: int) _ -> Interlocked.Increment runs |> ignore; Thread.Sleep 3000; x)
            let quick = Durable.createSync "quick" (fun (x: int) _ -> x + 1)
            let wf = Workflow.define "timeouts" (fun () -> Workflow.traverseAll id [ slow.Call 1; quick.Call 2 ])
            let one = WorkerOptions(WorkerId = "w", Serializer = Json.serializer, MaxConcurrency = 1)
            let r, id, took = serve store [ Worker(store, one).Register wf ] (fun c ->
                let id = c.DispatchAsync(wf, ()).Result
                let watch = Stopwatch.StartNew()
                let r = c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0).Result
                r, id, watch.Elapsed)
            match value r with
            | [ Error (:? Failure as f); Ok v ] ->
                Expect.equal f.ErrorType typeof<TimeoutException>.FullName "the slow step timed out"
                Expect.equal v 3 "the other step ran in the freed slot"
            | other -> failtest $"unexpected outcomes {other}"
            Expect.isLessThan took.TotalSeconds 2.0 "both attempts were abandoned at their deadline, not awaited"
            Expect.equal runs.Value 2 "the policy's two attempts ran"
            Thread.Sleep 3200
            let h = store.ReadAsync(id).Result
            let failed = h |> Seq.choose (function :? StepFailed as f -> Some f.Attempts | _ -> None) |> List.ofSeq
            Expect.equal failed [ 2 ] "failed after its second attempt"
            let completed = h |> Seq.filter (fun e -> e :? StepCompleted) |> Seq.length
            Expect.equal completed 1 "the abandoned bodies' late results were not recorded"
        }
        test "cancelling an execution fires the token of its step running on another worker within about a second" {
            let latency = untilToken (fresh ()) "cancel" None (fun c id ->
                let cancelledAt = Stopwatch.GetTimestamp()
                Expect.isTrue (c.CancelAsync(id).Result) "cancel accepted"
                cancelledAt)
            printfn $"cancel to token ({kind.Name}, step on another worker): {latency.TotalMilliseconds:F0} ms"
            Expect.isLessThan latency.TotalSeconds 1.5 "the token fired within about a second"
        }
        test "a MaxDuration deadline fires the token of a running step within about a second" {
            let dispatched = Stopwatch.GetTimestamp()
            let late = untilToken (fresh ()) "deadline" (Some "1s") (fun _ _ -> dispatched) - TimeSpan.FromSeconds 1.0
            printfn $"deadline to token ({kind.Name}): {late.TotalMilliseconds:F0} ms"
            Expect.isLessThan late.TotalSeconds 1.5 "the token fired within about a second of the deadline"
        }
        test "a stopped worker fires its steps' tokens after the grace, hands them back; another starts them at once" {
            let store = fresh ()
            let slowMode = ref true
            let started = new CountdownEvent(2)
            let tokenFired = new ManualResetEventSlim()
            let runs = Calls()
            let honours = Durable.create "honours_token" (fun (x: int) ctx -> task {
                runs.Hit ctx
                if slowMode.Value then
                    use _ = ctx.CancellationToken.Register(fun () -> tokenFired.Set())
                    started.Signal() |> ignore
                    do! Task.Delay(60_000, ctx.CancellationToken)
                return x * 2 })
            let ignores = Durable.createSync "ignores_shutdown" (fun (x: int) ctx ->
                runs.Hit ctx
                if slowMode.Value then
                    started.Signal() |> ignore
                    Thread.Sleep 3000
                x * 3)
            let wf = Workflow.define "handed_back" (fun () ->
                Workflow.whenAll [ honours.Call 1; ignores.Call 2 ] |> Workflow.map List.sum)
            let grace = TimeSpan.FromMilliseconds 300.0
            let first =
                Worker(store, WorkerOptions(WorkerId = "first", Serializer = Json.serializer, ShutdownGrace = grace))
            use stop = new CancellationTokenSource()
            let serving = Task.Run(fun () -> first.Register(wf).ServeAsync stop.Token)
            let id = StentClient(store, Json.serializer).DispatchAsync(wf, ()).Result
            Expect.isTrue (started.Wait(TimeSpan.FromSeconds 20.0)) "both steps started"
            let watch = Stopwatch.StartNew()
            stop.Cancel()
            Expect.isTrue (serving.Wait(TimeSpan.FromSeconds 10.0)) "the worker stopped"
            let stopped = watch.Elapsed
            Expect.isTrue tokenFired.IsSet "the running step's token fired"
            Expect.isLessThan stopped.TotalSeconds 2.0 "it stopped after the grace, not after its steps or their leases"
            slowMode.Value <- false
            let restart = Stopwatch.StartNew()
            let r = serve store [ Worker(store, options "second").Register wf ] (fun c ->
                c.WaitAsync(wf, id, TimeSpan.FromSeconds 20.0).Result)
            Expect.equal (value r) 8 "the second worker ran both"
            let took, elsewhere = stopped.TotalMilliseconds, restart.Elapsed.TotalMilliseconds
            printfn $"shutdown ({kind.Name}): stopped in {took:F0} ms, done elsewhere {elsewhere:F0} ms later"
            Expect.isLessThan restart.Elapsed.TotalSeconds 5.0 "at once, not after the 30 s lease"
            Expect.equal (runs.For $"{id}/0.0/0", runs.For $"{id}/0.1/0") (2, 2) "each ran once per worker"
        }
        test "a step input that does not read as its function's input type is dead-lettered at once, naming both" {
            let store = fresh ()
            let apart = DurableOptions(Queue = "apart")
            let asText = Durable.createSyncWith apart "typed_input" (fun (s: string) _ -> s.Length)
            let runs = ref 0
            let asNumber =
                let thrice = RetryPolicy.Fixed(3, Duration.Parse "10ms")
                Durable.createSyncWith (DurableOptions(Queue = "apart", Retry = thrice))
                    "typed_input" (fun (x: int) _ -> Interlocked.Increment runs |> ignore; x)
            let wf = Workflow.define "input_changed" (fun () -> asText.Call "abc" |> Workflow.attempt)
            let r, id = serve store (deciderAndRunner store wf asNumber) (fun c ->
                let id = c.DispatchAsync(wf, ()).Result
                c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0).Result, id)
            match value r with
            | Ok v -> failtest $"expected a failure, got {v}"
            | Error e ->
                Expect.equal (e :?> Failure).ErrorType typeof<PayloadException>.FullName "a payload failure"
                Expect.stringContains e.Message "step 'typed_input'" "names the step"
                Expect.stringContains e.Message "System.Int32" "names the type"
            Expect.equal runs.Value 0 "the function never ran"
            let failed =
                store.ReadAsync(id).Result |> Seq.choose (function :? StepFailed as f -> Some f.Attempts | _ -> None)
            Expect.equal (List.ofSeq failed) [ 1 ] "after one attempt, although the policy allows three"
            let letters = store.ListDeadLettersAsync().Result |> Seq.filter (fun d -> d.ExecutionId = id)
            Expect.equal (Seq.length letters) 1 "dead-lettered"
        }
        test "a step result the workflow cannot read fails that step, and Attempt sees the failure" {
            let store = fresh ()
            let apart = DurableOptions(Queue = "apart")
            let expectsNumber = Durable.createSyncWith apart "typed_result" (fun (x: int) _ -> x)
            let givesText = Durable.createSyncWith apart "typed_result" (fun (_: int) _ -> "abc")
            let wf = Workflow.define "result_changed" (fun () ->
                expectsNumber.Call 1
                |> Workflow.attempt
                |> Workflow.map (function Ok v -> $"ok {v}" | Error e -> $"caught: {e.Message}"))
            let r, state = serve store (deciderAndRunner store wf givesText) (fun c ->
                let id = c.DispatchAsync(wf, ()).Result
                c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0).Result, store.GetExecutionAsync(id).Result.State)
            Expect.equal state ExecutionState.Completed "the workflow handled it and completed"
            let said = "caught: At 0, the result of step 'typed_result' cannot be read as 'System.Int32'"
            Expect.stringContains (value r) said "names step and type"
        }
        test "executions dispatched with a higher priority run their steps before queued lower-priority ones" {
            let store = fresh ()
            let order = Collections.Concurrent.ConcurrentQueue<string>()
            let step = Durable.create "prioritised" (fun (label: string) _ -> task {
                order.Enqueue label
                do! Task.Delay 100
                return label })
            let wf = Workflow.define "prioritised_run" (fun (label: string) -> step.Call label)
            let one = WorkerOptions(WorkerId = "w", Serializer = Json.serializer, MaxConcurrency = 1)
            serve store [ Worker(store, one).Register wf ] (fun c ->
                let lows = [ for i in 1..12 -> c.DispatchAsync(wf, $"low{i}").Result ]
                waitUntil "the first low step" 20.0 (fun () -> not order.IsEmpty)
                let highs = [ for i in 1..4 -> c.DispatchAsync(wf, $"high{i}", DispatchOptions(Priority = 10)).Result ]
                for id in lows @ highs do c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0).Result |> ignore)
            let ran = List.ofSeq order
            let first = ran |> List.findIndex (fun l -> l.StartsWith "high")
            Expect.isLessThanOrEqual first 2 $"the high ones came next (the worker was busy with a low one): %A{ran}"
            let together = ran |> List.skip first |> List.take 4 |> List.forall (fun l -> l.StartsWith "high")
            Expect.isTrue together $"all together: %A{ran}"
        }
        test "a client's wait ends as soon as its token is cancelled" {
            let store = fresh ()
            let wf = Workflow.define "never_served" (fun () -> Workflow.ret 1)
            let c = StentClient(store, Json.serializer)
            let id = c.DispatchAsync(wf, ()).Result
            use cts = new CancellationTokenSource(TimeSpan.FromMilliseconds 200.0)
            let watch = Stopwatch.StartNew()
            let wait = c.WaitAsync(wf, id, ct = cts.Token)
            let ended = try wait.Wait(TimeSpan.FromSeconds 5.0) with :? AggregateException -> true
            Expect.isTrue ended "the wait ended"
            Expect.isTrue wait.IsCanceled "as cancelled"
            Expect.isLessThan watch.Elapsed.TotalSeconds 1.0 "at once"
        }
    ]

/// Sequenced: the latencies measured here are the worker's, not those of a thread pool shared with other tests.
let tests = testSequenced (testList "Failure semantics" (kinds |> List.map suite))
