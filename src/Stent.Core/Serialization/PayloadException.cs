// Raised when a recorded payload (an input, a result, a signal) does not read as the type the code expects.
namespace Stent.Serialization;

/// <summary>
/// A recorded payload does not read as the type the code expects (its message names the type, and the step where
/// there is one). No retry changes recorded data: a step whose input does not read fails at once, and a step result
/// the workflow cannot read fails that step, which <c>Catch</c> and <c>Attempt</c> see like any other failure.
/// </summary>
public sealed class PayloadException(string message, Exception? inner = null) : ArgumentException(message, inner);
