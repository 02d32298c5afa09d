// The two ways a workflow can go wrong, kept apart: a business error (a returned error) and a failure (a thrown
// exception).
using System.Text.Json.Serialization;

namespace Stent;

/// <summary>Why a workflow or step did not produce a value.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$kind")]
[JsonDerivedType(typeof(BusinessError), "business")]
[JsonDerivedType(typeof(Failure), "failure")]
[JsonDerivedType(typeof(Cancellation), "cancellation")]
public abstract record WorkflowError
{
    /// <summary>A human-readable description.</summary>
    public abstract string Message { get; }

    /// <summary>True for a business error (a returned error value, never retried).</summary>
    [JsonIgnore]
    public bool IsBusiness => this is BusinessError;

    /// <summary>True for a failure (a step or workflow code that threw, after its retries).</summary>
    [JsonIgnore]
    public bool IsFailure => this is Failure;

    /// <inheritdoc />
    public override string ToString() => Message;
}

/// <summary>A business error: the workflow or a step returned an error. Completed, not retried.</summary>
/// <param name="Message">The error the code returned.</param>
public sealed record BusinessError(string Message) : WorkflowError
{
    /// <inheritdoc />
    public override string Message { get; } = Message;
}

/// <summary>The execution was cancelled or timed out; catch, retry and TraverseAll let it through so Finally blocks run
/// and it ends.</summary>
/// <param name="Reason"><see cref="Cancelled"/> or <see cref="TimedOut"/>.</param>
public sealed record Cancellation(string Reason) : WorkflowError
{
    /// <summary>The reason of an execution cancelled by a client (or with its parent).</summary>
    public const string Cancelled = "cancelled";

    /// <summary>The reason of an execution whose MaxDuration passed.</summary>
    public const string TimedOut = "timed out";

    /// <inheritdoc />
    public override string Message => Reason;

    /// <summary>The state an execution ends in when this stops it.</summary>
    public ExecutionState State => Reason == TimedOut ? ExecutionState.TimedOut : ExecutionState.Cancelled;
}

/// <summary>A failure: code threw an exception (for a step: after its last retry).</summary>
/// <param name="ErrorType">Full name of the exception type.</param>
/// <param name="Message">The exception's message.</param>
/// <param name="TypeChain">The exception type and its base types, most derived first (used by retry filters).</param>
/// <param name="StackTrace">The stack trace, when there was one.</param>
/// <param name="Step">The step that failed, or null when workflow code threw.</param>
/// <param name="Position">The position of the failing instruction.</param>
public sealed record Failure(
    string ErrorType, string Message, IReadOnlyList<string> TypeChain, string? StackTrace, string? Step, string?
        Position)
    : WorkflowError
{
    /// <inheritdoc />
    public override string Message { get; } = Message;

    /// <summary>Builds a failure from an exception.</summary>
    public static Failure FromException(Exception e, string? step = null, string? position = null)
    {
        var chain = new List<string>();
        for (var t = e.GetType(); t is not null && t != typeof(object); t = t.BaseType) chain.Add(t.FullName ?? t.Name);
        return new Failure(e.GetType().FullName ?? e.GetType().Name, e.Message, chain, e.StackTrace, step, position);
    }

    /// <summary>True when the failed exception was of type <paramref name="type"/> or derived from it.</summary>
    public bool Is(Type type) => TypeChain.Contains(type.FullName ?? type.Name);

    /// <inheritdoc />
    public bool Equals(Failure? other) =>
        other is not null && ErrorType == other.ErrorType && Message == other.Message && Step == other.Step && Position
            == other.Position;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(ErrorType, Message, Step, Position);

    /// <inheritdoc />
    public override string ToString() => Step is null ? $"{ErrorType}: {Message}" : $"step '{Step}' at {Position} failed: {ErrorType}: {Message}";
}
