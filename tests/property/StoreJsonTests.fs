/// How the database stores write events: read back exactly, escaping only what JSON requires, a fan-out's batches
/// compactly.
module StoreJsonTests

open Expecto
open FsCheck
open FsCheck.FSharp
open Stent.Replay
open Stent.Storage.Relational

/// Payload text with quotes, backslashes, control characters, markup and text outside ASCII.
let private text =
    Gen.elements
        [ "{\"id\":1,\"ok\":true}"; "back\\slash"; "tab\there"; "line\nbreak"; "<b>&'</b>"
          "ünïcödé 日本 🙂"; "" ]
    |> Gen.listOf |> Gen.map (String.concat "") |> Arb.fromGen

let private position = Gen.choose (0, 99999) |> Gen.map (fun i -> $"0.{i}/0")

let private at offsetHours (ticks: int64) =
    System.DateTimeOffset(639000000000000000L + ticks, System.TimeSpan.FromHours(float offsetHours))

/// Outcomes of batch items: completed with their times (at one offset or not), with an output or a business error,
/// reused, without times; attempts that failed; items that failed for good.
let private outcome =
    let failure = Stent.Failure("System.Exception", "boom", [ "System.Exception" ], null, "f", "0.1/0")
    let times = Gen.zip (Gen.choose (0, 3)) (Gen.zip (Gen.choose (0, 1000000)) (Gen.choose (0, 1000000)))
    Gen.frequency [
        6, Gen.map4 (fun p (out: string) (attempt: int) (offset, (s: int, e: int)) ->
                        let output, error = if attempt % 3 = 0 then null, out else out, null
                        StepCompleted(p, output, error, attempt, StartedAt = at offset (int64 s * 7L),
                                      EndedAt = at offset (int64 (s + e) * 7L)) :> HistoryEvent)
                    position text.Generator (Gen.choose (1, 9)) times
        1, Gen.map2 (fun p out -> StepCompleted(p, out, null, 1, "earlier-run") :> HistoryEvent) position
               text.Generator
        1, Gen.map2 (fun p out -> StepCompleted(p, out, null, 1) :> HistoryEvent) position text.Generator
        1, Gen.map (fun p -> StepAttemptFailed(p, 1, failure, at 0 5L, StartedAt = at 0 1L) :> HistoryEvent) position
        1, Gen.map (fun p -> StepFailed(p, failure, 3, StartedAt = at 0 1L, EndedAt = at 0 2L) :> HistoryEvent)
               position ]

/// A batch as a fan-out writes them (steps of one function, or the outcomes of items), or steps of several functions.
let private batch =
    let scheduled names =
        Gen.listOf (Gen.map3 (fun p n (input: string) -> StepScheduled(p, n, input) :> HistoryEvent) position
                        (Gen.elements names) text.Generator)
    Gen.oneof [ scheduled [ "process_item" ]; scheduled [ "a"; "b" ]; Gen.listOf outcome
                Gen.listOf outcome |> Gen.map (List.filter (fun e -> e :? StepCompleted)) ]
    |> Gen.map (fun es -> EventBatch(ResizeArray es))
    |> Arb.fromGen

let private eventsOf (json: string) =
    match StoreJson.Event json with
    | :? EventBatch as b -> List.ofSeq b.Events
    | e -> failwith $"read back {e}, not a batch"

let private occurrences (what: string) (json: string) = (json.Length - json.Replace(what, "").Length) / what.Length

/// <paramref name="events"/> stored as one batch: its JSON, checked to name the event type once and to read back equal.
let private storedCompactly (eventType: string) (events: HistoryEvent list) =
    let json = StoreJson.Event(EventBatch(ResizeArray events))
    Expect.equal (occurrences eventType json) 1 "the event type is written once"
    Expect.equal (eventsOf json) events "read back equal"
    json

let tests =
    testList "StoreJson" [
        testProperty "an event reads back equal to the one written, its payload escaped only where JSON requires" <|
            Prop.forAll text (fun payload ->
                let e = StepCompleted("0.1/0", payload, null, 1) :> HistoryEvent
                let json = StoreJson.Event e
                Expect.equal (StoreJson.Event json) e "read back equal"
                Expect.isFalse (json.Contains "\\u0022") "a quote is written as \\\", not \\u0022"
                // (Characters beyond the basic plane, written as surrogate pairs, stay escaped.)
                for c in payload do
                    if (c > '\u007f' && not (System.Char.IsSurrogate c)) || c = '<' || c = '&' || c = '\'' then
                        Expect.stringContains json (string c) $"'{c}' is written as it is")
        testProperty "a batch's events read back equal to those written, whatever kinds it holds" <|
            Prop.forAll batch (fun b -> eventsOf (StoreJson.Event b) = List.ofSeq b.Events)
        test "a fan-out's scheduled steps name their function and event type once, not per item" {
            let steps = [ for i in 0 .. 99 -> StepScheduled($"0.{i}/0", "process_item", string i) :> HistoryEvent ]
            let json = storedCompactly "scheduled" steps
            Expect.equal (occurrences "process_item" json) 1 "the function's name is written once"
        }
        test "a fan-out's completed items write their times as ticks after the batch's first, not as dates" {
            let items =
                [ for i in 0 .. 99 ->
                    StepCompleted($"0.{i}/0", $"{{\"id\":{i}}}", null, 1, StartedAt = at 2 (int64 i * 10L),
                                  EndedAt = at 2 (int64 i * 10L + 5L)) :> HistoryEvent ]
            let json = storedCompactly "completed" items
            Expect.equal (occurrences "T" json) 1 "one date: the first item's start"
        }
        test "a batch stored as a list of events, as before the compact forms, still reads back" {
            let json =
                """{"$type":"batch","events":[{"$type":"scheduled","name":"f","input":"1","position":"0.0/0"},""" +
                """{"$type":"scheduled","name":"f","input":"2","position":"0.1/0"}]}"""
            let expected = [ StepScheduled("0.0/0", "f", "1") :> HistoryEvent; StepScheduled("0.1/0", "f", "2") ]
            Expect.equal (eventsOf json) expected "both steps, in order"
        }
        test "a compact batch read back from jsonb, its keys reordered, gives the same events" {
            let json =
                """{"$type": "batch", "events": {"scheduled": [["0.0/0", "1"], ["0.1/0", "2"]], "name": "f"}}"""
            let expected = [ StepScheduled("0.0/0", "f", "1") :> HistoryEvent; StepScheduled("0.1/0", "f", "2") ]
            Expect.equal (eventsOf json) expected "both steps, in order"
        }
    ]
