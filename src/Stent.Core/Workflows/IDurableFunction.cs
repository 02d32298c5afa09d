// The untyped view of a durable function that the interpreter and the runtime use.
namespace Stent.Workflows;

/// <summary>A durable function seen without its type parameters.</summary>
internal interface IDurableFunction
{
    string Name { get; }
    DurableOptions Options { get; }
    Type InputType { get; }
    Type OutputType { get; }

    /// <summary>Runs the implementation once; a thrown exception is a failure.</summary>
    ValueTask<StepOutput> InvokeAsync(object? input, StepContext context);
}

/// <summary>What one run of a step produced: a value, or a business error it returned.</summary>
internal readonly record struct StepOutput(object? Value, string? BusinessError)
{
    public static StepOutput Of(object? value) => new(value, null);
    public static StepOutput Business(string error) => new(null, error);
}
