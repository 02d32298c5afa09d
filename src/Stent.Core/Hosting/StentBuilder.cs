// What AddStent configures: the store, the workflows, and whether (and how) this process runs a worker.
using Stent.Execution;
using Stent.Serialization;
using Stent.Storage;

namespace Stent.Hosting;

/// <summary>Configures Stent in a service collection; the store comes from <c>UseInMemory</c> or <c>UseSqlite</c>
/// (Stent.Sqlite) or <c>UseMarten</c>.</summary>
public sealed class StentBuilder
{
    internal Func<IServiceProvider, IWorkStore>? Store { get; private set; }
    /// <summary>The workflows and functions the hosted worker runs and the client dispatches by name.</summary>
    public Registry Registry { get; } = new();

    /// <summary>Options of the hosted worker.</summary>
    public WorkerOptions Worker { get; set; } = new();

    /// <summary>
    /// The serializer of the client and the hosted worker — one setting for both, the payload limit included. When
    /// left at its default, the serializer of <see cref="Worker"/> (its <see cref="WorkerOptions.Serializer"/>) serves
    /// both.
    /// </summary>
    public PayloadSerializer Serializer { get; set; } = PayloadSerializer.Default;

    /// <summary>The one serializer of the client and the hosted worker.</summary>
    internal PayloadSerializer EffectiveSerializer =>
        ReferenceEquals(Serializer, PayloadSerializer.Default) ? Worker.Serializer : Serializer;

    /// <summary>When true (default), a hosted service runs a worker in this process.</summary>
    public bool RunWorker { get; set; } = true;

    /// <summary>Uses the given store.</summary>
    public StentBuilder UseStore(Func<IServiceProvider, IWorkStore> factory)
    {
        Store = factory ?? throw new ArgumentNullException(nameof(factory));
        return this;
    }

    /// <summary>Makes a workflow runnable by the hosted worker and dispatchable by name through the client.</summary>
    public StentBuilder AddWorkflow<TIn, TOut>(WorkflowDef<TIn, TOut> workflow)
    {
        Registry.Add(workflow);
        return this;
    }

    /// <summary>Makes a durable function runnable by the hosted worker before it meets it in a workflow.</summary>
    public StentBuilder AddFunction<TIn, TOut>(Durable<TIn, TOut> function)
    {
        Registry.Add(function);
        return this;
    }
}
