/// The seed guide's basic batch, image pipeline and chunked patterns, in F#.
module Stent.Examples.Patterns

open System
open System.Net.Http
open Stent
open Stent.Dsl

type Item = { Id: int; Status: string }

type Summary = { Total: int; Succeeded: int; Failed: int; Results: Item list; Errors: string list }

/// Items whose id is divisible by this fail on every attempt.
let failEvery = 17

let processItem =
    Durable.createWith (DurableOptions(Retry = RetryPolicy.Exponential(3, Duration.Parse "10ms"), MaxConcurrent = Nullable 8)) "fs_process_item"
        (fun (id: int) ctx -> task {
            do! Threading.Tasks.Task.Delay(1, ctx.CancellationToken)
            if id % failEvery = 0 then invalidOp $"item {id} is corrupt"
            return { Id = id; Status = "processed" } })

let private summarize total (results: Result<Item, WorkflowError> list) =
    let ok = results |> List.choose (function Ok v -> Some v | Error _ -> None)
    let errors = results |> List.choose (function Error e -> Some e.Message | Ok _ -> None)
    { Total = total; Succeeded = ok.Length; Failed = errors.Length; Results = ok; Errors = errors }

/// Basic batch: fan out, capture every item's outcome, aggregate.
let batch = Workflow.define "fs_batch" (fun (ids: int list) -> workflow {
    let! results = ids |> Workflow.traverseAll processItem.Call
    return summarize ids.Length results })

let downloadImage =
    Durable.createWith (DurableOptions(Retry = RetryPolicy.Exponential(3, Duration.Parse "50ms").RetryOnly<HttpRequestException>())) "fs_download_image"
        (fun (id: int) ctx -> task {
            if id % 10 = 3 && ctx.Attempt = 1 then raise (HttpRequestException $"Network error downloading image {id}")
            if id % 10 = 7 then raise (HttpRequestException $"Image {id} is gone")
            return $"/tmp/img_{id}.jpg" })

let processImage = Durable.createSync "fs_process_image" (fun (path: string) _ -> path.Replace(".jpg", "_processed.jpg"))

let createGallery = Durable.createSync "fs_create_gallery" (fun (paths: string list) _ -> $"https://gallery.example/{paths.Length}_images")

/// Image pipeline: download (some fail), process what downloaded, make a gallery; nothing downloaded is a business error.
let imagePipeline = Workflow.define "fs_image_pipeline" (fun (ids: int list) -> workflow {
    let! downloads = ids |> Workflow.traverseAll downloadImage.Call
    let paths = downloads |> List.choose Result.toOption
    if paths.IsEmpty then
        return! Workflow.fail "No images downloaded successfully"
    else
        let! processed = paths |> Workflow.traverse processImage.Call
        return! createGallery.Call processed })

/// Chunked processing: chunks of 100, a durable 100 ms pause and a progress report between chunks.
let chunked = Workflow.define "fs_chunked_batch" (fun (ids: int list) -> workflow {
    let! results = ids |> Workflow.chunk 100 (Some "100ms") (Workflow.traverseAll processItem.Call)
    return summarize ids.Length results })
