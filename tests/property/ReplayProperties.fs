/// DESIGN.md §6 invariants 1–4 as FsCheck properties over random programs, run by the real worker on every store.
module ReplayProperties

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Replay
open Stent.Sqlite
open Stent.Testing
open Programs
open Support

/// Cases per property: 200 in memory, 50 on each database.
let private config (kind: StoreKind) =
    { FsCheckConfig.defaultConfig with maxTest = (if kind.Name = inMemory.Name then 200 else 50); endSize = 40 }

/// Runs a program to its end on a fresh environment of `kind`: result, history and step calls.
let runProgWith kind (options: WorkerOptions) prog =
    let calls = Calls()
    use e = new TestEnvironment(Func<_, _>(kind.Open), options)
    let id = newId ()
    let r = e.RunAsync(definition (Env(calls, behaviors prog)) prog, (), id).Result
    r, List.ofSeq (e.Store.ReadAsync(id).Result), calls

let runProg kind prog = runProgWith kind testOptions prog

let private resultText (r: Stent.Result<int>) = if r.IsOk then $"ok {r.Value}" else $"error {r.Error}"

/// Commands a decision produced, without clock readings (replay runs at another time).
let private commands (events: HistoryEvent seq) =
    events |> Seq.map (function :? TimerStarted as t -> box (t.Position, t.Purpose) | e -> box e) |> List.ofSeq

let private decisionBounds (history: HistoryEvent list) =
    history |> List.indexed |> List.choose (fun (i, e) -> match e with :? DecisionCompleted -> Some i | _ -> None)

/// Invariant 1: every decision, replayed from the history before it, makes the same commands; the full history gives the same result.
let replayIsDeterministic kind prog =
    let r, history, calls = runProg kind prog
    let def = definition (Env(calls, behaviors prog)) prog
    let mutable start = 0
    for bound in decisionBounds history do
        // The decision's own events are those after the last outcome before it: replay the prefix up to its first command.
        let recorded = history |> List.skip start |> List.take (bound + 1 - start)
        let firstCommand =
            recorded |> List.tryFindIndex (fun e ->
                e :? StepScheduled || e :? TimerStarted || e :? ValueRecorded || e :? ProgressReported || e :? ExecutionCompleted
                || e :? ExecutionFailed || e :? DecisionCompleted)
        let cut = start + defaultArg firstCommand 0
        let d = Interpreter.Decide(def, history |> List.take cut, Json.serializer, DateTimeOffset.UnixEpoch, Random 5, true)
        let expected = history |> List.skip cut |> List.take (bound + 1 - cut)
        if commands d.NewEvents <> commands expected then
            failtestf "decision ending at %d differs:\nreplayed %A\nrecorded %A" bound (List.ofSeq d.NewEvents) expected
        start <- bound + 1
    let final = Interpreter.Decide(def, history, Json.serializer, DateTimeOffset.UnixEpoch, Random 5, true)
    Expect.isEmpty final.NewEvents "a finished history needs nothing more"
    let replayed =
        if final.State = ExecutionState.Completed then $"ok {Json.serializer.Deserialize(final.Output, typeof<int>)}"
        else $"error {final.Error}"
    Expect.equal replayed (resultText r) "same result"

/// A history without clock readings (steps' start and end included) and ids that differ between runs.
let private comparable (events: HistoryEvent seq) =
    events |> Seq.map (function
        | :? ExecutionStarted as s -> box (s.Workflow, s.Input)
        | :? TimerStarted as t -> box (t.Position, t.Purpose)
        | :? StepAttemptFailed as f -> box (f.Position, f.Attempt, f.Error.Message)
        | :? StepCompleted as c -> box (c.Position, c.Output, c.BusinessError, c.Attempt, c.ReusedFrom)
        | :? StepFailed as f -> box (f.Position, f.Error.Message, f.Attempts)
        | e -> box e) |> List.ofSeq

