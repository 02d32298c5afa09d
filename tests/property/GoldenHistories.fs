/// Golden histories: recorded executions of the examples, checked in, that this version must replay to the same end
/// without a new command — so a change to the event format or the interpreter cannot strand stored executions.
/// Regenerate (after a deliberate, documented break) with STENT_UPDATE_GOLDEN=1.
module GoldenHistories

open System
open System.IO
open Expecto
open Stent
open Stent.Examples.CSharp
open Stent.Execution
open Stent.Replay
open Stent.Serialization
open Stent.Storage
open Stent.Storage.Relational
open Support

let private folder =
    let rec up (d: DirectoryInfo) = if File.Exists(Path.Combine(d.FullName, "Stent.sln")) then d.FullName else up d.Parent
    Path.Combine(up (DirectoryInfo AppContext.BaseDirectory), "tests", "property", "golden")

/// Runs a workflow to its end in a fresh test environment (the real worker, a fake clock) and returns its history.
let private record (def: WorkflowDef<'I, 'O>) (input: 'I) =
    use e = new Stent.Testing.TestEnvironment(Func<_, _>(inMemory.Open), WorkerOptions(Seed = 42))
    e.RunAsync(def, input, "golden").Result |> ignore
    List.ofSeq (e.Store.ReadAsync("golden").Result)

/// A resumed execution's history: a run that fails while record 150 is unavailable, then its resumption.
let private recordResumed () =
    use e = new Stent.Testing.TestEnvironment(Func<_, _>(inMemory.Open), WorkerOptions(Seed = 42))
    ResumePattern.Unavailable[150] <- true
    try e.RunAsync(ResumePattern.ResumableBatch, [| 1..250 |], "golden").Result |> ignore
    finally ResumePattern.Unavailable.Clear()
    let id = e.Client.ResumeAsync("golden").Result
    e.RunUntilIdleAsync().Wait()
    List.ofSeq (e.Store.ReadAsync(id).Result)

let private cases : (string * IWorkflowDefinition * (unit -> HistoryEvent list)) list =
    [ "basic_batch", Patterns.Batch, (fun () -> record Patterns.Batch [| 1..40 |])
      "chunked", Patterns.Chunked, (fun () -> record Patterns.Chunked [| 1..250 |])
      "retry_in_rounds", GuidePatterns.RetryInRounds, (fun () -> record GuidePatterns.RetryInRounds [| 1..8 |])
      "saga_compensated", NeighbourPatterns.BookTrip, (fun () -> record NeighbourPatterns.BookTrip (Trip("gail", CarFails = true)))
      "children", NeighbourPatterns.ImportAll, (fun () -> record NeighbourPatterns.ImportAll [| "north"; "south" |])
      "resumed", ResumePattern.ResumableBatch, recordResumed ]

/// Events as stored, without stack traces (they name this machine's paths and the examples' line numbers).
let private lines (events: HistoryEvent list) =
    let stack = "\"stackTrace\":(?:null|\"(?:[^\"\\\\]|\\\\.)*\"),?"
    events |> List.map (fun e -> Text.RegularExpressions.Regex.Replace(StoreJson.Event e, stack, ""))

/// Replays a golden history: it must end as recorded, with no new command.
let private replays (definition: IWorkflowDefinition) (history: HistoryEvent list) =
    let final = history |> List.tryFindBack (fun e -> e :? ExecutionCompleted || e :? ExecutionFailed)
    Expect.isSome final "the golden execution ended"
    let d = Interpreter.Decide(definition, history, PayloadSerializer.Default, DateTimeOffset.UnixEpoch, Random 1, verifyInputs = true)
    Expect.isEmpty d.NewEvents "replay adds nothing"
    match final.Value with
    | :? ExecutionCompleted as c -> Expect.equal d.Output c.Output "same result"
    | :? ExecutionFailed as f -> Expect.equal (string d.Error) (string f.Error) "same error"
    | _ -> ()

let private read path = File.ReadAllLines path |> Array.filter (fun l -> l <> "") |> Array.map StoreJson.Event |> List.ofArray

let tests =
    // Sequenced: the resumed case switches an example's outage on and off, which other tests use too.
    testSequenced <| testList "Golden histories" [
        for name, definition, make in cases do
            test $"the recorded '{name}' history replays to the same end with no new command, and is recorded again the same" {
                let path = Path.Combine(folder, $"{name}.jsonl")
                if Environment.GetEnvironmentVariable "STENT_UPDATE_GOLDEN" = "1" || not (File.Exists path) then
                    Directory.CreateDirectory folder |> ignore
                    File.WriteAllLines(path, lines (make ()))
                let history = read path
                replays definition history
                Expect.equal (lines history) (lines (make ())) "this version records the same history (update the golden file if the change is deliberate)"
            }
            test $"the '{name}' history the first engine recorded still replays to the same end" {
                replays definition (read (Path.Combine(folder, "v1", $"{name}.jsonl")))
            }
    ]
