/// A worker's cached history forgets settled work: decisions from its checkpoint still match full replays.
module HistoryTests

open System
open System.Collections.Generic
open Expecto
open FsCheck
open FsCheck.FSharp
open Stent
open Stent.Dsl
open Stent.Replay
open Programs
open Support

let private first = Durable.createSync "forget_first" (fun (x: int) (_: StepContext) -> x)
let private item = Durable.createSync "forget_item" (fun (x: int) (_: StepContext) -> x)

/// A step on the root thread, then a fan-out whose every third branch runs two steps.
let private workflow =
    Workflow.define "forgetting" (fun (n: int) ->
        first.Call n
        |> Workflow.bind (fun m ->
            [ 0 .. m - 1 ]
            |> Workflow.traverse (fun i ->
                item.Call i |> Workflow.bind (fun x -> if i % 3 = 0 then item.Call (x + 100) else Workflow.ret x))
            |> Workflow.map List.sum))

let private started (n: int) =
    ExecutionStarted("forgetting", workflow.Version, string n, DateTimeOffset.UnixEpoch) :> HistoryEvent

let private decide (history: History) (resume: Interpreter.Checkpoint) =
    Interpreter.Decide(workflow, history, Json.serializer, DateTimeOffset.UnixEpoch, Random 5, resume = resume)

/// Steps scheduled in <paramref name="events"/> that have no outcome yet.
let private openSteps (events: HistoryEvent seq) =
    let flat = HistoryEvent.Flatten events |> List.ofSeq
    let closed = flat |> List.choose (function :? StepCompleted as c -> Some c.Position | _ -> None) |> set
    flat |> List.choose (function :? StepScheduled as s when not (closed.Contains s.Position) -> Some s | _ -> None)

/// The branch a position lies in ("1.7/0" is in branch 7 of the fan-out at 1), if any.
let private branch (position: string) =
    match position.Split('.', 2) with
    | [| _; rest |] -> Some (rest.Split('/').[0])
    | _ -> None

/// Runs the workflow over n items, completing a random part of the open steps between decisions (seeded): each
/// decision over the cached history that forgets settled work (and, like a worker's, may keep no step inputs) writes
/// what a full replay writes, and the history keeps every open step and no closed one outside a branch still open.
let private forgettingMatchesFullReplay (n, seed, keepsInputs) =
    let rnd = Random(seed: int)
    let events = List<HistoryEvent>([ started n ])
    let history = History(events, keepsInputs)
    let mutable resume = null
    let mutable state = ExecutionState.Running
    let mutable forgot = false
    while state = ExecutionState.Running do
        let d = decide history resume
        let full = Interpreter.Decide(workflow, List.ofSeq events, Json.serializer, DateTimeOffset.UnixEpoch, Random 5)
        Expect.sequenceEqual d.NewEvents full.NewEvents "the decision writes what a full replay writes"
        Expect.equal (d.State, d.Output) (full.State, full.Output) "and ends the same way"
        events.AddRange d.NewEvents
        history.Append d.NewEvents
        state <- d.State
        if not (isNull d.Checkpoint) then
            let cp = d.Checkpoint
            history.Forget(cp.Events, Func<_, _>(cp.Settled))
            forgot <- forgot || not history.Complete
            let stillOpen = openSteps events
            let openBranches = stillOpen |> List.choose (fun s -> branch s.Position) |> set
            for s in stillOpen do Expect.isTrue (history.IsOpenStep s.Position) $"open step {s.Position} is kept"
            for e in history.Entries do
                if not (isNull e.Outcome) then
                    Expect.isTrue (branch e.Start.Position |> Option.exists openBranches.Contains)
                        $"closed {e.Start.Position} is kept only while its branch is open"
            resume <- cp
            let done' = stillOpen |> List.filter (fun _ -> rnd.Next 3 = 0)
            let done' = if done'.IsEmpty then List.truncate 1 stillOpen else done'
            let outcomes = done' |> List.map (fun s -> StepCompleted(s.Position, s.Input, null, 1) :> HistoryEvent)
            events.AddRange outcomes
            history.Append outcomes
    Expect.equal state ExecutionState.Completed "the run completes"
    Expect.isTrue (n < 2 || forgot) "settled work was forgotten"

