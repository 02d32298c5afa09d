// Where an execution stands: the one state vocabulary of the interpreter, the stores, the client and the CLI.
namespace Stent;

/// <summary>Where an execution stands.</summary>
public enum ExecutionState
{
    /// <summary>Dispatched; no decision has run yet (or it is delayed).</summary>
    Pending,
    /// <summary>Started and not finished (running steps or waiting).</summary>
    Running,
    /// <summary>Finished with a value.</summary>
    Completed,
    /// <summary>Finished with a business error or a failure.</summary>
    Failed,
    /// <summary>Cancelled.</summary>
    Cancelled,
    /// <summary>Its MaxDuration passed.</summary>
    TimedOut,
}
