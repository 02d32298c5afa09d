// A named, versioned workflow definition: what a client dispatches and a worker runs.
using Stent.Workflows;

namespace Stent;

/// <summary>A named workflow: a body from an input to a <see cref="Workflow{T}"/>. Make one with <see
/// cref="Workflow.Define{TIn, TOut}"/>.</summary>
/// <typeparam name="TIn">Input type (serialized as JSON).</typeparam>
/// <typeparam name="TOut">Result type (serialized as JSON).</typeparam>
public sealed class WorkflowDef<TIn, TOut> : IWorkflowDefinition
{
    private readonly Func<TIn, Workflow<TOut>> _body;

    internal WorkflowDef(string name, int version, Func<TIn, Workflow<TOut>> body, bool failOnMismatch = false)
    {
        FailsOnMismatch = failOnMismatch;
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException($"A workflow needs a name, got '{name}'.",
            nameof(name));
        if (version < 1) throw new ArgumentOutOfRangeException(nameof(version), version,
            $"Workflow version must be at least 1, got {version}.");
        Name = name;
        Version = version;
        _body = body ?? throw new ArgumentNullException(nameof(body));
    }

    /// <summary>The workflow's name, recorded in every execution it starts.</summary>
    public string Name { get; }

    /// <summary>The definition's version.</summary>
    public int Version { get; }

    /// <summary>True when an execution whose history this code no longer matches fails at once (see <see
    /// cref="FailOnMismatch"/>); by default it is parked as <see cref="ExecutionState.Blocked"/>.</summary>
    public bool FailsOnMismatch { get; }

    /// <summary>This definition, but an execution whose history it no longer matches fails with the
    /// non-determinism error instead of being parked as <see cref="ExecutionState.Blocked"/> until matching code
    /// comes.</summary>
    public WorkflowDef<TIn, TOut> FailOnMismatch() => new(Name, Version, _body, failOnMismatch: true);

    Type IWorkflowDefinition.InputType => typeof(TIn);
    Type IWorkflowDefinition.OutputType => typeof(TOut);

    /// <summary>The workflow for one input (builds the description; runs nothing).</summary>
    public Workflow<TOut> Build(TIn input) => _body(input);

    Node IWorkflowDefinition.Build(object? input) => _body((TIn)input!).Node;
}

/// <summary>A workflow definition seen without its type parameters.</summary>
internal interface IWorkflowDefinition
{
    string Name { get; }
    int Version { get; }
    bool FailsOnMismatch { get; }
    Type InputType { get; }
    Type OutputType { get; }
    Node Build(object? input);
}