/// Incremental decisions (each starting where the previous one stopped) write exactly the history that decisions
/// replaying from the top write, with the same result and the same step calls.
let incrementalEqualsFullReplay kind prog =
    let run incremental =
        let r, h, calls = runProgWith kind (WorkerOptions(Serializer = Json.serializer, Incremental = incremental)) prog
        resultText r, comparable h, calls.Total
    Expect.equal (run true) (run false) "same result, history and calls"

/// Invariant 2: a crash at an event boundary (a decision's write, before or after it commits), then recovery by a new
/// worker: same result, nothing recorded lost or changed, a history that replays, no completed step run again.
let crashRecovers kind (prog, crashFraction: float) =
    let r, history, _ = runProg kind prog
    let decisions = (decisionBounds history).Length
    let k = 1 + int (crashFraction * float (2 * decisions)) |> min (2 * decisions)
    let calls = Calls()
    let def = definition (Env(calls, behaviors prog)) prog
    use e = new TestEnvironment(Func<_, _>(kind.Open), testOptions)
    let id = newId ()
    e.DispatchAsync(def, (), id).Wait()
    e.CrashAt((k + 1) / 2, (k % 2 = 0), "decision")
    e.RestartAfterCrash <- false
    let crashed = try e.RunUntilIdleAsync().Wait(); false with :? AggregateException as a when (a.InnerException :? SimulatedCrashException) -> true
    Expect.isTrue crashed $"crash at decision write {k} of {2 * decisions} happened"
    let before = List.ofSeq (e.Store.ReadAsync(id).Result)
    let completed = before |> List.choose (function :? StepCompleted as c -> Some c.Position | _ -> None)
    let callsBefore = completed |> List.map (fun p -> p, calls.For $"{id}/{p}")
    e.RunUntilIdleAsync().Wait()
    // A decision's write also records the outcomes of the steps its worker ran and claims the steps it runs next: a
    // step whose run was lost with the crashed worker runs again as its next attempt, at shifted retry times. So how
    // far siblings got before a fail-fast failure, and how outcomes are grouped into decisions, may differ from a run
    // without the crash; what was recorded before it is kept as it was, and the history replays to the same result.
    let after = List.ofSeq (e.Store.ReadAsync(id).Result)
    Expect.equal (resultText (e.ResultAsync<int>(id).Result)) (resultText r) "same result"
    Expect.equal (List.truncate before.Length after |> comparable) (comparable before) "what was recorded is kept"
    let replay = Interpreter.Decide(def, after, Json.serializer, DateTimeOffset.UnixEpoch, Random 5, true)
    Expect.isEmpty replay.NewEvents "the history replays with nothing more to do"
    for p, n in callsBefore do
        Expect.equal (calls.For $"{id}/{p}") n $"completed step at {p} not run again"

/// Invariant 2, any write: a crash at any store write (a claim, a step's outcome, a decision; before or after it
/// commits) loses nothing: the execution ends, every step is recorded once, and no step recorded before the crash runs again.
let crashAnywhereLosesNothing kind (prog, crashFraction: float) =
    let calls = Calls()
    let def = definition (Env(calls, behaviors prog)) prog
    let writes =
        use e = new TestEnvironment(Func<_, _>(kind.Open), testOptions)
        e.DispatchAsync(def, (), newId ()).Wait()
        e.CrashAt(Int32.MaxValue)
        e.RunUntilIdleAsync().Wait()
        e.Writes
    calls.Clear()
    let k = 1 + int (crashFraction * float (2 * writes)) |> min (2 * writes)
    use e = new TestEnvironment(Func<_, _>(kind.Open), testOptions)
    let id = newId ()
    e.DispatchAsync(def, (), id).Wait()
    e.CrashAt((k + 1) / 2, (k % 2 = 0))
    e.RestartAfterCrash <- false
    (try e.RunUntilIdleAsync().Wait() with :? AggregateException as a when (a.InnerException :? SimulatedCrashException) -> ())
    let recorded = e.Store.ReadAsync(id).Result |> Seq.choose (function :? StepCompleted as c -> Some c.Position | _ -> None) |> List.ofSeq
    let callsBefore = recorded |> List.map (fun p -> p, calls.For $"{id}/{p}")
    e.RunUntilIdleAsync().Wait()
    let info = e.Store.GetExecutionAsync(id).Result
    Expect.isTrue (info.State <> ExecutionState.Running && info.State <> ExecutionState.Pending) "it ended"
    let after = List.ofSeq (e.Store.ReadAsync(id).Result)
    let ended = after |> List.choose (function :? StepCompleted as c -> Some c.Position | :? StepFailed as f -> Some f.Position | _ -> None)
    Expect.equal ended (List.distinct ended) "every step recorded once"
    for p, n in callsBefore do
        Expect.equal (calls.For $"{id}/{p}") n $"step at {p}, recorded before the crash, not run again"

