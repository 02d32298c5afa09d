// A named durable function: a step whose outcome is recorded, and the factories that make one.
using Stent.Workflows;

namespace Stent;

/// <summary>
/// A durable function: calling it inside a workflow (<see cref="Call"/>) records a step; its outcome is
/// stored, so after a crash it is replayed, never run again.
/// </summary>
/// <typeparam name="TIn">Input type (serialized as JSON).</typeparam>
/// <typeparam name="TOut">Output type (serialized as JSON).</typeparam>
public sealed class Durable<TIn, TOut> : IDurableFunction
{
    private readonly Func<TIn, StepContext, ValueTask<StepOutput>> _run;

    internal Durable(string name, Func<TIn, StepContext, ValueTask<StepOutput>> run, DurableOptions? options)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new
            ArgumentException($"A durable function needs a name, got '{name}'.", nameof(name));
        Name = name;
        _run = run ?? throw new ArgumentNullException(nameof(run));
        Options = (options ?? DurableOptions.Default).Validated(name);
    }

    /// <summary>The function's registered name: it identifies the step in histories.</summary>
    public string Name { get; }

    /// <summary>The function's options.</summary>
    public DurableOptions Options { get; }

    Type IDurableFunction.InputType => typeof(TIn);
    Type IDurableFunction.OutputType => typeof(TOut);

    /// <summary>A workflow that runs this function once on <paramref name="input"/>.</summary>
    public Workflow<TOut> Call(TIn input) => new(new StepNode(this, input));

    /// <summary>A copy with other options.</summary>
    public Durable<TIn, TOut> WithOptions(DurableOptions options) => new(Name, _run, options);

    ValueTask<StepOutput> IDurableFunction.InvokeAsync(object? input, StepContext context) =>
        _run((TIn)input!, context);

    /// <inheritdoc />
    public override string ToString() => $"durable '{Name}'";
}

/// <summary>Factories for durable functions. Each kind of implementation has its own name, so F# never meets an
/// ambiguous overload.</summary>
public static class Durable
{
    /// <summary>A durable function from an asynchronous implementation.</summary>
    public static Durable<TIn, TOut> Create<TIn, TOut>(string name, Func<TIn, StepContext, Task<TOut>> run,
        DurableOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        return new(name, async (i, c) => StepOutput.Of(await run(i, c).ConfigureAwait(false)), options);
    }

    /// <summary>
    /// A durable function that uses one of the app's services (an <c>HttpClient</c>, a <c>DbContext</c>, …): each
    /// attempt resolves <typeparamref name="TService"/> from its own scope of the worker's services (the host's under
    /// <c>AddStent</c>; <see cref="Execution.WorkerOptions.Services"/> otherwise). A service that is not registered
    /// fails the attempt with an error naming its type.
    /// </summary>
    public static Durable<TIn, TOut> Create<TService, TIn, TOut>(string name,
        Func<TService, TIn, StepContext, Task<TOut>> run, DurableOptions? options = null)
        where TService : notnull
    {
        ArgumentNullException.ThrowIfNull(run);
        return new(name, async (i, c) => StepOutput.Of(await run(Service<TService>(name, c), i, c)
            .ConfigureAwait(false)), options);
    }

    private static T Service<T>(string name, StepContext context) where T : notnull =>
        context.Services.GetService(typeof(T)) is T service ? service : throw new InvalidOperationException(
            $"Step '{name}' needs a service of type '{typeof(T).FullName}', but the worker's services have none: " +
            "register it with the host (AddStent uses the host's services) or set WorkerOptions.Services.");

    /// <summary>A durable function from a synchronous implementation.</summary>
    public static Durable<TIn, TOut> CreateSync<TIn, TOut>(string name, Func<TIn, StepContext, TOut> run,
        DurableOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        // A value task: a synchronous body's outcome costs no allocation.
        return new(name, (i, c) => new ValueTask<StepOutput>(StepOutput.Of(run(i, c))), options);
    }
}
