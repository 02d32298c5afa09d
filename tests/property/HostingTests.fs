/// AddStent: one line gives a generic host a store, a client and a hosted worker.
module HostingTests

open System
open System.IO
open System.Threading
open Expecto
open Microsoft.Extensions.DependencyInjection
open Microsoft.Extensions.Hosting
open Stent
open Stent.Dsl
open Stent.Execution
open Stent.Hosting
open Stent.Sqlite
open Support

let tests =
    testList "Hosting" [
        test "AddStent with UseSqlite runs a workflow through the hosted worker and drains on stop" {
            let path = Path.Combine(Path.GetTempPath(), $"stent-host-{Guid.NewGuid():N}.db")
            let step = Durable.createSync "hosted_square" (fun (x: int) _ -> x * x)
            let wf = Workflow.define "hosted_sum" (fun (xs: int list) -> xs |> Workflow.traverse step.Call |> Workflow.map List.sum)
            let services = ServiceCollection()
            services.AddStent(fun o ->
                o.UseSqlite(path).AddWorkflow(wf) |> ignore
                o.Worker <- WorkerOptions(Serializer = Json.serializer, PollMax = TimeSpan.FromMilliseconds 50.0)
                o.Serializer <- Json.serializer) |> ignore
            use sp = services.BuildServiceProvider()
            let hosted = sp.GetServices<IHostedService>() |> List.ofSeq
            Expect.equal hosted.Length 1 "one hosted worker"
            hosted[0].StartAsync(CancellationToken.None).Wait()
            let client = sp.GetRequiredService<StentClient>()
            let id = client.DispatchAsync(wf, [ 1..10 ]).Result
            let r = client.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0).Result
            hosted[0].StopAsync(CancellationToken.None).Wait()
            Expect.equal (value r) 385 "sum of squares"
        }
        test "AddStent without a store says which call is missing" {
            let e = throws<InvalidOperationException> (fun () -> ServiceCollection().AddStent(fun _ -> ()) |> ignore)
            Expect.stringContains e.Message "UseSqlite" "names the fix"
        }
    ]
