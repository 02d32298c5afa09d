/// A batch's items as its work row input: read back exactly as written, whatever JSON each input is.
module StepItemsTests

open Expecto
open FsCheck
open FsCheck.FSharp
open Stent.Storage

/// JSON values of every kind, nested, with text that needs escaping.
let private json =
    let text = Gen.elements [ "a"; "\"quoted\""; "back\\slash"; "ünïcödé"; "line\nbreak"; "" ]
    let scalar =
        Gen.oneof [ Gen.choose (-1000, 1000) |> Gen.map string
                    Gen.constant "1.5e3"
                    Gen.elements [ "true"; "false"; "null" ]
                    text |> Gen.map (fun s -> System.Text.Json.JsonSerializer.Serialize s) ]
    let rec value depth =
        if depth = 0 then scalar
        else
            Gen.oneof [ scalar
                        Gen.listOf (value (depth - 1)) |> Gen.map (fun vs -> "[" + String.concat "," vs + "]")
                        Gen.listOf (Gen.zip text (value (depth - 1)))
                        |> Gen.map (fun kvs ->
                            let pairs = kvs |> List.distinctBy fst |> List.map (fun (k, v) ->
                                System.Text.Json.JsonSerializer.Serialize k + ":" + v)
                            "{" + String.concat "," pairs + "}") ]
    value 2

let private items =
    Gen.listOf (Gen.zip (Gen.choose (0, 99999) |> Gen.map (fun i -> $"3.{i}/0")) json)
    |> Gen.map (List.map StepItem)
    |> Arb.fromGen

let tests =
    testList "StepItems" [
        testProperty "items decode to the positions and exact input JSON they were encoded with" <|
            Prop.forAll items (fun xs ->
                let back = StepItems.Decode(StepItems.Encode xs) |> List.ofSeq
                back = xs)
        test "items written as objects, before the compact form, still decode" {
            let back =
                StepItems.Decode """[{"position":"0.1/0","input":{"a":[1,2]}},{"input":"x","position":"0.2/0"}]"""
            Expect.equal (List.ofSeq back) [ StepItem("0.1/0", """{"a":[1,2]}"""); StepItem("0.2/0", "\"x\"") ]
                "both items, each input as written"
        }
        test "an item is written as [position, input], not an object naming its members" {
            Expect.equal (StepItems.Encode [ StepItem("0.1/0", "1") ]) """[["0.1/0",1]]""" "compact"
        }
        test "a compact item without its input is refused, quoting the row" {
            let e = Support.throws<System.Text.Json.JsonException> (fun () ->
                StepItems.Decode """[["0.1/0"]]""" |> ignore)
            Expect.stringContains e.Message "0.1/0" "names the bad row"
        }
        test "an item without its input is refused, quoting the row" {
            let e = Support.throws<System.Text.Json.JsonException> (fun () ->
                StepItems.Decode """[{"position":"0.1/0"}]""" |> ignore)
            Expect.stringContains e.Message "0.1/0" "names the bad row"
        }
    ]
