/// Durations as text and TimeSpan: what parses, and what is rejected with the text in the message.
module DurationTests

open System
open Expecto
open Stent

let tests =
    testList "Duration" [
        test "text with every unit parses to the right length" {
            let cases = [ "100ms", 100.0; "30s", 30_000.0; "1.5h", 5_400_000.0; "2d8h", 201_600_000.0; "1w", 604_800_000.0; "1m30s", 90_000.0; "0s", 0.0 ]
            for text, ms in cases do
                Expect.equal (Duration.Parse text).Value (TimeSpan.FromMilliseconds ms) text
        }
        test "malformed text is rejected naming the text" {
            for bad in [ "2hh"; "-1s"; ""; "10"; "1 s"; "s"; "1.s"; "1h "; "5y" ] do
                let e = Support.throws<FormatException> (fun () -> Duration.Parse bad |> ignore)
                Expect.stringContains (string e.Message) $"'{bad}'" "message names the text"
        }
        test "a negative TimeSpan is rejected" {
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> Duration.From(TimeSpan.FromSeconds -1.0) |> ignore) "negative"
        }
        test "a malformed sleep is rejected when the workflow is built, before anything runs" {
            Expect.throwsT<FormatException> (fun () -> Stent.Dsl.Workflow.sleep "2hh" |> ignore) "sleep"
        }
    ]
