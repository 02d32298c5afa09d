/// Random workflow programs for property tests: a small AST, its generator and shrinker, and its compilation to Workflow<int>.
module Programs

open System
open FsCheck
open FsCheck.FSharp
open Stent
open Stent.Dsl
open Support

/// How a generated step behaves on each attempt.
type Behavior =
    | Succeeds
    /// Fails its first n attempts (the step's policy allows 3).
    | Transient of int
    | Permanent
    /// Fails every attempt, an hour apart, so it fails after faster siblings.
    | SlowPermanent
    /// Fails every attempt at some positions and none at others (so a workflow-level retry can help).
    | ByPosition

/// A generated workflow program. Step ids are unique within a program.
type Prog =
    | Step of id: int * Behavior
    | Pure of int
    | Seq of Prog * Prog
    | Traverse of Prog list
    | TraverseAll of Prog list
    | Sleep of seconds: int
    | Retry of Prog
    | Recover of Prog
    | Chunk of size: int * items: int list * stepId: int

let rec steps prog =
    match prog with
    | Step (id, _) -> [ id ]
    | Chunk (_, _, id) -> [ id ]
    | Pure _ | Sleep _ -> []
    | Seq (a, b) -> steps a @ steps b
    | Traverse ps | TraverseAll ps -> List.collect steps ps
    | Retry p | Recover p -> steps p

/// Gives every step a unique id, in pre-order.
let renumber prog =
    let mutable next = 0
    let fresh () = next <- next + 1; next
    let rec go p =
        match p with
        | Step (_, b) -> Step (fresh (), b)
        | Chunk (n, items, _) -> Chunk (n, items, fresh ())
        | Pure _ | Sleep _ -> p
        | Seq (a, b) -> let a' = go a in Seq (a', go b)
        | Traverse ps -> Traverse (List.map go ps)
        | TraverseAll ps -> TraverseAll (List.map go ps)
        | Retry p -> Retry (go p)
        | Recover p -> Recover (go p)
    go prog

let private behavior =
    Gen.frequency [ 6, Gen.constant Succeeds; 2, Gen.map Transient (Gen.choose (1, 2)); 1, Gen.constant Permanent; 1, Gen.constant SlowPermanent; 1, Gen.constant ByPosition ]

let rec private progOf size : Gen<Prog> =
    let leaf =
        Gen.frequency [
            5, Gen.map (fun b -> Step (0, b)) behavior
            1, Gen.map Pure (Gen.choose (0, 9))
            1, Gen.map Sleep (Gen.choose (1, 60))
            1, Gen.map2 (fun n k -> Chunk (n, [ 1..k ], 0)) (Gen.choose (1, 4)) (Gen.choose (0, 9)) ]
    if size <= 1 then leaf
    else
        let sub = progOf (size / 2)
        let list = Gen.choose (0, 4) |> Gen.bind (fun n -> Gen.listOfLength n (progOf (size / 3)))
        Gen.frequency [
            3, leaf
            3, Gen.map2 (fun a b -> Seq (a, b)) sub sub
            2, Gen.map Traverse list
            2, Gen.map TraverseAll list
            1, Gen.map Retry sub
            1, Gen.map Recover sub
            // A race whose outcome feeds a later step: which failure wins must replay the same way.
            1, Gen.map2 (fun a b -> Seq (Recover (Traverse [ a; b ]), Step (0, Succeeds))) sub sub ]

let rec private shrinkProg prog : Prog seq =
    seq {
        match prog with
        | Pure 0 -> ()
        | Pure _ -> yield Pure 0
        | Step (id, b) -> yield Pure 0; if b <> Succeeds then yield Step (id, Succeeds)
        | Sleep _ -> yield Pure 0
        | Chunk (n, items, id) ->
            yield Pure 0
            if not items.IsEmpty then yield Chunk (n, List.truncate (items.Length / 2) items, id)
        | Seq (a, b) ->
            yield a; yield b
            for a' in shrinkProg a -> Seq (a', b)
            for b' in shrinkProg b -> Seq (a, b')
        | Traverse ps | TraverseAll ps ->
            let make = match prog with Traverse _ -> Traverse | _ -> TraverseAll
            yield! ps
            for i in 0 .. ps.Length - 1 do
                yield make (List.removeAt i ps)
                for p' in shrinkProg ps[i] -> make (List.updateAt i p' ps)
        | Retry p | Recover p ->
            yield p
            let make = match prog with Retry _ -> Retry | _ -> Recover
            for p' in shrinkProg p -> make p'
    }
    |> Seq.map renumber