/// Ways to change a program after it ran.
type Mutation =
    | Rename of int
    | Remove of int
    | InsertFront

let rec private mutate m prog =
    let go = mutate m
    match prog, m with
    | Step (id, _), Remove j when id = j -> Pure 0
    | Chunk (_, _, id), Remove j when id = j -> Pure 0
    | (Step _ | Pure _ | Sleep _ | Chunk _), _ -> prog
    | Seq (a, b), _ -> Seq (go a, go b)
    | Traverse ps, _ -> Traverse (List.map go ps)
    | TraverseAll ps, _ -> TraverseAll (List.map go ps)
    | Retry p, _ -> Retry (go p)
    | Recover p, _ -> Recover (go p)

/// Invariant 3: a program changed where its history recorded something is detected, never mixed; elsewhere it replays.
let changesAreDetected kind (prog, pick: int, which: int) =
    let _, history, calls = runProg kind prog
    let ids = steps prog
    let scheduled = history |> List.choose (function :? StepScheduled as s -> Some s.Name | _ -> None) |> set
    let m = if ids.IsEmpty || which % 3 = 2 then InsertFront else (if which % 3 = 0 then Rename else Remove) ids[abs pick % ids.Length]
    let env, changed, expectDetected =
        match m with
        | Rename j -> Env(calls, behaviors prog, (fun id -> if id = j then $"s{id}-renamed" else $"s{id}")), prog, scheduled.Contains $"s{j}"
        | Remove j -> Env(calls, behaviors prog), mutate m prog, (scheduled |> Set.exists (fun n -> n = $"s{j}"))
        | InsertFront -> Env(calls, behaviors prog), Seq (Step (999, Succeeds), prog), history |> List.exists (fun e -> e :? PositionedEvent)
    let detected =
        try
            Interpreter.Decide(definition env changed, history, Json.serializer, DateTimeOffset.UnixEpoch, Random 5) |> ignore
            false
        with :? NonDeterminismException as e ->
            Expect.stringContains e.Message "position" "names the position"
            true
    Expect.equal detected expectDetected $"{m}: detected={detected}"

/// Resume: a failed execution resumed with its failures healed reuses exactly the steps the failed run completed that
/// the new run reaches with the same function and input (never running them again), and ends as the healed program
/// run from scratch does. A run that did not fail cannot be resumed.
let resumeReusesFinishedWork kind prog =
    use e = new TestEnvironment(Func<_, _>(kind.Open), testOptions)
    let id = newId ()
    let first = e.RunAsync(definition (Env(Calls(), behaviors prog)) prog, (), id).Result
    let healedCalls = Calls()
    let healed = definition (Env(healedCalls, Map.empty)) prog
    e.Register(healed).RestartWorker()
    if first.IsOk then
        throws<InvalidOperationException> (fun () -> e.Client.ResumeAsync(id).Wait()) |> ignore
    else
        let resumedId = e.Client.ResumeAsync(id).Result
        e.RunUntilIdleAsync().Wait()
        let resumed = e.ResultAsync<int>(resumedId).Result
        let fresh, _ = runFresh (definition (Env(Calls(), Map.empty)) prog) ()
        Expect.equal (resultText resumed) (resultText fresh) "the resumed run ends as the healed program does"
        let stepsOf (h: HistoryEvent seq) = h |> Seq.choose (function :? StepScheduled as s -> Some (s.Position, (s.Name, s.Input)) | _ -> None) |> Map.ofSeq
        let h1, h2 = e.Store.ReadAsync(id).Result, e.Store.ReadAsync(resumedId).Result
        let done1 = h1 |> Seq.choose (function :? StepCompleted as c -> Some c.Position | _ -> None) |> set
        let scheduled1, scheduled2 = stepsOf h1, stepsOf h2
        let reusable = done1 |> Set.filter (fun p -> scheduled2.TryFind p = scheduled1.TryFind p)
        let reused = h2 |> Seq.choose (function :? StepCompleted as c when not (isNull c.ReusedFrom) -> Some c.Position | _ -> None) |> set
        Expect.equal reused reusable "exactly the matching finished steps are reused"
        for p in reused do Expect.equal (healedCalls.For $"{resumedId}/{p}") 0 $"reused step {p} did not run"

