// A signal declared once with its payload type: what a workflow waits for and what a client sends.

namespace Stent;

/// <summary>
/// A signal an execution can receive, declared once with its payload's type, so that the workflow waiting for it and
/// the client sending it agree on name and type: <c>static readonly Signal&lt;bool&gt; Approve = new("approve");</c>,
/// then <c>Approve.Wait()</c> in the workflow and <c>client.SignalAsync(id, Approve, true)</c>.
/// </summary>
/// <typeparam name="T">The payload's type.</typeparam>
public sealed class Signal<T>
{
    /// <summary>A signal named <paramref name="name"/>.</summary>
    public Signal(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    /// <summary>Its name.</summary>
    public string Name { get; }

    /// <summary>Waits (durably) for the next one; see <see cref="Workflow.WaitForSignal{T}(string)"/>.</summary>
    public Workflow<T> Wait() => Workflow.WaitForSignal<T>(Name);

    /// <summary>Waits for the next one for at most <paramref name="timeout"/>; see
    /// <see cref="Workflow.WaitForSignal{T}(string, Duration)"/>.</summary>
    public Workflow<Optional<T>> Wait(Duration timeout) => Workflow.WaitForSignal<T>(Name, timeout);

    /// <inheritdoc />
    public override string ToString() => $"signal '{Name}' of {typeof(T).Name}";
}
