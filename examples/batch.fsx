// A small batch as an F# script. Build once first: dotnet build examples/BatchFs -c Release
#load "BatchFs/bin/Release/net10.0/references.fsx"

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

let store = Stent.Sqlite.SqliteWorkStore.InMemory()
let stop = new System.Threading.CancellationTokenSource()
let serving = Worker(store, WorkerOptions(Serializer = Json.serializer)).Register(batch).ServeAsync(stop.Token)
let client = StentClient(store, Json.serializer)
let result = client.WaitAsync(batch, client.DispatchAsync(batch, [ 1..12 ]).Result).Result
stop.Cancel()
serving.Wait()
printfn "script batch: %d items processed: %A" result.Value.Length (result.Value |> List.map (fun i -> i.Id))