let private sameRun (a: Workflow<int>) (b: Workflow<int>) =
    let ra, ha = runFresh (Workflow.define "law" (fun () -> a)) ()
    let rb, hb = runFresh (Workflow.define "law" (fun () -> b)) ()
    resultText ra = resultText rb && comparable ha = comparable hb

let private lawEnv prog = Env(Calls(), behaviors prog)

let private fraction = Arb.fromGen (Gen.choose (0, 999) |> Gen.map (fun i -> float i / 1000.0))

/// A fan-out of 40 steps whose outcomes arrive over many decisions (4 steps run at a time): how often each branch's
/// code before its step (`evals`) and after it (`settled`) ran, and how many decisions there were.
let private fanOutEvaluations incremental =
    let evals, settled = Array.zeroCreate<int> 40, Array.zeroCreate<int> 40
    let echo = Durable.createSync "fan_echo" (fun (x: int) (_: StepContext) -> x)
    let branch i =
        Workflow.ret i
        |> Workflow.bind (fun x -> Threading.Interlocked.Increment(&evals.[i]) |> ignore; echo.Call x)
        |> Workflow.map (fun x -> Threading.Interlocked.Increment(&settled.[i]) |> ignore; x)
    let fan =
        Workflow.define "fan_evaluations" (fun () -> [ 0 .. 39 ] |> Workflow.traverse branch |> Workflow.map List.sum)
    let options = WorkerOptions(Serializer = Json.serializer, MaxConcurrency = 4, Incremental = incremental)
    use e = new TestEnvironment(Func<_, _>(inMemory.Open), options)
    let id = newId ()
    let r = e.RunAsync(fan, (), id).Result
    Expect.equal r.Value (List.sum [ 0 .. 39 ]) "the fan-out's result"
    let decisions = e.Store.ReadAsync(id).Result |> Seq.filter (fun ev -> ev :? DecisionCompleted) |> Seq.length
    evals, settled, decisions

/// A decision over a fan-out runs a branch again only when an event recorded since concerns it, and takes a settled
/// branch as it was; full replays (the engine's fallback) run every branch at every decision.
let private fanOutDecisionsRunOnlyWhatChanged () =
    let evals, settled, decisions = fanOutEvaluations true
    Expect.isGreaterThan decisions 5 "the outcomes arrived over many decisions"
    Expect.allEqual settled 1 "each branch's code after its step ran once"
    Expect.isTrue (evals |> Array.forall (fun n -> n <= 2))
        $"each branch's code before its step ran when the branch started and when its outcome came, no more: %A{evals}"
    let _, replayed, _ = fanOutEvaluations false
    Expect.isGreaterThan (Array.sum replayed) (Array.sum settled) "full replays run settled branches again"

