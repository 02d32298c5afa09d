// The untyped instruction tree behind Workflow<T>: what the interpreter walks. Building one runs nothing.
namespace Stent.Workflows;

/// <summary>One instruction of a workflow description.</summary>
internal abstract record Node;

/// <summary>A value, already known.</summary>
internal sealed record PureNode(object? Value) : Node;

/// <summary>Stop with an error.</summary>
internal sealed record FailNode(WorkflowError Error) : Node;

/// <summary>Run a durable function on an input (a recorded step).</summary>
internal sealed record StepNode(IDurableFunction Function, object? Input) : Node;

/// <summary>Run <paramref name="Source"/>, then the workflow <paramref name="Next"/> builds from its value.</summary>
internal sealed record BindNode(Node Source, Func<object?, Node> Next) : Node;

/// <summary>Run <paramref name="Source"/> and transform its value.</summary>
internal sealed record MapNode(Node Source, Func<object?, object?> Map) : Node;

/// <summary>A durable timer.</summary>
internal sealed record SleepNode(TimeSpan Duration) : Node;

/// <summary>A value produced once by <paramref name="Make"/> and recorded (clock, GUID, random).</summary>
internal sealed record RecordNode(string Kind, Type Type, Func<RecordContext, object?> Make) : Node;

/// <summary>Wait for the next signal of a name (payload as <paramref name="Type"/>); with a timeout, give up after it.</summary>
internal sealed record SignalNode(string Name, Type Type, TimeSpan? Timeout, Func<object?, object?> Found, Func<object?> TimedOut) : Node;

/// <summary>A log line from workflow code, recorded once.</summary>
internal sealed record LogNode(Microsoft.Extensions.Logging.LogLevel Level, string Template, IReadOnlyList<string?> Args) : Node;

/// <summary>A custom state value, recorded once.</summary>
internal sealed record PatchNode(string Id) : Node;

internal sealed record StateNode(string Key, object? Value, Type Type) : Node;

/// <summary>A progress report, recorded once.</summary>
internal sealed record ProgressNode(ProgressReport Report) : Node;

/// <summary>Run another workflow as a child execution with its own stream, and take its result.</summary>
internal sealed record ChildNode(IWorkflowDefinition Definition, object? Input) : Node;

/// <summary>Run branches concurrently: all results in order (fail fast), or the first to finish.</summary>
internal sealed record ParallelNode(IReadOnlyList<Node> Branches, ParallelMode Mode) : Node;

/// <summary>Turn the body's outcome into a value: <paramref name="Ok"/> for a value, <paramref name="Error"/> for an error.</summary>
internal sealed record AttemptNode(Node Body, Func<object?, object?> Ok, Func<WorkflowError, object?> Error) : Node;

/// <summary>On an error of the body, continue with the handler's workflow (null: let the error through).</summary>
internal sealed record CatchNode(Node Body, Func<WorkflowError, Node?> Handler) : Node;

/// <summary>Run the cleanup after the body, whatever its outcome.</summary>
internal sealed record FinallyNode(Node Body, Node Cleanup) : Node;

/// <summary>Run the body again after a failure, as the policy says, with recorded durable back-off timers.</summary>
internal sealed record RetryNode(Node Body, RetryPolicy Policy) : Node;

/// <summary>How a <see cref="ParallelNode"/> combines its branches.</summary>
internal enum ParallelMode
{
    /// <summary>Every branch's value, in order; the first error (in recorded order) ends it.</summary>
    All,
    /// <summary>The value of the first branch to finish (in recorded order).</summary>
    Any,
}

/// <summary>What a recorded value's generator may use.</summary>
/// <param name="Now">The decision's clock reading.</param>
/// <param name="Random">A random source.</param>
internal sealed record RecordContext(DateTimeOffset Now, Random Random);
