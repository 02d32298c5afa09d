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
open System.Collections.Concurrent
open System.Net
open System.Net.Http
open System.Threading.Tasks
open Microsoft.Extensions.Logging
open Stent.Examples.Readme

/// A scoped service that remembers being disposed.
type Probe() =
    member val Disposed = false with get, set
    interface IDisposable with
        member this.Dispose() = this.Disposed <- true

/// Answers every request with as many bytes as the last segment of its path says, and remembers the URLs.
type SizedHandler(asked: ConcurrentQueue<string>) =
    inherit HttpMessageHandler()
    override _.SendAsync(request, _) =
        asked.Enqueue(string request.RequestUri)
        let n = int (Array.last request.RequestUri.Segments)
        Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK, Content = new ByteArrayContent(Array.zeroCreate n)))

/// Starts the host's hosted services, runs `f` with its client, and stops them.
let private hosted (sp: IServiceProvider) (f: StentClient -> 'T) =
    let services = sp.GetServices<IHostedService>() |> List.ofSeq
    for s in services do s.StartAsync(CancellationToken.None).Wait()
    try f (sp.GetRequiredService<StentClient>())
    finally for s in services do s.StopAsync(CancellationToken.None).Wait()

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
        test "a step gets a typed HttpClient from the host's services (the README's example)" {
            let asked = ConcurrentQueue<string>()
            let services = ServiceCollection()
            services.AddHttpClient<ImageClient>(fun (c: HttpClient) ->
                c.BaseAddress <- Uri "https://images.example.com/")
                .ConfigurePrimaryHttpMessageHandler(fun () -> new SizedHandler(asked) :> HttpMessageHandler) |> ignore
            services.AddStent(fun o ->
                o.UseInMemory().AddWorkflow(Images.TotalBytes) |> ignore
                o.Worker <- WorkerOptions(PollMax = TimeSpan.FromMilliseconds 50.0)) |> ignore
            use sp = services.BuildServiceProvider()
            let r = hosted sp (fun c ->
                let id = c.DispatchAsync(Images.TotalBytes, [| "img/3"; "img/4" |]).Result
                c.WaitAsync(Images.TotalBytes, id, TimeSpan.FromSeconds 30.0).Result)
            Expect.equal (value r) 7 "each step downloaded through the typed client"
            Expect.containsAll asked [ "https://images.example.com/img/3"; "https://images.example.com/img/4" ]
                "with the client configured by the host"
        }
        test "each attempt of a step resolves its services from a scope of its own, disposed when the attempt ends" {
            let seen = ConcurrentQueue<int * Probe>()
            let step =
                let retried = DurableOptions(Retry = RetryPolicy.Fixed(2, Duration.Parse "10ms"))
                Durable.createUsingWith retried "scoped_probe"
                    (fun (p: Probe) (x: int) ctx -> task {
                        seen.Enqueue((ctx.Attempt, p))
                        Expect.isFalse p.Disposed "alive while the attempt runs"
                        if ctx.Attempt = 1 then failwith "once"
                        return x })
            let wf = Workflow.define "scoped_probe_wf" (fun (x: int) -> step.Call x)
            let services = ServiceCollection()
            services.AddScoped<Probe>() |> ignore
            use sp = services.BuildServiceProvider()
            let options id = WorkerOptions(WorkerId = id, Serializer = Json.serializer,
                                           PollMax = TimeSpan.FromMilliseconds 50.0, Services = sp)
            let r = withWorkers 1 (SqliteWorkStore.InMemory()) options (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, 5)
                return! c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0) })
            Expect.equal (value r) 5 "the retry succeeded"
            let probes = List.ofSeq seen
            Expect.equal (probes |> List.map fst) [ 1; 2 ] "two attempts"
            Expect.isFalse (obj.ReferenceEquals(snd probes[0], snd probes[1])) "a scope per attempt"
            Expect.isTrue (probes |> List.forall (fun (_, p) -> p.Disposed))
                "each scope disposed when its attempt ended"
        }
        test "a step whose service is not registered fails with the service's type named" {
            let step = Durable.createUsing "needs_probe" (fun (p: Probe) (x: int) _ -> Task.FromResult x)
            let wf = Workflow.define "needs_probe_wf" (fun (x: int) -> step.Call x)
            let r = withWorkers 1 (SqliteWorkStore.InMemory()) opts (fun w -> w.Register wf) (fun c -> task {
                let! id = c.DispatchAsync(wf, 5)
                return! c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0) })
            Expect.stringContains (error r).Message "HostingTests+Probe" "names the missing service"
        }
        test "a hosted worker logs through the host's logger, in a scope naming the execution and step" {
            let logs = new LoggingCapture.CaptureLogs()
            let step = Durable.createSync "host_logged" (fun (x: int) ctx -> ctx.Logger.LogInformation("got {X}", x); x)
            let wf = Workflow.define "host_logged_wf" (fun (x: int) -> step.Call x)
            let services = ServiceCollection()
            services.AddSingleton<ILoggerFactory>(logs) |> ignore
            services.AddStent(fun o ->
                o.UseInMemory().AddWorkflow(wf) |> ignore
                o.Worker <- WorkerOptions(Serializer = Json.serializer, PollMax = TimeSpan.FromMilliseconds 50.0)
                o.Serializer <- Json.serializer) |> ignore
            use sp = services.BuildServiceProvider()
            let id = hosted sp (fun c ->
                let id = c.DispatchAsync(wf, 3).Result
                c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0).Result |> ignore
                id)
            let line = logs.Records |> List.find (fun l -> l.Message = "got 3")
            Expect.equal line.Scope["ExecutionId"] id "the execution in scope"
            Expect.equal line.Scope["Step"] "host_logged" "the step in scope"
        }
        test "AddStent has one serializer setting: its payload limit holds in the client and in the hosted worker" {
            let big = Durable.createSync "hosted_big" (fun (n: int) _ -> String('x', n))
            let wf = Workflow.define "hosted_limit" (fun (n: int) -> big.Call n)
            let services = ServiceCollection()
            services.AddStent(fun o ->
                o.UseInMemory().AddWorkflow(wf) |> ignore
                o.Worker <- WorkerOptions(PollMax = TimeSpan.FromMilliseconds 50.0)
                o.Serializer <- Json.serializerWithLimit 64) |> ignore
            use sp = services.BuildServiceProvider()
            let r = hosted sp (fun c ->
                c.WaitAsync(wf, c.DispatchAsync(wf, 100).Result, TimeSpan.FromSeconds 30.0).Result)
            Expect.stringContains (error r).Message "over the payload limit of 64 bytes"
                "the worker's limit is the setting"
            let client = sp.GetRequiredService<StentClient>()
            let big = Workflow.define "hosted_big_input" (fun (s: string) -> Workflow.ret s)
            let e = throws<ArgumentException> (fun () -> client.DispatchAsync(big, String('y', 100)).Result |> ignore)
            Expect.stringContains e.Message "over the payload limit of 64 bytes" "so is the client's"
        }
    ]
