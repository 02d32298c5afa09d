/// What users install: the libraries and the stent tool pack into a folder, and an app and the tool work from that
/// folder alone (no feed has Stent): the README's Install section, done.
module PackageTests

open System
open System.IO
open Expecto
open Stent
open Stent.Execution
open Stent.Sqlite

let private root =
    let rec up (d: DirectoryInfo) =
        if File.Exists(Path.Combine(d.FullName, "Stent.sln")) then d.FullName else up d.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// Runs a program to its end: exit code, standard output, standard error.
let private run (dir: string) (file: string) (args: string list) =
    let psi = Diagnostics.ProcessStartInfo(file, args, RedirectStandardOutput = true, RedirectStandardError = true,
                                           WorkingDirectory = dir)
    use p = Diagnostics.Process.Start psi
    let out, err = p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync()
    p.WaitForExit()
    p.ExitCode, out.Result, err.Result

let tests =
    testSequenced <| testList "Packages" [
        test "the libraries and the tool pack into a folder; an app builds and runs from it, and so does the tool" {
            let configuration = if AppContext.BaseDirectory.Contains "/Release/" then "Release" else "Debug"
            let dir = Path.Combine(Path.GetTempPath(), $"stent-packages-{Guid.NewGuid():N}")
            let packages = Path.Combine(dir, "packages")
            let code, out, err =
                run root "dotnet" [ "pack"; "Stent.sln"; "-c"; configuration; "--no-build"; "-o"; packages; "-nologo" ]
            Expect.equal code 0 $"packs: {out}{err}"
            let packed =
                Directory.GetFiles(packages, "*.nupkg") |> Array.map Path.GetFileName |> Array.sort |> List.ofArray
            Expect.equal packed [ for p in [ "Cli"; "Core"; "Dsl"; "LanguageExt"; "Marten"; "Sqlite"; "Testing" ] ->
                                      $"Stent.{p}.0.1.0.nupkg" ] "only the libraries and the tool"
            // The app: a copy of examples/Installed whose only package source is the folder (the other packages it
            // needs are those the solution's restore already holds).
            let app = Path.Combine(dir, "app")
            Directory.CreateDirectory app |> ignore
            for f in [ "Installed.csproj"; "Program.cs" ] do
                File.Copy(Path.Combine(root, "examples", "Installed", f), Path.Combine(app, f))
            File.WriteAllText(Path.Combine(app, "nuget.config"),
                              $"<configuration><packageSources><clear /><add key=\"stent\" value=\"{packages}\" />" +
                              "</packageSources></configuration>")
            let code, out, err = run app "dotnet" [ "run"; "-c"; "Release" ]
            Expect.equal code 0 $"the app builds and runs: {out}{err}"
            Expect.stringContains out "worker: 12" "a worker ran the workflow"
            Expect.stringContains out "test environment: 12" "so did the test environment"
            Expect.stringContains out "zip: 1a,2b" "and LINQ's Zip is LINQ's"
            let code, out, err =
                run dir "dotnet" [ "tool"; "install"; "Stent.Cli"; "--tool-path"; Path.Combine(dir, "tools")
                                   "--add-source"; packages ]
            Expect.equal code 0 $"the tool installs: {out}{err}"
            let db = Path.Combine(dir, "stent.db")
            let store = new SqliteWorkStore(db)
            let wf = Stent.Dsl.Workflow.define "tool_listed" (fun (x: int) -> Stent.Dsl.Workflow.ret x)
            let id = StentClient(store).DispatchAsync(wf, 1).Result
            let code, out, _ = run dir (Path.Combine(dir, "tools", "stent")) [ "--db"; db; "list" ]
            Expect.equal code 0 "the installed tool runs"
            Expect.stringContains out id "and lists the execution"
        }
    ]
