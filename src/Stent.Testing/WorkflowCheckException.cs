// Raised by a workflow check: what differed, and after which crash.
namespace Stent.Testing;

/// <summary>A <see cref="WorkflowChecks"/> check failed; the message says on which input, after which crash, and what
/// differed.</summary>
public sealed class WorkflowCheckException : Exception
{
    /// <summary>A failed check.</summary>
    public WorkflowCheckException(string message, Exception? inner = null) : base(message, inner) { }
}
