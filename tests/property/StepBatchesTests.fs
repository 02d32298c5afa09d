/// A decision's new steps grouped into batches: the same batches, in the same places, as grouping them plainly.
module StepBatchesTests

open System
open System.Collections.Generic
open Expecto
open FsCheck
open FsCheck.FSharp
open Stent
open Stent.Replay
open Stent.Workflows
open Stent.Dsl

let private functions =
    let plain name = Durable.createSync name (fun (x: int) (_: StepContext) -> x) :> IDurableFunction
    let capped = Durable.createWith (DurableOptions(MaxConcurrent = Nullable 2)) "batches_c" (fun (x: int) _ ->
                    System.Threading.Tasks.Task.FromResult x) :> IDurableFunction
    dict [ for f in [ plain "batches_a"; plain "batches_b"; capped ] -> f.Name, f ] |> Dictionary

/// The grouping written plainly, with a set of every batched step (what the engine did before it grouped in two
/// passes): each function's open steps in order, cut into batches of the size for their count, a last batch of one
/// step left alone, each batch where its first step was.
let private plainly (pending: HistoryEvent list) (batching: StepBatching) =
    let closed =
        pending |> List.choose (function
            | :? StepCompleted as c -> Some c.Position
            | :? StepFailed as f -> Some f.Position
            | _ -> None) |> set
    let batchable (s: StepScheduled) =
        not (closed.Contains s.Position) && functions.ContainsKey s.Name && StepBatches.Batchable functions[s.Name]
    let batches =
        pending
        |> List.choose (function :? StepScheduled as s when batchable s -> Some s | _ -> None)
        |> List.groupBy (fun s -> s.Name)
        |> List.collect (fun (_, all) ->
            let size = batching.Size all.Length
            if size < 2 then [] else all |> List.chunkBySize size |> List.filter (fun c -> c.Length > 1))
    let first = Dictionary<HistoryEvent, StepScheduled list>(HashIdentity.Reference)
    let members = HashSet<HistoryEvent>(HashIdentity.Reference)
    for b in batches do
        first[b.Head] <- b
        for s in b do members.Add s |> ignore
    [ for e in pending do
        match first.TryGetValue e with
        | true, b -> EventBatch([ for s in b -> s :> HistoryEvent ]) :> HistoryEvent
        | _ -> if not (members.Contains e) then e ]

/// What a grouped list says: each event, a batch as its positions in order.
let private shape (events: HistoryEvent seq) =
    [ for e in events ->
        match e with
        | :? EventBatch as b -> "batch " + String.Join(",", [ for s in b.Events -> (s :?> PositionedEvent).Position ])
        | :? PositionedEvent as p -> e.GetType().Name + " " + p.Position
        | _ -> e.GetType().Name ]

/// Events a decision may hold: steps of two batchable functions and a capped one, outcomes of some of them, timers.
let private pendingOf (kinds: int list) =
    let scheduled = List<string>()
    [ for i, k in List.indexed kinds do
        let position = $"1.{i}/0"
        match k % 6 with
        | 0 | 1 -> scheduled.Add position; StepScheduled(position, "batches_a", string i) :> HistoryEvent
        | 2 -> scheduled.Add position; StepScheduled(position, "batches_b", string i)
        | 3 -> StepScheduled(position, "batches_c", string i)
        | 4 when scheduled.Count > 0 -> StepCompleted(scheduled[k % scheduled.Count], "1", null, 1)
        | _ -> TimerStarted(position, DateTimeOffset.UnixEpoch, TimerPurpose.Sleep)
      DecisionCompleted 1 ]

let private groupsAsPlainly (kinds: int list, maxSize: int, minPieces: int) =
    let pending = pendingOf kinds
    let batching = StepBatching(maxSize, minPieces)
    let grouped = StepBatches.Group(List pending, functions, batching)
    Expect.sequenceEqual (shape grouped) (shape (plainly pending batching)) "the same batches in the same places"

let tests =
    testList "StepBatches" [
        testProperty "grouping in two passes makes the batches grouping plainly makes, in the same places" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.listOf (Gen.choose (0, 400))) (Gen.choose (1, 9))
                                                (Gen.choose (1, 4)))) groupsAsPlainly
        test "a fan-out of one function is cut into batches of the size its count gives, the last one shorter" {
            let pending = pendingOf (List.replicate 10 0)
            let grouped = StepBatches.Group(List pending, functions, StepBatching(4, 1))
            Expect.equal (shape grouped)
                [ "batch 1.0/0,1.1/0,1.2/0,1.3/0"; "batch 1.4/0,1.5/0,1.6/0,1.7/0"; "batch 1.8/0,1.9/0"
                  "DecisionCompleted" ] "4 + 4 + 2 steps"
        }
    ]
