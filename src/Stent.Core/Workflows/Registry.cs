// The workflows and durable functions one worker runs or one client dispatches: given explicitly, never process-wide.
using System.Globalization;
using Stent.Workflows;

namespace Stent;

/// <summary>
/// The workflows and durable functions known to a <see cref="Execution.Worker"/>, a <see cref="Execution.StentClient"/>
/// or <c>AddStent</c>, by name. Nothing registers itself: what is not added here is unknown. A worker also learns the
/// functions and child workflows its registered workflows use as it runs them. A name names one thing: adding another
/// function, or another workflow of the same name and version, is an error that names it. Several versions of a
/// workflow may be added: each execution runs on the version it started with, new ones on the latest.
/// </summary>
public sealed class Registry
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SortedList<int, IWorkflowDefinition>> _workflows =
        new(StringComparer.Ordinal);
    private readonly Dictionary<string, IDurableFunction> _functions = new(StringComparer.Ordinal);

    /// <summary>Adds a workflow (adding the same one again does nothing; another version of it is added beside
    /// it).</summary>
    /// <exception cref="ArgumentException">Another workflow already has its name and version.</exception>
    public Registry Add<TIn, TOut>(WorkflowDef<TIn, TOut> workflow)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        AddWorkflow(workflow);
        return this;
    }

    private void AddWorkflow(IWorkflowDefinition workflow)
    {
        lock (_gate)
        {
            if (_workflows.TryGetValue(workflow.Name, out var versions)
                && versions.TryGetValue(workflow.Version, out var old) && !ReferenceEquals(old, workflow))
                throw new ArgumentException($"A workflow named '{workflow.Name}' with version {workflow.Version} is " +
                    "already registered; give a changed definition a new version.", nameof(workflow));
            Put(workflow);
        }
    }

    /// <summary>Keeps <paramref name="workflow"/> unless its name and version are taken (the caller holds the
    /// gate).</summary>
    private void Put(IWorkflowDefinition workflow)
    {
        if (!_workflows.TryGetValue(workflow.Name, out var versions)) _workflows[workflow.Name] = versions = [];
        versions.TryAdd(workflow.Version, workflow);
    }

    /// <summary>Adds a durable function (adding the same one again does nothing).</summary>
    /// <exception cref="ArgumentException">Another function already has its name.</exception>
    public Registry Add<TIn, TOut>(Durable<TIn, TOut> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        Add(_functions, function.Name, function, "durable function");
        return this;
    }

    private void Add<T>(Dictionary<string, T> into, string name, T item, string kind) where T : class
    {
        lock (_gate)
        {
            if (into.TryGetValue(name, out var old) && !ReferenceEquals(old, item))
                throw new
                    ArgumentException($"A {kind} named '{name}' is already registered; each name names one {kind}.",
                    nameof(item));
            into[name] = item;
        }
    }

    /// <summary>Names of the registered workflows, sorted.</summary>
    public IReadOnlyList<string> Workflows
    {
        get { lock (_gate) return [.. _workflows.Keys.Order(StringComparer.Ordinal)]; }
    }

    /// <summary>Names of the registered durable functions, sorted.</summary>
    public IReadOnlyList<string> Functions
    {
        get { lock (_gate) return [.. _functions.Keys.Order(StringComparer.Ordinal)]; }
    }

    /// <summary>Each registered workflow's versions.</summary>
    internal IReadOnlyDictionary<string, IReadOnlyList<int>> Versions
    {
        get
        {
            lock (_gate)
                return _workflows.ToDictionary(w => w.Key, w => (IReadOnlyList<int>)[.. w.Value.Keys],
                    StringComparer.Ordinal);
        }
    }

    /// <summary>The latest version of a workflow, or null.</summary>
    internal IWorkflowDefinition? Workflow(string name)
    {
        lock (_gate) return _workflows.TryGetValue(name, out var versions) ? versions.Values[^1] : null;
    }

    /// <summary>One version of a workflow, or null.</summary>
    internal IWorkflowDefinition? Workflow(string name, int version)
    {
        lock (_gate)
            return _workflows.TryGetValue(name, out var versions) ? versions.GetValueOrDefault(version) : null;
    }

    internal IDurableFunction? Function(string name)
    {
        lock (_gate) return _functions.GetValueOrDefault(name);
    }

    /// <summary>Learns functions and child workflows met while running a registered workflow (what is known
    /// stays).</summary>
    internal void Learn(IEnumerable<KeyValuePair<string, IDurableFunction>> functions,
        IEnumerable<KeyValuePair<string, IWorkflowDefinition>> children)
    {
        lock (_gate)
        {
            foreach (var (name, fn) in functions) _functions.TryAdd(name, fn);
            foreach (var (_, child) in children) Put(child);
        }
    }

    /// <summary>The error for an unknown workflow: the registered names, closest first.</summary>
    internal KeyNotFoundException UnknownWorkflow(string name)
    {
        var known = Workflows.OrderBy(n => Distance(n, name)).ThenBy(n => n, StringComparer.Ordinal).ToList();
        var list = known.Count == 0 ? "none is registered" : "registered: " + string.Join(", ", known.Select(n => $"'{n}'"));
        return new KeyNotFoundException($"Unknown workflow '{name}' ({list}).");
    }

    /// <summary>Edit distance (Levenshtein), to put the likeliest intended name first.</summary>
    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var diagonal = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Workflows.Count} workflows, {Functions.Count} durable functions");
}
