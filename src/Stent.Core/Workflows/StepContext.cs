// What a running step sees: cancellation, attempt number, a stable idempotency key, a logger and services.
using Microsoft.Extensions.Logging;

namespace Stent;

/// <summary>Given to a durable function's implementation each time it runs.</summary>
/// <param name="ExecutionId">The execution the step belongs to.</param>
/// <param name="StepName">The durable function's name.</param>
/// <param name="Position">The step's position in its workflow (e.g. "3.17/0").</param>
/// <param name="Attempt">1 for the first attempt, 2 for the first retry, …</param>
/// <param name="CancellationToken">Signalled on timeout, cancellation or shutdown.</param>
/// <param name="Logger">A logger whose scope carries the execution id, step and position.</param>
public sealed record StepContext(
    string ExecutionId, string StepName, string Position, int Attempt, CancellationToken CancellationToken, ILogger Logger)
{
    /// <summary>Stable across attempts and crashes (execution id + position): pass it to external systems to deduplicate.</summary>
    public string IdempotencyKey => $"{ExecutionId}/{Position}";

    /// <summary>
    /// The app's services for this attempt: a scope of its own (disposed when the attempt ends) of the worker's
    /// <see cref="Execution.WorkerOptions.Services"/> — the host's provider under <c>AddStent</c>. Empty when the
    /// worker has none.
    /// </summary>
    public IServiceProvider Services { get; init; } = NoServices.Instance;
}

/// <summary>The provider of a worker that was given none: it has no service.</summary>
internal sealed class NoServices : IServiceProvider
{
    public static readonly NoServices Instance = new();

    public object? GetService(Type serviceType) => null;
}
