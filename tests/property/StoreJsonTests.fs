/// How the database stores write events: read back exactly, escaping only what JSON requires.
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
    ]
