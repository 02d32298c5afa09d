/// The README's F# sample, compiled: README.md quotes the region between the readme markers verbatim (a test checks).
module Stent.Examples.Readme

// <readme:fsharp>
open Stent
open Stent.Dsl

type Item = { Id: int; Status: string }

let processItem = Durable.createSync "readme_process_item" (fun (id: int) _ -> { Id = id; Status = "processed" })

let batch = Workflow.define "readme_batch" (fun (ids: int list) -> workflow {
    let! results = ids |> Workflow.traverseAll processItem.Call
    let ok = results |> List.choose Result.toOption
    if ok.IsEmpty then return! Workflow.fail "nothing succeeded"
    else return ok.Length })
// </readme:fsharp>

// <readme:fsharptest>
open FsCheck.FSharp
open Stent.Execution
open Stent.Testing

/// For `count` lists of ids: a crash at any store write changes nothing, and the history replays exactly.
let batchSurvivesCrashes (count: int) =
    let ids = ArbMap.defaults |> ArbMap.arbitrary<int list>
    let options = WorkerOptions(Serializer = Json.serializer)      // F# types through Stent.Dsl's JSON
    let config = FsCheck.Config.QuickThrowOnFailure.WithMaxTest count
    FsCheck.Check.One(config, WorkflowProperties.SurvivesCrashes(batch, ids, options))
// </readme:fsharptest>