/// The engine's properties on one store kind.
let private onStore kind =
    let config = config kind
    testList kind.Name [
        testPropertyWithConfig config "1. replaying any prefix of a history makes the recorded commands, and the whole history the same result" <|
            Prop.forAll arbProg (replayIsDeterministic kind)
        testPropertyWithConfig config "1b. decisions that start where the last one stopped write the history that full replays write" <|
            Prop.forAll arbProg (incrementalEqualsFullReplay kind)
        testPropertyWithConfig config
            "2. a crash at any event boundary recovers the same result, keeps the record, re-runs no completed step" <|
            Prop.forAll (arbProgWith fraction) (crashRecovers kind)
        testPropertyWithConfig config "2c. a crash at any store write loses nothing: the execution ends, each step recorded once, none recorded run again" <|
            Prop.forAll (arbProgWith fraction) (crashAnywhereLosesNothing kind)
        testPropertyWithConfig config "resume: a failed run resumed reuses exactly its matching finished steps and ends as the healed program does" <|
            Prop.forAll arbProg (resumeReusesFinishedWork kind)
        testPropertyWithConfig config "3. a workflow changed where its history recorded something is detected, elsewhere it replays" <|
            Prop.forAll (arbProgWith (Arb.zip (ArbMap.defaults |> ArbMap.arbitrary<int>, Arb.fromGen (Gen.choose (0, 2)))))
                (fun (p, (i, k)) -> changesAreDetected kind (p, i, k))
    ]

/// A fan-out of `n` items run to its end in memory with `options`: item i fails for good when `bad` divides it and
/// fails its first attempt when `flaky` divides it (0: never). Returns the result, the history read one fact per
/// event, the history as stored, and the workflow.
let private fanOutRun (options: WorkerOptions) (n, bad, flaky) =
    let tries = Collections.Concurrent.ConcurrentDictionary<int, int>()
    let retry = DurableOptions(Retry = RetryPolicy.Fixed(2, Duration.Parse "1ms"))
    let item = Durable.createSyncWith retry "batching_item" (fun (x: int) _ ->
        let k = tries.AddOrUpdate(x, 1, fun _ v -> v + 1)
        if bad > 0 && x % bad = 0 then invalidOp $"item {x} is bad"
        if flaky > 0 && x % flaky = 0 && k = 1 then invalidOp $"item {x}: try again"
        x * 3)
    let wf =
        Workflow.define "batching" (fun (xs: int list) ->
            xs |> Workflow.traverseAll item.Call |> Workflow.map (List.sumBy (function Ok v -> v | Error _ -> -1)))
    use e = new TestEnvironment(Func<_, _>(inMemory.Open), options)
    let id = newId ()
    let r = e.RunAsync(wf, [ 1..n ], id).Result
    r, List.ofSeq (e.Store.ReadAsync(id).Result), List.ofSeq (e.Store.ReadAfterAsync(id, 0L).Result), wf

/// Step facts of a history, without times: what each position scheduled, and how each attempt ended.
let private stepFacts (events: HistoryEvent list) =
    events |> List.choose (function
        | :? StepScheduled as s -> Some $"{s.Position} scheduled {s.Input}"
        | :? StepCompleted as c -> Some $"{c.Position} completed {c.Output} #{c.Attempt}"
        | :? StepAttemptFailed as f -> Some $"{f.Position} attempt {f.Attempt} failed"
        | :? StepFailed as f -> Some $"{f.Position} failed after {f.Attempts}"
        | _ -> None) |> List.sort

/// Batching changes how a fan-out is stored, never what it computes or records, and its history replays.
let batchingKeepsEveryFact (n, maxBatch, pieces, bad, flaky) =
    let withBatches = WorkerOptions(Serializer = Json.serializer, MaxConcurrency = 32, MaxBatchSize = maxBatch,
                                    MinBatchPieces = pieces)
    let alone = WorkerOptions(Serializer = Json.serializer, MaxConcurrency = 32, MaxBatchSize = 1)
    let r1, facts1, stored1, wf = fanOutRun withBatches (n, bad, flaky)
    let r0, facts0, stored0, _ = fanOutRun alone (n, bad, flaky)
    Expect.equal (resultText r1) (resultText r0) "the same result"
    Expect.equal (stepFacts facts1) (stepFacts facts0) "the same facts, item by item"
    for stored, facts in [ stored0, facts0; stored1, facts1 ] do
        Expect.equal (stepFacts (List.ofSeq (HistoryEvent.Flatten stored))) (stepFacts facts) "stored, every fact"
    if min maxBatch ((n + pieces - 1) / pieces) >= 2 then
        Expect.isLessThan stored1.Length facts1.Length "batched, fewer stored events than facts"
    for history in [ stored1; facts1 ] do
        let d = Interpreter.Decide(wf, history, Json.serializer, DateTimeOffset.UnixEpoch, Random 5, true)
        Expect.isEmpty d.NewEvents "the history replays to its end, needing nothing more"
        Expect.equal d.State (if r1.IsOk then ExecutionState.Completed else ExecutionState.Failed) "to the same end"

