/// Runs the F# versions of the seed's basic batch, image pipeline and chunked patterns and prints their summaries.
module Stent.Examples.Program

open System
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Sqlite
open Stent.Examples.Patterns

[<EntryPoint>]
let main argv =
    let count =
        argv
        |> Array.tryHead
        |> Option.bind (fun a -> match Int32.TryParse a with | true, n -> Some n | _ -> None)
        |> Option.defaultValue 200
    use store = SqliteWorkStore.InMemory()
    use stop = new Threading.CancellationTokenSource()
    let report = Action<string, ProgressReport>(fun _ p -> printfn $"  progress: {p.Message} {p.Done}/{p.Total}")
    let options = WorkerOptions(Serializer = Json.serializer, OnProgress = report)
    let worker = Worker(store, options).Register(batch).Register(imagePipeline).Register(chunked)
    let serving = worker.ServeAsync(stop.Token)
    let client = StentClient(store, Json.serializer)
    let run (def: WorkflowDef<'I, 'O>) (input: 'I) =
        client.WaitAsync(def, client.DispatchAsync(def, input).Result).Result
    let ids = [ 1..count ]
    let s = (run batch ids).Value
    printfn $"basic batch: {s.Total} items, {s.Succeeded} succeeded, {s.Failed} failed"
    printfn $"image pipeline: {run imagePipeline ids}"
    let c = (run chunked ids).Value
    printfn $"chunked: {c.Succeeded}/{c.Total} succeeded"
    stop.Cancel()
    serving.Wait()
    0
