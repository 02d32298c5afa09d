// A small batch as an F# script. Build once first: dotnet build examples/BatchFs -c Release
#r "BatchFs/bin/Release/net10.0/LanguageExt.Core.dll"
#r "BatchFs/bin/Release/net10.0/Microsoft.Extensions.Logging.Abstractions.dll"
#r "BatchFs/bin/Release/net10.0/FSharp.SystemTextJson.dll"
#r "BatchFs/bin/Release/net10.0/Stent.Core.dll"
#r "BatchFs/bin/Release/net10.0/Stent.Dsl.dll"

open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Storage

type Item = { Id: int; Status: string }

let processItem =
    Durable.createSync "process_item" (fun (id: int) ctx ->
        if id = 7 && ctx.Attempt = 1 then failwith "transient glitch"
        { Id = id; Status = "processed" })

let batch = Workflow.define "script_batch" (fun (ids: int list) -> workflow {
    let! results = ids |> Workflow.chunk 5 (Some "10ms") (Workflow.traverseAll processItem.Call)
    let ok = results |> List.choose Result.toOption
    do! Workflow.progress "done" (int64 ok.Length) (int64 ids.Length)
    return ok })

let runtime = LocalRuntime(InMemoryStore(), LocalRuntimeOptions(Serializer = Json.serializer))
let result = runtime.RunAsync(batch, [ 1..12 ]).Result
printfn "script batch: %d items processed: %A" result.Value.Length (result.Value |> List.map (fun i -> i.Id))
