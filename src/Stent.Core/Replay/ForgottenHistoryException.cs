// Thrown when a decision needs history its worker forgot: the worker reads the whole stream and decides again.
namespace Stent.Replay;

/// <summary>A decision asked a <see cref="History"/> for events or positions it had forgotten (<see
/// cref="History.Forget"/>); the stream still holds them.</summary>
internal sealed class ForgottenHistoryException(string what)
    : InvalidOperationException($"The cached history forgot {what}; the stream must be read again.");
