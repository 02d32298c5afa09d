// Runs one attempt of a step: idempotent-result reuse, timeout, a logging scope, and the outcome as an event.
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Stent.Replay;
using Stent.Serialization;
using Stent.Storage;
using Stent.Workflows;

namespace Stent.Execution;

/// <summary>Runs step attempts for a runtime or a worker.</summary>
internal sealed class StepRunner(PayloadSerializer serializer, IIdempotencyStore? results, ILogger logger, string workerId)
{
    /// <summary>What an attempt produced: output JSON, a business error, or a failure.</summary>
    public readonly record struct Attempt(string? Output, string? BusinessError, Failure? Failure);

    /// <summary>Runs <paramref name="fn"/> once on the JSON <paramref name="input"/>.</summary>
    public async Task<Attempt> RunAsync(
        IDurableFunction fn, string executionId, string position, string input, int attempt, CancellationToken ct)
    {
        await Task.Yield();
        var options = fn.Options;
        using var scope = logger.BeginScope(new Dictionary<string, object>
        {
            ["ExecutionId"] = executionId, ["Step"] = fn.Name, ["Position"] = position, ["Attempt"] = attempt, ["WorkerId"] = workerId,
        });
        try
        {
            var value = serializer.Deserialize(input, fn.InputType);
            string? key = null;
            if (options.Idempotent && results is not null)
            {
                key = $"{fn.Name}:{options.IdempotencyKey?.Invoke(value) ?? Hash(input)}";
                if (await results.TryGetAsync(key, ct).ConfigureAwait(false) is { } cached) return new Attempt(cached, null, null);
            }
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (options.Timeout is { } timeout) cts.CancelAfter(timeout.Value);
            var context = new StepContext(executionId, fn.Name, position, attempt, cts.Token, logger);
            StepOutput output;
            try
            {
                output = await fn.InvokeAsync(value, context).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                throw new TimeoutException($"Step '{fn.Name}' at {position} took longer than its timeout {options.Timeout}.");
            }
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

    /// <summary>The event that records an attempt: completed, failed for good, or failed with a retry at a chosen time.</summary>
    public static HistoryEvent ToEvent(Attempt a, string position, int attempt, RetryPolicy policy, DateTimeOffset now, Random random)
    {
        if (a.Failure is null) return new StepCompleted(position, a.Output, a.BusinessError, attempt);
        return policy.ShouldRetry(a.Failure, attempt)
            ? new StepAttemptFailed(position, attempt, a.Failure, now + policy.DelayAfter(attempt, random))
            : new StepFailed(position, a.Failure, attempt);
    }

    private static string Hash(string json) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..32];
}