/// A chunked run that then waits for a signal: what the worker holds for it once it waits.
let private heldAfterChunks chunks =
    let wf =
        Workflow.define "forgetting_chunks" (fun (n: int) ->
            [ 1 .. n ]
            |> Workflow.chunk 10 None (Workflow.traverse item.Call)
            |> Workflow.bind (fun xs -> Workflow.waitForSignal<int> "go" |> Workflow.map (fun g -> List.sum xs + g)))
    use e = new Stent.Testing.TestEnvironment(Func<_, _>(inMemory.Open), testOptions)
    e.DispatchAsync(wf, 10 * chunks, "held").Wait()
    e.RunUntilIdleAsync().Wait()
    let history = e.Worker.HeldHistory "held"
    Expect.isNotNull history "the worker holds the waiting execution's history"
    Expect.isGreaterThan history.DecisionCount chunks "the stream has every chunk's decisions"
    Seq.length history.Entries

/// What a history's index says about each position, and its counts.
let private index (h: History) =
    [ for e in h.Entries -> e.Start.Position, string e.Outcome, e.Time ] |> List.sort,
    h.DecisionCount, h.HasUnseen()

/// A decision folds outcomes appended one by one, then stores them with what it decided as one event: the history then
/// counts that event once, and indexes every position as a history read back from the stream does.
let sealedDecisionsIndexAsStored (opened: int, folded: int, fresh: int) =
    let steps = [ for i in 0 .. opened + folded - 1 -> StepScheduled($"0.{i}/0", "f", string i) :> HistoryEvent ]
    let before = [ started 1; yield! steps; DecisionCompleted 1 ]
    let outcomes = [ for s in List.take folded steps -> StepCompleted((s :?> StepScheduled).Position, "1", null, 1)
                                                           :> HistoryEvent ]
    let decided = [ for i in 0 .. fresh - 1 -> StepScheduled($"1.{i}/0", "g", "2") :> HistoryEvent ]
    let stored = DecisionEvents.Stored [ yield! outcomes; yield! decided; DecisionCompleted 2 ]
    let history = History before
    history.Append outcomes
    Expect.isTrue (history.HasUnseen()) "the outcomes appended are unseen"
    history.Seal(before.Length, stored)
    Expect.equal history.Count (before.Length + stored.Count) "the decision counts as it is stored"
    Expect.equal stored.Count 1 "several events are stored as one"
    Expect.equal (index history) (index (History [ yield! before; yield! stored ])) "indexed as the stream reads back"

let tests =
    testList "History" [
        testProperty "a decision's events stored as one index as the stream reads them back" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (0, 5)) (Gen.choose (1, 5)) (Gen.choose (0, 5))))
                sealedDecisionsIndexAsStored
        test "a worker holds none of the chunks a chunked execution finished, however many" {
            Expect.equal (heldAfterChunks 2) 0 "nothing of 2 chunks is held"
            Expect.equal (heldAfterChunks 12) 0 "nothing of 12 chunks is held"
        }
        testProperty "decisions over a history that forgets settled work write what full replays write" <|
            Prop.forAll
                (Arb.fromGen (Gen.zip3 (Gen.choose (0, 40)) (Gen.choose (0, 10000)) (Gen.elements [ true; false ])))
                forgettingMatchesFullReplay
        test "a history that keeps no step inputs still names the step a changed workflow no longer calls" {
            let history = History([ started 1; StepScheduled("0", "forget_other", "1"); DecisionCompleted 1 ], false)
            Expect.isTrue (history.IsOpenStep "0") "the step is open"
            Expect.equal (history.At "0").StepName "forget_other" "its function is kept"
            Expect.throwsC (fun () -> decide history null |> ignore) (fun e ->
                Expect.isTrue (e :? NonDeterminismException) "the workflow calls another step at 0"
                Expect.stringContains e.Message "step 'forget_other'" "the recorded step is named")
        }
        test "checking replayed inputs is refused over a history that keeps none" {
            let history = History([ started 1 ], false)
            Expect.throwsC (fun () ->
                Interpreter.Decide(workflow, history, Json.serializer, DateTimeOffset.UnixEpoch, Random 5,
                                   verifyInputs = true) |> ignore) (fun e ->
                Expect.equal (e :?> ArgumentException).ParamName "verifyInputs" "inputs cannot be checked: it says why")
        }
        test "a history that forgot settled work refuses a decision that would start from the top" {
            let history = History([ started 5 ])
            let d = decide history null
            history.Append d.NewEvents
            let completed =
                openSteps d.NewEvents |> List.map (fun s -> StepCompleted(s.Position, s.Input, null, 1) :> HistoryEvent)
            history.Append completed
            let d2 = decide history d.Checkpoint
            history.Append d2.NewEvents
            history.Forget(d2.Checkpoint.Events, Func<_, _>(d2.Checkpoint.Settled))
            Expect.isFalse history.Complete "the root step is forgotten"
            Expect.throwsT<ForgottenHistoryException> (fun () -> decide history null |> ignore)
                "a full replay over what is left would schedule the root step again; it is refused"
        }
    ]