/// Invariant 2 for batches: a batched fan-out crashed at any store write (before or after it commits) recovers with the
/// same result, records each item once, and never records again an item recorded before the crash.
let batchedFanOutSurvivesAnyCrash () =
    let calls = Calls()
    let item = Durable.createSync "crash_batch_item" (fun (x: int) ctx -> calls.Hit ctx; x * 2)
    let wf =
        Workflow.define "crash_batch" (fun (xs: int list) -> xs |> Workflow.traverse item.Call |> Workflow.map List.sum)
    let options = WorkerOptions(Serializer = Json.serializer, MaxConcurrency = 3, MaxBatchSize = 4, MinBatchPieces = 1)
    let fresh () = new TestEnvironment(Func<_, _>(inMemory.Open), options)
    let writes =
        use e = fresh ()
        e.DispatchAsync(wf, [ 1..20 ], "x").Wait()
        e.CrashAt(Int32.MaxValue)
        e.RunUntilIdleAsync().Wait()
        e.Writes
    Expect.isGreaterThan writes 3 "a run of several writes"
    for k in 1 .. 2 * writes do
        calls.Clear()
        use e = fresh ()
        e.DispatchAsync(wf, [ 1..20 ], "x").Wait()
        e.CrashAt((k + 1) / 2, (k % 2 = 0))
        e.RestartAfterCrash <- false
        try e.RunUntilIdleAsync().Wait()
        with :? AggregateException as a when (a.InnerException :? SimulatedCrashException) -> ()
        let completedIn (events: HistoryEvent seq) =
            [ for e in HistoryEvent.Flatten events do match e with :? StepCompleted as c -> c.Position | _ -> () ]
        let before = completedIn (e.Store.ReadAsync("x").Result)
        e.RestartAfterCrash <- true
        e.RunUntilIdleAsync().Wait()
        Expect.equal (value (e.ResultAsync<int>("x").Result)) 420 $"crash at write {k}: the same result"
        let stored = List.ofSeq (e.Store.ReadAfterAsync("x", 0L).Result)
        let completed = completedIn stored
        Expect.equal (List.sort completed) (List.sort (List.distinct completed)) $"crash at {k}: items recorded once"
        Expect.equal completed.Length 20 $"crash at write {k}: every item recorded"
        for p in before do Expect.equal (calls.For $"x/{p}") 1 $"crash at {k}: {p}, recorded before, never ran again"
        Expect.isTrue (stored |> List.exists (fun e -> e :? EventBatch)) $"crash at write {k}: the fan-out was batched"

