/// The seed's basic batch, image pipeline and chunked patterns, in C# and in F#, run and counted; the .fsx script runs.
module ExampleTests

open System
open System.Diagnostics
open System.IO
open Expecto
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Replay
open Stent.Storage
open Support

type private Cs = Stent.Examples.CSharp.Patterns
module Fs = Stent.Examples.Patterns

let private runtime () = env ()

let private repoRoot =
    let rec up (d: DirectoryInfo) = if File.Exists(Path.Combine(d.FullName, "Stent.sln")) then d.FullName else up d.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// Runs an F# script of the repository with `dotnet fsi`; its standard output, or a test failure with its errors.
let private fsi (script: string) =
    let psi = ProcessStartInfo("dotnet", $"fsi {script}", WorkingDirectory = repoRoot, RedirectStandardOutput = true, RedirectStandardError = true)
    use p = Process.Start psi
    let err = p.StandardError.ReadToEndAsync()
    let out = p.StandardOutput.ReadToEnd()
    p.WaitForExit()
    Expect.equal p.ExitCode 0 $"fsi {script} failed: {err.Result}"
    out

let tests =
    testList "Examples" [
        test "C#: the basic batch captures every item's outcome" {
            let s = value (runtime().RunAsync(Cs.Batch, [| 1..100 |]).Result)
            Expect.equal (s.Total, s.Succeeded, s.Failed) (100, 95, 5) "17, 34, 51, 68, 85 fail"
            Expect.stringContains s.Errors[0] "item 17 is corrupt" "error kept"
        }
        test "C#: the image pipeline skips failed downloads and makes a gallery; no image is a business error" {
            let r = runtime().RunAsync(Cs.ImagePipeline, [| 1..20 |]).Result
            Expect.equal (value r) "https://gallery.example/18_images" "7 and 17 are gone, 3 and 13 retried"
            let none = runtime().RunAsync(Cs.ImagePipeline, [| 7; 17 |]).Result
            Expect.isTrue (error none).IsBusiness "business error"
            Expect.equal (error none).Message "No images downloaded successfully" "message"
        }
        test "C#: chunked processing reports progress per chunk and pauses between chunks" {
            use rt = env ()
            let s = value (rt.RunAsync(Cs.Chunked, [| 1..1001 |], "c").Result)
            Expect.equal s.Total 1001 "total"
            let h = rt.Store.ReadAsync("c").Result
            Expect.equal (h |> Seq.filter (fun e -> e :? ProgressReported) |> Seq.length) 11 "11 chunks"
            Expect.equal (h |> Seq.filter (fun e -> e :? TimerStarted) |> Seq.length) 10 "10 pauses"
        }
        test "F#: the basic batch, image pipeline and chunked patterns give the C# results" {
            let rt = runtime ()
            let s = value (rt.RunAsync(Fs.batch, [ 1..100 ]).Result)
            Expect.equal (s.Total, s.Succeeded, s.Failed) (100, 95, 5) "batch"
            Expect.equal (value (rt.RunAsync(Fs.imagePipeline, [ 1..20 ]).Result)) "https://gallery.example/18_images" "pipeline"
            Expect.isTrue (error (rt.RunAsync(Fs.imagePipeline, [ 7 ]).Result)).IsBusiness "no images"
            let c = value (rt.RunAsync(Fs.chunked, [ 1..1001 ]).Result)
            Expect.equal (c.Succeeded + c.Failed) 1001 "chunked"
        }
        test "patterns 1, 2 and 3 in C# and F#, crashed at event boundaries, recover to the same result without recording a finished step again" {
            crashEverywhere Cs.Batch [| 1..40 |]
            crashEverywhere Cs.ImagePipeline [| 1..20 |]
            crashEverywhere Cs.Chunked [| 1..250 |]
            crashEverywhere Fs.batch [ 1..40 ]
            crashEverywhere Fs.imagePipeline [ 1..20 ]
            crashEverywhere Fs.chunked [ 1..250 ]
            crashEverywhere Stent.Examples.CSharp.ImageGallery.Workflow (Stent.Examples.CSharp.ImageBatch(40, 0.2))
        }
        test "the main job's image gallery: failed downloads are skipped and counted, all failing is a business error" {
            let rt = runtime ()
            let g = value (rt.RunAsync(Stent.Examples.CSharp.ImageGallery.Workflow, Stent.Examples.CSharp.ImageBatch(60, 0.2)).Result)
            Expect.equal (g.Downloaded + g.Failures.Count) 60 "every image accounted for"
            Expect.equal g.Images g.Downloaded "every download processed"
            Expect.equal g.Url $"https://gallery.example/{g.Images}_images" "gallery of the processed images"
            Expect.isGreaterThan g.Failures.Count 0 "some failed for good"
            let none = rt.RunAsync(Stent.Examples.CSharp.ImageGallery.Workflow, Stent.Examples.CSharp.ImageBatch(5, 1.0)).Result
            Expect.equal (error none).Message "No images downloaded successfully" "business error"
        }
        // Sequenced: the examples keep counters in statics that other tests use too.
        testSequenced <| test "the C# tour runs every pattern, 1 to 13, on workers" {
            let out = new IO.StringWriter()
            Stent.Examples.CSharp.PatternTour.RunAsync(Nullable(), out).Wait()
            let lines = out.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            Expect.equal lines.Length 13 $"a line per pattern: {out}"
            for expected in [ "1. basic batch: 95/100 succeeded"; "3. chunked with progress: 943/1001"; "5. rate limited (MaxConcurrent = 5): 40 calls, at most 5 at once"
                              "10. checkpoint/resume: first run: record 150: service unavailable; dispatched again: total 90300, "
                              "12. best practices: idempotent result reused: True; a failed batch (aggregation failed) still ran its cleanup: True"
                              "13. neighbours: saga: no cars left (compensated: hotel-bob, flight-bob); children: 30 rows; approved by carol" ] do
                Expect.stringContains (out.ToString()) expected "tour output"
        }
        test "the F# script runs every pattern, 1 to 13, on workers" {
            let out = fsi "examples/patterns.fsx"
            for expected in [ "1. basic batch: 95/100 succeeded"; "4. map: 500 items in input order: 1..500"; "8. retry failed items in rounds: 6 done after 3 rounds"
                              "10. checkpoint/resume: first run: record 150: service unavailable; dispatched again: 90300, "; "steps reused from"
                              "12. best practices: idempotent result reused: True; MaxDuration: timed out, cleanup steps run: 1"
                              "13. neighbours: saga: no cars left (compensated); children: 30 rows; approved by carol" ] do
                Expect.stringContains out expected "script output"
        }
        test "the F# script runs a small batch" {
            let out = fsi "examples/batch.fsx"
            Expect.stringContains out "script batch: 12 items processed" "output"
        }
        test "the examples survive a crash at any store write and replay exactly (Stent.Testing's check, property)" {
            Stent.Testing.WorkflowChecks.CrashAtEveryWriteAsync(Cs.Batch, [| 15..20 |]).Wait()
            Stent.Examples.Readme.batchSurvivesCrashes 20
        }
    ]
