/// The F# DSL: the workflow { } builder's every form, module functions, and F# types through serialization.
module DslTests

open System
open Expecto
open Stent
open Stent.Dsl
open Support

type Shape =
    | Circle of radius: float
    | Square of side: float

type Order = { Id: int; Shapes: Shape list; Note: string option; Tags: Set<string> }

let tests =
    testList "Dsl" [
        test "let!, do!, return, return! and match! run in order" {
            let calls = Calls()
            let inc = counted calls "inc"
            let w = workflow {
                let! a = inc.Call 1
                do! Workflow.sleep "1s"
                match! inc.Call a with
                | 3 -> return! inc.Call 10
                | _ -> return -1 }
            Expect.equal (value (run w)) 11 "value"
            Expect.equal calls.Total 3 "steps"
        }
        test "and! runs both sides concurrently" {
            let inc = counted (Calls()) "inc"
            let w = workflow {
                let! a = inc.Call 1
                and! b = inc.Call 2
                return a + b }
            Expect.equal (value (run w)) 5 "both"
        }
        test "for over a list runs the body once per item, in order" {
            let calls = Calls()
            let inc = counted calls "inc"
            let w = workflow {
                for i in [ 1..5 ] do
                    let! _ = inc.Call i
                    do! Workflow.progress $"item {i}" (int64 i) 5L
                return calls.Total }
            value (run w) |> ignore
            Expect.equal calls.Total 5 "five steps"
        }
        test "try/with catches a workflow error as WorkflowErrorException" {
            let w = workflow {
                try
                    let! x = Workflow.fail<int> "nope"
                    return x
                with WorkflowErrorException e -> return e.Message.Length }
            Expect.equal (value (run w)) 4 "caught"
        }
        test "try/finally runs the finally block on success and error" {
            let mutable ran = 0
            let ok = workflow {
                try return 1
                finally ran <- ran + 1 }
            Expect.equal (value (run ok)) 1 "value"
            let bad = workflow {
                try
                    let! x = Workflow.fail<int> "bad"
                    return x
                finally ran <- ran + 1 }
            Expect.isTrue (error (run bad)).IsBusiness "error kept"
            Expect.isGreaterThanOrEqual ran 2 "finally ran for both"
        }
        test "F# records, unions, options and sets round-trip through steps" {
            let echo = Durable.createSync "echo_order" (fun (o: Order) _ -> { o with Id = o.Id + 1 })
            let order = { Id = 1; Shapes = [ Circle 1.5; Square 2.0 ]; Note = Some "n"; Tags = set [ "a"; "b" ] }
            let r = value (run (echo.Call order))
            Expect.equal r { order with Id = 2 } "round trip"
            let none = value (run (echo.Call { order with Note = None }))
            Expect.isNone none.Note "None survives"
        }
        test "pipeable module functions compose" {
            let inc = counted (Calls()) "inc"
            let w =
                [ 1..10 ]
                |> Workflow.chunk 3 (Some "10ms") (Workflow.traverse inc.Call)
                |> Workflow.map List.sum
                |> Workflow.bind (fun s -> if s > 0 then Workflow.ret s else Workflow.fail "empty")
                |> Workflow.retry RetryPolicy.None
            Expect.equal (value (run w)) 65 "sum of 2..11"
        }
        test "waitForTimeout gives Some payload, or None when the wait timed out, as an F# option" {
            use e = env ()
            let approval = Workflow.signal<string> "approval"
            let wf = Workflow.define "fs_optional_wait" (fun () -> approval |> Workflow.waitForTimeout "1h")
            let id = e.Register(wf).DispatchAsync(wf, ()).Result
            e.RunUntilIdleAsync().Wait()
            Expect.equal (value (e.ResultAsync<string option>(id).Result)) None "None after the hour"
            let id = e.DispatchAsync(wf, ()).Result
            e.Client.SignalAsync(id, approval, "gail").Wait()
            e.RunUntilIdleAsync().Wait()
            Expect.equal (value (e.ResultAsync<string option>(id).Result)) (Some "gail") "the payload"
        }
        test "waitForSignal, log and setState: a signal by name, a line written once, state shown by the client" {
            use e = env ()
            let wf = Workflow.define "fs_signal_log_state" (fun () -> workflow {
                do! Workflow.setState "stage" "waiting"
                let! n = Workflow.waitForSignal<int> "go"
                do! Workflow.log Microsoft.Extensions.Logging.LogLevel.Information "got {N}" [ box n ]
                do! Workflow.setState "stage" "done"
                return n * 2 })
            let id = e.Register(wf).DispatchAsync(wf, ()).Result
            e.RunUntilIdleAsync().Wait()
            e.Client.SignalAsync(id, "go", 21).Wait()
            e.RunUntilIdleAsync().Wait()
            Expect.equal (value (e.ResultAsync<int>(id).Result)) 42 "the signal's payload"
            let d = e.Client.GetAsync(id).Result
            Expect.equal d.CustomState["stage"] "\"done\"" "the last state set"
            Expect.isTrue (e.Store.ReadAsync(id).Result |> Seq.exists (fun ev -> ev :? Stent.Replay.LogRecorded))
                "the line recorded"
        }
        test "saga { } runs itself; a failing step undoes the finished ones in reverse order" {
            let undone = Collections.Concurrent.ConcurrentQueue<string>()
            let book = Durable.createSync "fs_saga_book" (fun (what: string) _ ->
                if what = "car" then invalidOp "no cars left"
                what)
            let cancel = Durable.createSync "fs_saga_cancel" (fun (what: string) _ -> undone.Enqueue what; what)
            let undo what = cancel.Call what |> Workflow.ignore
            let trip (withCar: bool) = saga {
                let! flight = book.Call "flight" |> Saga.step undo
                let! hotel = book.Call "hotel" |> Saga.step undo
                let! car = (if withCar then book.Call "car" else Workflow.ret "no car") |> Saga.step undo
                return [ flight; hotel; car ] }
            Expect.equal (value (run (trip false))) [ "flight"; "hotel"; "no car" ] "all booked"
            Expect.isEmpty undone "nothing undone"
            Expect.stringContains (error (run (trip true))).Message "no cars left" "the failing step's error"
            Expect.equal (List.ofSeq undone) [ "hotel"; "flight" ] "undone in reverse order"
        }
        test "F# takes durations as text wherever C# does" {
            let dispatch = Stent.Execution.DispatchOptions(MaxDuration = "2h", Delay = "1m")
            let durable = DurableOptions(Timeout = "30s", Retry = RetryPolicy.Exponential(3, "1s", max = "1m"))
            let schedule = Stent.Scheduling.ScheduleOptions(MaxDuration = "1h", MissedAfter = "5m")
            Expect.equal dispatch.MaxDuration.Value (TimeSpan.FromHours 2.0) "MaxDuration"
            Expect.equal dispatch.Delay.Value (TimeSpan.FromMinutes 1.0) "Delay"
            Expect.equal durable.Timeout.Value (TimeSpan.FromSeconds 30.0) "Timeout"
            Expect.equal durable.Retry.MaxDelay (TimeSpan.FromMinutes 1.0) "a retry's cap"
            Expect.equal schedule.MaxDuration.Value (TimeSpan.FromHours 1.0) "a schedule's MaxDuration"
            Expect.isTrue (Stent.Execution.DispatchOptions()).MaxDuration.IsZero "unset is zero: no limit"
        }
    ]