let tests =
    testList "Replay properties" [
        testCase "a decision reading the whole stream again counts it as stored: a retried fan-out runs as replayed"
            <| fun () ->
                // Its checkpoint cannot serve the decision after the retry's timer, which reads the stream again: read
                // one event per fact, that history counted more events than the stream, and the decision was refused.
                incrementalEqualsFullReplay inMemory
                    (Retry (Traverse [ Sleep 48; Step (1, ByPosition); Step (2, Transient 1) ]))
        testSequenced (testList "on the real engine" (propertyKinds |> List.map onStore))
        testCase "a fan-out's decision runs only the branches that new events concern, and no settled one again"
            fanOutDecisionsRunOnlyWhatChanged
        testCase "a batched fan-out crashed at any store write recovers with each item recorded once"
            batchedFanOutSurvivesAnyCrash
        testCase "a batch size below 1 is rejected when the worker is made, naming the value" <| fun () ->
            let options = WorkerOptions(MaxBatchSize = 0)
            let make () = Worker(SqliteWorkStore.InMemory(), options) |> ignore
            let e = throws<ArgumentOutOfRangeException> make
            Expect.stringContains e.Message "MaxBatchSize must be positive, got 0" "names the option and the value"
        testPropertyWithConfig { config inMemory with maxTest = 60 }
            "batching a fan-out changes how it is stored, never what it computes or records; its history replays" <|
            Prop.forAll (Arb.fromGen (gen {
                let! n = Gen.choose (0, 300)
                let! maxBatch = Gen.choose (1, 64)
                let! pieces = Gen.choose (1, 16)
                let! bad = Gen.elements [ 0; 7; 50 ]
                let! flaky = Gen.elements [ 0; 5; 33 ]
                return n, maxBatch, pieces, bad, flaky })) batchingKeepsEveryFact
        testPropertyWithConfig (config inMemory) "4a. left identity: pure a >>= f equals f a" <|
            Prop.forAll arbProg (fun prog ->
                let env = lawEnv prog
                let f x = compile env prog |> Workflow.map ((+) x)
                Expect.isTrue (sameRun (Workflow.ret 3 |> Workflow.bind f) (f 3)) "left identity")
        testPropertyWithConfig (config inMemory) "4b. right identity: m >>= pure equals m" <|
            Prop.forAll arbProg (fun prog ->
                let env = lawEnv prog
                Expect.isTrue (sameRun (compile env prog |> Workflow.bind Workflow.ret) (compile env prog)) "right identity")
        testPropertyWithConfig (config inMemory) "4c. associativity: (m >>= f) >>= g equals m >>= (fun x -> f x >>= g)" <|
            Prop.forAll (arbProgWith arbProg) (fun (p, q) ->
                let env = Env(Calls(), Map.fold (fun m k v -> Map.add k v m) (behaviors p) (behaviors q))
                let m = compile env p
                let f x = Workflow.ret (x * 2)
                let g x = compile env q |> Workflow.map ((+) x)
                Expect.isTrue (sameRun (m |> Workflow.bind f |> Workflow.bind g) (m |> Workflow.bind (fun x -> f x |> Workflow.bind g))) "associativity")
        testPropertyWithConfig (config inMemory) "4d. functor laws: map id is identity, map (f >> g) is map f then map g" <|
            Prop.forAll arbProg (fun prog ->
                let env = lawEnv prog
                let m = compile env prog
                Expect.isTrue (sameRun (m |> Workflow.map id) m) "identity"
                Expect.isTrue (sameRun (m |> Workflow.map ((+) 1 >> (*) 3)) (m |> Workflow.map ((+) 1) |> Workflow.map ((*) 3))) "composition")
        testPropertyWithConfig (config inMemory) "4e. traverse keeps input order" <|
            fun (xs: int list) ->
                let step = Durable.createSync "double" (fun (x: int) _ -> x * 2)
                Expect.equal (value (run (xs |> Workflow.traverse step.Call))) (xs |> List.map ((*) 2)) "order"
        testPropertyWithConfig (config inMemory) "4f. chunk n covers every item exactly once for any n >= 1" <|
            fun (PositiveInt n) (xs: int list) ->
                let n = min n 50
                let seen = Collections.Concurrent.ConcurrentDictionary<int, int>()
                let step = Durable.createSync "item" (fun (i: int) _ -> seen.AddOrUpdate(i, 1, (fun _ c -> c + 1)) |> ignore; xs[i])
                let indices = [ 0 .. xs.Length - 1 ]
                let out = value (run (indices |> Workflow.chunk n None (Workflow.traverse step.Call)))
                Expect.equal out xs "every item, in order"
                Expect.isTrue (seen.Values |> Seq.forall ((=) 1)) "each exactly once"
                Expect.equal seen.Count xs.Length "none missed"
        testPropertyWithConfig (config inMemory) "4g. chunk rejects n <= 0" <|
            fun (NonNegativeInt k) ->
                Expect.throwsT<ArgumentOutOfRangeException> (fun () -> [ 1 ] |> Workflow.chunk (-k) None (Workflow.traverse Workflow.ret) |> ignore) "rejected"
    ]
