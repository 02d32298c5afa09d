/// Retry policies as values: delays, caps, jitter bounds, exception filters and explicit delays.
module RetryPolicyTests

open System
open Expecto
open Stent

let tests =
    testList "RetryPolicy" [
        test "exponential delays double up to the cap without jitter" {
            let p = RetryPolicy.Exponential(6, Duration.Parse "1s", 2.0, Duration.Parse "5s", 0.0)
            let r = Random 1
            let delays = [ for a in 1..5 -> (p.DelayAfter(a, r)).TotalSeconds ]
            Expect.equal delays [ 1.0; 2.0; 4.0; 5.0; 5.0 ] "delays"
        }
        test "jitter stays within the fraction" {
            let p = RetryPolicy.Exponential(3, "1s", 2.0, Duration.Zero, 0.1)
            let r = Random 7
            for _ in 1..1000 do
                let d = (p.DelayAfter(1, r)).TotalMilliseconds
                Expect.isTrue (d >= 900.0 && d <= 1100.0) $"{d}"
        }
        test "only the named exception types (and subtypes) retry, business errors never" {
            let p = RetryPolicy.Default.RetryOnly<TimeoutException>()
            let timeout = Failure.FromException(TimeoutException "t")
            let io = Failure.FromException(IO.IOException "io")
            Expect.isTrue (p.ShouldRetry(timeout, 1)) "timeout retries"
            Expect.isFalse (p.ShouldRetry(io, 1)) "io does not"
            Expect.isFalse (p.ShouldRetry(timeout, 3)) "no attempts left"
            Expect.isFalse (RetryPolicy.Default.ShouldRetry(BusinessError "no", 1)) "business errors never retry"
            let sub = RetryPolicy.Default.RetryOnly<IO.IOException>()
            Expect.isTrue (sub.ShouldRetry(Failure.FromException(IO.FileNotFoundException "f"), 1)) "subtype retries"
        }
        test "explicit delays give one retry each, in order, without jitter" {
            let p = RetryPolicy.FromDelays([ Duration.Parse "1s"; Duration.Parse "10s"; Duration.Parse "1m" ])
            Expect.equal p.MaxAttempts 4 "three retries"
            Expect.equal [ for a in 1..3 -> p.DelayAfter(a, Random 1) ]
                [ TimeSpan.FromSeconds 1.0; TimeSpan.FromSeconds 10.0; TimeSpan.FromMinutes 1.0 ] "in order"
        }
        test "bad values are rejected naming the value" {
            let e = Support.throws<ArgumentOutOfRangeException> (fun () -> RetryPolicy.Fixed(0, Duration.Parse "1s") |> ignore)
            Expect.stringContains e.Message "0" "names the value"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> RetryPolicy.Default.WithJitter 2.0 |> ignore) "jitter > 1"
        }
    ]
