// The process "dies" at a store write: thrown by a crash plan instead of (or right after) committing a write.
namespace Stent.Testing;

/// <summary>A simulated process death at store write number <see cref="Write"/>.</summary>
public sealed class SimulatedCrashException(int write, string operation, bool afterCommit)
    : Exception($"Simulated crash at store write {write} ({operation}, {(afterCommit ? "after" : "before")} it " +
        $"committed).")
{
    /// <summary>The write, counted from 1 since the crash was planned.</summary>
    public int Write { get; } = write;

    /// <summary>The store operation: create, claim, decision, complete, renew, signal, cancel, ….</summary>
    public string Operation { get; } = operation;

    /// <summary>True when the write committed and the process died right after it.</summary>
    public bool AfterCommit { get; } = afterCommit;
}