let private genProg = Gen.sized (fun s -> progOf (min s 40)) |> Gen.map renumber

/// Arbitrary programs, shrinking towards smaller ones.
let arbProg = Arb.fromGenShrink (genProg, shrinkProg)

/// Arbitrary programs paired with another value; shrinks the program first, then the value.
let arbProgWith (other: Arbitrary<'T>) =
    Arb.fromGenShrink (
        Gen.zip genProg other.Generator,
        fun (p, x) -> Seq.append (shrinkProg p |> Seq.map (fun p' -> p', x)) (other.Shrinker x |> Seq.map (fun x' -> p, x')))

/// Step implementations of one test run, counting their calls by idempotency key.
type Env(calls: Calls, behaviors: Map<int, Behavior>, ?nameOf: int -> string) =
    let nameOf = defaultArg nameOf (sprintf "s%d")
    let cache = Collections.Generic.Dictionary<int, Durable<int, int>>()
    member _.Calls = calls
    member _.Step id =
        match cache.TryGetValue id with
        | true, d -> d
        | _ ->
            let b = behaviors |> Map.tryFind id |> Option.defaultValue Succeeds
            let d =
                let delay = if b = SlowPermanent then "1h" else "1s"
                Durable.createSyncWith (DurableOptions(Retry = RetryPolicy.Fixed(3, Duration.Parse delay))) (nameOf id) (fun (x: int) ctx ->
                    calls.Hit ctx
                    let fails =
                        match b with
                        | Succeeds -> false
                        | Transient n -> ctx.Attempt <= n
                        | Permanent | SlowPermanent -> true
                        | ByPosition -> (ctx.Position |> Seq.sumBy int) % 2 = 0
                    if fails then raise (InvalidOperationException $"step {id} failed at {ctx.Position}")
                    x + id)
            cache[id] <- d
            d

let rec behaviors prog =
    match prog with
    | Step (id, b) -> Map [ id, b ]
    | Chunk _ | Pure _ | Sleep _ -> Map.empty
    | Seq (a, b) -> Map.fold (fun m k v -> Map.add k v m) (behaviors a) (behaviors b)
    | Traverse ps | TraverseAll ps -> ps |> List.map behaviors |> List.fold (fun m x -> Map.fold (fun m k v -> Map.add k v m) m x) Map.empty
    | Retry p | Recover p -> behaviors p

/// Compiles a program to a workflow producing an int; `input` flows into steps, so values reach the recorded commands.
let rec compileFrom (env: Env) (input: int) prog : Workflow<int> =
    let go = compileFrom env
    match prog with
    | Step (id, _) -> (env.Step id).Call input
    | Pure n -> Workflow.ret n
    | Seq (a, b) -> go input a |> Workflow.bind (fun x -> go x b |> Workflow.map ((+) x))
    | Traverse ps -> ps |> Workflow.traverse (go input) |> Workflow.map List.sum
    | TraverseAll ps ->
        ps |> Workflow.traverseAll (go input)
        |> Workflow.map (List.sumBy (function Ok v -> v | Error _ -> 1000))
    | Sleep s -> Workflow.sleepFor (TimeSpan.FromSeconds(float s)) |> Workflow.map (fun () -> 0)
    | Retry p -> go input p |> Workflow.retry (RetryPolicy.Fixed(3, Duration.Parse "5s"))
    | Recover p -> go input p |> Workflow.recover (fun e -> -(e.Message |> Seq.sumBy int) % 997)
    | Chunk (n, items, id) ->
        items |> Workflow.chunk n (Some "1s") (Workflow.traverse (fun i -> (env.Step id).Call(i + input))) |> Workflow.map List.sum

/// Compiles a program to a workflow producing an int.
let compile env prog = compileFrom env 0 prog

/// A workflow definition for a program.
let definition env prog = Workflow.define "prog" (fun () -> compile env prog)
