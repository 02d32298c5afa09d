// Runs one attempt of a step: idempotent-result reuse, timeout, a logging scope, and the outcome as an event.
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Stent.Diagnostics;
using Stent.Replay;
using Stent.Serialization;
using Stent.Storage;
using Stent.Workflows;

namespace Stent.Execution;

/// <summary>Runs step attempts for a runtime or a worker.</summary>
internal sealed class StepRunner(PayloadSerializer serializer, IIdempotencyStore? results, ILogger logger,
    string workerId, IServiceProvider? services = null)
{
    /// <summary>What an attempt produced: output JSON, a business error, or a failure (<paramref name="Final"/> when
    /// no retry can help, e.g. an input that does not read as the function's input type).</summary>
    public readonly record struct Attempt(string? Output, string? BusinessError, Failure? Failure, bool Final = false);

    /// <summary>Runs <paramref name="fn"/> once on the JSON <paramref name="input"/>, on the caller's thread until the
    /// body first waits (a worker calls it from a pool thread of the step's own): a body that finishes at once, such as
    /// a batch's quick items one after the other, costs no thread hop and no allocated state machine.</summary>
    public async ValueTask<Attempt> RunAsync(
        IDurableFunction fn, string executionId, string position, string input, int attempt, CancellationToken ct)
    {
        var options = fn.Options;
        // The scope only when a logger is configured (it costs an allocation per attempt); scopes reach a logger's
        // providers whatever levels it enables.
        using var scope = logger is NullLogger ? null : logger.BeginScope(new LogScope(("ExecutionId", executionId),
            ("Step", fn.Name), ("Position", position), ("Attempt", attempt), ("WorkerId", workerId)));
        object? value;
        try
        {
            value = serializer.Deserialize(input, fn.InputType);
        }
        catch (PayloadException e)
        {
            var bad = new PayloadException($"The input of step '{fn.Name}' at {position} cannot be read as " +
                $"'{fn.InputType.FullName}': {e.InnerException?.Message ?? e.Message}", e.InnerException);
            logger.LogError(bad, "Step {Step} at {Position} has an unreadable input", fn.Name, position);
            return new Attempt(null, null, Failure.FromException(bad, fn.Name, position), Final: true);
        }
        try
        {
            string? key = null;
            if (options.Idempotent && results is not null)
            {
                key = $"{fn.Name}:{options.IdempotencyKey?.Invoke(value) ?? Hash(input)}";
                if (await results.TryGetAsync(key, ct).ConfigureAwait(false) is { } cached) return new Attempt(cached, null, null);
            }
            // A token of its own only with a timeout.
            using var cts = options.Timeout.IsZero ? null : CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts?.CancelAfter(options.Timeout.OrNull!.Value);
            var attemptScope = services?.GetService<IServiceScopeFactory>()?.CreateAsyncScope();
            var context = new StepContext(executionId, fn.Name, position, attempt, cts?.Token ?? ct, logger)
            {
                Services = attemptScope?.ServiceProvider ?? services ?? NoServices.Instance,
            };
            StepOutput output;
            // A body that finished at once (a synchronous one, or a batch's quick item) is taken as it is: no task is
            // made for it. Others are awaited until the timeout.
            var now = options.Timeout.IsZero ? Invoke(fn, value, context) : default;
            if (options.Timeout.IsZero && now.IsCompletedSuccessfully)
            {
                output = now.Result;
                if (attemptScope is { } s) await s.DisposeAsync().ConfigureAwait(false);
            }
            else output = await AwaitAsync(options.Timeout.IsZero ? now.AsTask() : InvokeAlone(fn, value, context),
                fn, position, cts, attemptScope, ct).ConfigureAwait(false);
            if (output.BusinessError is { } business) return new Attempt(null, business, null);
            var json = serializer.Serialize(output.Value, fn.OutputType);
            if (key is not null) await results!.PutAsync(key, json, ct).ConfigureAwait(false);
            return new Attempt(json, null, null);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "Step {Step} at {Position} failed on attempt {Attempt}", fn.Name, position, attempt);
            return new Attempt(null, null, Failure.FromException(e, fn.Name, position));
        }
    }

    /// <summary>Waits for a body that did not finish at once, until the step's timeout: one that overruns it (or whose
    /// attempt is cancelled) is abandoned, told through <paramref name="cts"/>, and its services disposed when it
    /// ends.</summary>
    private static async Task<StepOutput> AwaitAsync(Task<StepOutput> invoked, IDurableFunction fn, string position,
        CancellationTokenSource? cts, AsyncServiceScope? attemptScope, CancellationToken ct)
    {
        try
        {
            return await invoked.WaitAsync(fn.Options.Timeout.OrNull ?? Timeout.InfiniteTimeSpan, ct)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (!invoked.IsCompleted || e is OperationCanceledException
            && cts?.IsCancellationRequested == true && !ct.IsCancellationRequested)
        {
            if (!invoked.IsCompleted)
            {
                // Abandoned: tell the body (with a timeout its token is this source's, which is disposed on
                // return; without one it is the caller's, already cancelled) and observe whatever it ends with.
                cts?.Cancel();
                Observe(invoked);
            }
            ct.ThrowIfCancellationRequested();
            throw new TimeoutException($"Step '{fn.Name}' at {position} took longer than its timeout " +
                $"{fn.Options.Timeout}.");
        }
        finally
        {
            // The attempt's services live as long as its body: an abandoned body keeps them until it ends.
            if (attemptScope is { } s)
                if (invoked.IsCompleted) await s.DisposeAsync().ConfigureAwait(false);
                else DisposeAfter(invoked, s);
        }
    }

    /// <summary>The event that records an attempt that ran from <paramref name="started"/> to <paramref name="now"/>:
    /// completed, failed for good, or failed with a retry at a chosen time.</summary>
    public static HistoryEvent ToEvent(Attempt a, string position, int attempt, RetryPolicy policy,
        DateTimeOffset started, DateTimeOffset now, Random random)
    {
        if (a.Failure is null)
            return new StepCompleted(position, a.Output, a.BusinessError, attempt)
            {
                StartedAt = started, EndedAt = now,
            };
        return !a.Final && policy.ShouldRetry(a.Failure, attempt)
            ? new StepAttemptFailed(position, attempt, a.Failure, now + policy.DelayAfter(attempt, random))
            {
                StartedAt = started, EndedAt = now,
            }
            : new StepFailed(position, a.Failure, attempt) { StartedAt = started, EndedAt = now };
    }

    // The lambdas below are in methods of their own: in the attempt's method their closure would be made for every
    // attempt.

    /// <summary>The body's task, started on a thread of its own.</summary>
    private static Task<StepOutput> InvokeAlone(IDurableFunction fn, object? value, StepContext context) =>
        Task.Factory.StartNew(() => Invoke(fn, value, context).AsTask(), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    /// <summary>Observes what an abandoned body ends with.</summary>
    private static void Observe(Task<StepOutput> invoked) =>
        _ = invoked.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);

    /// <summary>Disposes an abandoned body's services once it ends.</summary>
    private static void DisposeAfter(Task<StepOutput> invoked, AsyncServiceScope scope) =>
        _ = invoked.ContinueWith(_ => scope.DisposeAsync().AsTask(), TaskScheduler.Default).Unwrap();

    /// <summary>The body's outcome; one that throws before its first await gives a faulted one.</summary>
    private static ValueTask<StepOutput> Invoke(IDurableFunction fn, object? value, StepContext context)
    {
        try { return fn.InvokeAsync(value, context); }
        catch (Exception e) { return ValueTask.FromException<StepOutput>(e); }
    }

    private static string Hash(string json) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..32];
}
