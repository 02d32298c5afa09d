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

    /// <summary>
    /// Parked: its workflow's code no longer matches its history (the error says where). Nothing is recorded or lost;
    /// a worker tries it again now and then, and one with matching code carries it on. Cancelling it ends it.
    /// </summary>
    Blocked,
}

/// <summary>What the states mean.</summary>
public static class ExecutionStates
{
    /// <summary>True for the states an execution ends in: completed, failed, cancelled, timed out.</summary>
    public static bool HasEnded(this ExecutionState state) =>
        state is ExecutionState.Completed or ExecutionState.Failed or ExecutionState.Cancelled
            or ExecutionState.TimedOut;
}
