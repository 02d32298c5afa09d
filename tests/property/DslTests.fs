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
    ]
