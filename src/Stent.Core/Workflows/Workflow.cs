// The static Workflow facade: constructors of workflows (pure values, errors, timers, recorded values, parallelism).
using Stent.Workflows;

namespace Stent;

/// <summary>Constructors of <see cref="Workflow{T}"/> and the definition of named workflows.</summary>
public static class Workflow
{
    /// <summary>Defines a named workflow from its body; <paramref name="version"/> lets old executions finish on an old definition.</summary>
    public static WorkflowDef<TIn, TOut> Define<TIn, TOut>(string name, Func<TIn, Workflow<TOut>> body, int version = 1) =>
        new(name, version, body);

    /// <summary>A workflow that produces <paramref name="value"/> and records nothing.</summary>
    public static Workflow<T> Pure<T>(T value) => new(new PureNode(value));

    /// <summary>A workflow built only when it runs (and again on each replay): <paramref name="build"/> must be pure.</summary>
    public static Workflow<T> Defer<T>(Func<Workflow<T>> build)
    {
        ArgumentNullException.ThrowIfNull(build);
        return new(new BindNode(new PureNode(null), _ => build().Node));
    }

    /// <summary>A workflow that produces nothing of interest.</summary>
    public static Workflow<Done> Done { get; } = new(new PureNode(Stent.Done.Default));

    /// <summary>A workflow that stops with a business error (the execution completes with that error, no retry).</summary>
    public static Workflow<T> Fail<T>(string error) => new(new FailNode(new BusinessError(error ?? throw new ArgumentNullException(nameof(error)))));

    /// <summary>Continues when <paramref name="condition"/> holds, else stops with the business error <paramref name="error"/> (for query syntax: <c>from _ in Workflow.Ensure(ok.Count &gt; 0, "nothing succeeded")</c>).</summary>
    public static Workflow<Done> Ensure(bool condition, string error) => condition ? Done : Fail<Done>(error);

    /// <summary>A workflow that stops with the given error.</summary>
    public static Workflow<T> Fail<T>(WorkflowError error) => new(new FailNode(error ?? throw new ArgumentNullException(nameof(error))));

    /// <summary>A durable sleep: a timer row, not a parked thread. Text such as "100ms" or "2d8h" is accepted.</summary>
    public static Workflow<Done> Sleep(Duration duration) => new(new SleepNode(duration.Value));

