/// The README is true: each of its C# and F# blocks is a region of a file the build compiles, quoted verbatim.
module ReadmeTests

open System
open System.IO
open System.Text.RegularExpressions
open Expecto

let private root =
    let rec up (d: DirectoryInfo) = if File.Exists(Path.Combine(d.FullName, "Stent.sln")) then d.FullName else up d.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// The README's code blocks in a language.
let private blocks language =
    let text = File.ReadAllText(Path.Combine(root, "README.md"))
    [ for m in Regex.Matches(text, $"```{language}\n(.*?)```", RegexOptions.Singleline) -> m.Groups[1].Value.TrimEnd('\n') ]

/// The readme regions of the compiled sample files.
let private regions () =
    let files = [ "examples/Readme/Batch.cs"; "examples/Readme/Program.cs"; "examples/Readme/Services.cs"
                  "examples/BatchFs/Readme.fs" ]
    [ for file in files do
        let text = File.ReadAllText(Path.Combine(root, file))
        for m in Regex.Matches(text, @"// <readme:([a-z]+)>\n(.*?)// </readme:\1>", RegexOptions.Singleline) ->
            file, m.Groups[1].Value, m.Groups[2].Value.TrimEnd('\n') ]

let tests =
    testList "README" [
        test "every C# and F# block of the README is a compiled sample region, quoted verbatim" {
            let regions = regions ()
            let quoted = blocks "csharp" @ blocks "fsharp"
            Expect.isGreaterThanOrEqual quoted.Length 5 "the README has its samples"
            for block in quoted do
                let first = block.Split('\n')[0]
                Expect.isTrue (regions |> List.exists (fun (_, _, r) -> r = block))
                    $"README block starting '{first}' is not a region of examples/Readme or examples/BatchFs/Readme.fs, as written"
            for file, name, region in regions do
                Expect.isTrue (List.contains region quoted) $"region '{name}' of {file} is quoted in the README"
        }
    ]
