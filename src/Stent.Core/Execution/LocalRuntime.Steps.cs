// Running one step attempt: idempotent-result reuse, timeout, logging scope, and turning the outcome into data.
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Stent.Workflows;

namespace Stent.Execution;

public sealed partial class LocalRuntime
{
    private async Task<StepDone> RunStepAsync(StepWork work, IDurableFunction fn, CancellationToken ct)
    {
        await Task.Yield();
        var step = work.Step;
        var options = fn.Options;
        using var scope = _logger.BeginScope(new Dictionary<string, object>
        {
            ["ExecutionId"] = work.Execution.Id, ["Step"] = fn.Name, ["Position"] = step.Position, ["WorkerId"] = _options.WorkerId,
        });
        try
        {
            var input = _options.Serializer.Deserialize(step.Input, fn.InputType);
            string? key = null;
            if (options.Idempotent && _results is not null)
            {
                key = $"{fn.Name}:{options.IdempotencyKey?.Invoke(input) ?? Hash(step.Input)}";
                if (await _results.TryGetAsync(key, ct).ConfigureAwait(false) is { } cached) return new StepDone(work, cached, null, null);
            }
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (options.Timeout is { } timeout) cts.CancelAfter(timeout.Value);
            var context = new StepContext(work.Execution.Id, fn.Name, step.Position, work.Attempt, cts.Token, _logger);
            StepOutput output;
            try
            {
                output = await fn.InvokeAsync(input, context).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                throw new TimeoutException($"Step '{fn.Name}' at {step.Position} took longer than its timeout {options.Timeout}.");
            }
            if (output.BusinessError is { } business) return new StepDone(work, null, business, null);
            var json = _options.Serializer.Serialize(output.Value, fn.OutputType);
            if (key is not null) await _results!.PutAsync(key, json, ct).ConfigureAwait(false);
            return new StepDone(work, json, null, null);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            _logger.LogWarning(e, "Step {Step} at {Position} failed on attempt {Attempt}", fn.Name, step.Position, work.Attempt);
            return new StepDone(work, null, null, Failure.FromException(e, fn.Name, step.Position));
        }
    }

    private static string Hash(string json) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..32];
}
