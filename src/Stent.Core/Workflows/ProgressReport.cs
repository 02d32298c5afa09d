// A progress report a workflow records: how far it is, for dashboards and logs.
namespace Stent;

/// <summary>How far a workflow is: <paramref name="Done"/> of <paramref name="Total"/>, with a message.</summary>
/// <param name="Message">What is happening.</param>
/// <param name="Done">Units finished.</param>
/// <param name="Total">Units in all (0 when unknown).</param>
public sealed record ProgressReport(string Message, long Done = 0, long Total = 0)
{
    /// <summary>Percentage done, or null when the total is unknown.</summary>
    public double? Percent => Total > 0 ? 100.0 * Done / Total : null;
}
