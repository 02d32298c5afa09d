// Raised when a workflow no longer matches its recorded history.
namespace Stent.Replay;

/// <summary>The workflow's code no longer matches its history at <see cref="Position"/>; nothing is mixed.</summary>
public sealed class NonDeterminismException(string position, string expected, string found)
    : Exception($"Non-determinism at position {position}: history has {expected}, the workflow now has {found}.")
{
    /// <summary>The instruction position where program and history part.</summary>
    public string Position { get; } = position;

    /// <summary>What the history recorded there.</summary>
    public string Expected { get; } = expected;

    /// <summary>What the program does there now.</summary>
    public string Found { get; } = found;
}