    /// <summary>
    /// True where the workflow takes a changed path marked <paramref name="id"/>, false for an execution that went
    /// past this point on the code from before the change. Change a workflow in place with
    /// <c>from p in Workflow.Patched("id") from r in p ? newPath : oldPath</c>: executions that started earlier keep
    /// replaying the old path, new ones (and old ones that had not got here yet) take the new one, which is recorded.
    /// Remove the old path, and then the call, once no execution that took the old path remains.
    /// </summary>
    public static Workflow<bool> Patched(string id)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        return new(new PatchNode(id));
    }

    /// <summary>The current time, read once and recorded, so replay sees the same instant.</summary>
    public static Workflow<DateTimeOffset> Now() => new(new RecordNode("now", typeof(DateTimeOffset), c => c.Now));

    /// <summary>A new GUID, made once and recorded.</summary>
    public static Workflow<Guid> NewGuid() => new(new RecordNode("guid", typeof(Guid), c => Guid.NewGuid()));

    /// <summary>A random integer in [<paramref name="minInclusive"/>, <paramref name="maxExclusive"/>), drawn once and recorded.</summary>
    public static Workflow<int> Random(int minInclusive, int maxExclusive)
    {
        if (maxExclusive <= minInclusive)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), maxExclusive, $"Random range [{minInclusive}, {maxExclusive}) is empty.");
        return new(new RecordNode("random", typeof(int), c => c.Random.Next(minInclusive, maxExclusive)));
    }

    /// <summary>
    /// Runs <paramref name="workflow"/> on <paramref name="input"/> as a child execution with its own event
    /// stream (listed, inspected and cancelled like any execution), and continues with its result; a child
    /// that fails gives its error (one that was cancelled on its own, a failure). Waiting holds no worker.
    /// Cancelling or ending the parent cancels a child still running. The child's id is the parent's id,
    /// "/" and the position. A worker runs it if the child workflow is registered with it or defined in its process.
    /// </summary>
    public static Workflow<TOut> Child<TIn, TOut>(WorkflowDef<TIn, TOut> workflow, TIn input)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        _ = workflow.Build(input);
        return new(new ChildNode(workflow, input));
    }

    /// <summary>Waits (durably, holding no worker) for the next signal named <paramref name="name"/> and returns its payload. Signals sent before the wait are kept.</summary>
    public static Workflow<T> WaitForSignal<T>(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new(new SignalNode(name, typeof(T), null, v => v, () => throw new InvalidOperationException("unreachable")));
    }

    /// <summary>Waits for the next signal named <paramref name="name"/> for at most <paramref name="timeout"/>: its
    /// payload, or none when the wait timed out.</summary>
    public static Workflow<Optional<T>> WaitForSignal<T>(string name, Duration timeout)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new(new SignalNode(name, typeof(T), timeout.Value, v => Optional<T>.Some((T)v!), () =>
            Optional<T>.None));
    }

    /// <summary>
    /// Logs from workflow code: recorded, and written to the worker's logger once — with the execution id and
    /// worker id in scope — never again when the workflow replays. <paramref name="template"/> is a message template.
    /// </summary>
    public static Workflow<Done> Log(Microsoft.Extensions.Logging.LogLevel level, string template,
        params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(template);
        return new(new LogNode(level, template, (args ?? []).Select(a => a?.ToString()).ToArray()));
    }

    /// <summary>Records a custom state value under <paramref name="key"/> (shown by <c>StentClient.GetAsync</c>; the last value wins).</summary>
    public static Workflow<Done> SetState<T>(string key, T value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        return new(new StateNode(key, value, typeof(T)));
    }

    /// <summary>Records a progress report (logged once, never again on replay).</summary>
    public static Workflow<Done> Progress(string message, long done = 0, long total = 0) =>
        new(new ProgressNode(new ProgressReport(message ?? throw new ArgumentNullException(nameof(message)), done, total)));

    /// <summary>Runs the workflows concurrently; every value in input order. The first error (in recorded order) ends it.</summary>
    public static Workflow<IReadOnlyList<T>> WhenAll<T>(IEnumerable<Workflow<T>> workflows) =>
        WhenAll<T>(Nodes(workflows));

    /// <summary>Every branch's value (each a workflow of <typeparamref name="T"/>), in order; fails fast.</summary>
    internal static Workflow<IReadOnlyList<T>> WhenAll<T>(IReadOnlyList<Node> branches) =>
        new(new MapNode(new ParallelNode(branches, ParallelMode.All), v => Cast<T>(v)));

    /// <summary>Runs the workflows concurrently; the outcome of the first to finish (in recorded order). Others' results are ignored.</summary>
    public static Workflow<T> WhenAny<T>(IEnumerable<Workflow<T>> workflows)
    {
        var nodes = Nodes(workflows);
        if (nodes.Count == 0) throw new ArgumentException("WhenAny needs at least one workflow.", nameof(workflows));
        return new(new ParallelNode(nodes, ParallelMode.Any));
    }

    internal static IReadOnlyList<Node> Nodes<T>(IEnumerable<Workflow<T>> workflows)
    {
        ArgumentNullException.ThrowIfNull(workflows);
        var list = workflows.TryGetNonEnumeratedCount(out var count) ? new List<Node>(count) : [];
        var i = 0;
        foreach (var w in workflows)
        {
            list.Add(w?.Node ?? throw new ArgumentNullException(nameof(workflows), $"Workflow at index {i} is null."));
            i++;
        }
        return list;
    }

    internal static IReadOnlyList<T> Cast<T>(object? values) => ((object?[])values!).Select(v => (T)v!).ToArray();
}
