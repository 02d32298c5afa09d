/// LanguageExt interop (Stent.LanguageExt): durable functions from Aff, Eff, Fin, Either and Option run on a real
/// worker with the meaning each case promises; schedules become retry policies; results become Fin.
module LanguageExtTests

open System
open System.Threading.Tasks
open Expecto
open LanguageExt
open Stent
open Stent.Dsl
open Stent.LanguageExt
open Support

/// Runs `wf` on `input` on a worker and an in-memory store.
let private runOn (wf: WorkflowDef<'I, 'O>) (input: 'I) =
    withWorkers 1 (Stent.Sqlite.SqliteWorkStore.InMemory()) opts (fun w -> w.Register wf) (fun c -> task {
        let! id = c.DispatchAsync(wf, input)
        return! c.WaitAsync(wf, id, TimeSpan.FromSeconds 30.0) })

let private once = DurableOptions(Retry = RetryPolicy.Fixed(3, Duration.Parse "10ms"))

let tests =
    testList "LanguageExt interop" [
        test "an Aff's Fail is a failure the policy retries; its Succ is the output" {
            let calls = ref 0
            let step = LanguageExtDurable.FromAff("lx_aff", Func<int, StepContext, Aff<int>>(fun x _ ->
                calls.Value <- calls.Value + 1
                if calls.Value = 1 then Prelude.FailAff<int>(Common.Error.New "flaky")
                else Prelude.SuccessAff<int>(x * 2)), once)
            let r = runOn (Workflow.define "lx_aff_wf" (fun (x: int) -> step.Call x)) 21
            Expect.equal (value r) 42 "the retry succeeded"
            Expect.equal calls.Value 2 "after one failure"
        }
        test "an Eff's Fail fails the step once the policy gives up, naming the error" {
            let step = LanguageExtDurable.FromEff("lx_eff", Func<int, StepContext, Eff<int>>(fun _ _ ->
                Prelude.FailEff<int>(Common.Error.New "always broken")), once)
            let r = runOn (Workflow.define "lx_eff_wf" (fun (x: int) -> step.Call x)) 1
            Expect.stringContains (error r).Message "always broken" "the error"
        }
        test "a Fin's Succ is the output" {
            let step = LanguageExtDurable.FromFin("lx_fin", Func<int, StepContext, Task<Fin<string>>>(fun x _ ->
                Task.FromResult(Fin<string>.Succ $"item {x}")))
            Expect.equal (value (runOn (Workflow.define "lx_fin_wf" (fun (x: int) -> step.Call x)) 7)) "item 7" "output"
        }
        test "an Either's Left is a business error: recorded, not retried" {
            let calls = ref 0
            let either x =
                calls.Value <- calls.Value + 1
                Task.FromResult(if x < 0 then Either<string, int>.Left "negative" else Either<string, int>.Right x)
            let run = Func<int, StepContext, Task<Either<string, int>>>(fun x _ -> either x)
            let step = LanguageExtDurable.FromEither("lx_either", run, once)
            let wf = Workflow.define "lx_either_wf" (fun (x: int) -> step.Call x)
            let r = runOn wf -1
            Expect.equal (error r).Message "negative" "the Left's text"
            Expect.isTrue (error r).IsBusiness "as a business error"
            Expect.equal calls.Value 1 "not retried"
            Expect.equal (value (runOn wf 5)) 5 "a Right is the output"
        }
        test "an Option's None is an absent output" {
            let step = LanguageExtDurable.FromOption("lx_option", Func<_, _, _>(fun (x: int) _ ->
                Task.FromResult(if x = 0 then Option<string>.None else Option<string>.Some $"#{x}")))
            let wf = Workflow.define "lx_option_wf" (fun (x: int) ->
                step.Call x |> Workflow.map (fun s -> if isNull s then "none" else s))
            Expect.equal (value (runOn wf 0)) "none" "None"
            Expect.equal (value (runOn wf 3)) "#3" "Some"
        }
        test "a schedule gives the attempts and delays" {
            let schedule = Schedule.recurs(3).Apply(Schedule.spaced(LanguageExt.Duration(250.0)))
            let p = LanguageExtRetry.FromSchedule(schedule)
            Expect.equal p.MaxAttempts 4 "three retries"
            Expect.equal (p.DelayAfter(2, Random 1)) (TimeSpan.FromMilliseconds 250.0) "spaced"
        }
        test "a result becomes a Fin: Succ of the value, Fail with the error's message" {
            Expect.equal (Stent.Result<int>.Ok(3).ToFin()) (Fin<int>.Succ 3) "Ok"
            let failed = Stent.Result<int>.Fail(BusinessError "no").ToFin()
            Expect.isTrue failed.IsFail "Fail"
            Expect.equal (failed.Match((fun (_: int) -> ""), (fun (e: Common.Error) -> e.Message))) "no"
                "with the message"
        }
    ]
