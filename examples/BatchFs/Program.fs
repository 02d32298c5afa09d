/// Runs the F# versions of the seed's basic batch, image pipeline and chunked patterns and prints their summaries.
module Stent.Examples.Program

open System
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Storage
open Stent.Examples.Patterns

[<EntryPoint>]
let main argv =
    let count = argv |> Array.tryHead |> Option.bind (fun a -> match Int32.TryParse a with | true, n -> Some n | _ -> None) |> Option.defaultValue 200
    let runtime =
        LocalRuntime(InMemoryStore(), LocalRuntimeOptions(Serializer = Json.serializer, OnProgress = Action<_, _>(fun _ p -> printfn $"  progress: {p.Message} {p.Done}/{p.Total}")))
    let ids = [ 1..count ]
    let s = runtime.RunAsync(batch, ids).Result.Value
    printfn $"basic batch: {s.Total} items, {s.Succeeded} succeeded, {s.Failed} failed"
    printfn $"image pipeline: {runtime.RunAsync(imagePipeline, ids).Result}"
    let c = runtime.RunAsync(chunked, ids).Result.Value
    printfn $"chunked: {c.Succeeded}/{c.Total} succeeded"
    0
