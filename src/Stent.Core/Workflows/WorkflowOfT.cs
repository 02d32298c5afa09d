// Workflow<T>: an immutable description of durable work producing a T; LINQ query syntax builds it.
using Stent.Workflows;

namespace Stent;

/// <summary>
/// An immutable description of durable work that produces a <typeparamref name="T"/>. Building it runs
/// nothing; an interpreter runs it and records every step. Lambdas given to its combinators must be
/// pure (no I/O, clocks or randomness): they are evaluated again on every replay.
/// </summary>
/// <typeparam name="T">The value the workflow produces.</typeparam>
public sealed class Workflow<T>
{
    internal Node Node { get; }

    internal Workflow(Node node) => Node = node;

    /// <summary>Transforms the value (functor map; LINQ <c>select</c>).</summary>
    public Workflow<TR> Select<TR>(Func<T, TR> map)
    {
        ArgumentNullException.ThrowIfNull(map);
        return new(new MapNode(Node, v => map((T)v!)));
    }

    /// <summary>Continues with the workflow built from the value (monadic bind; LINQ <c>from … from</c>).</summary>
    public Workflow<TR> SelectMany<TR>(Func<T, Workflow<TR>> next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return new(new BindNode(Node, v => next((T)v!).Node));
    }

    /// <summary>Bind with a projection, as LINQ query syntax needs.</summary>
    public Workflow<TR> SelectMany<TM, TR>(Func<T, Workflow<TM>> next, Func<T, TM, TR> project)
    {
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(project);
        return new(new BindNode(Node, v => new MapNode(next((T)v!).Node, m => project((T)v!, (TM)m!))));
    }

    /// <summary>Same as <see cref="Select{TR}"/>.</summary>
    public Workflow<TR> Map<TR>(Func<T, TR> map) => Select(map);

    /// <summary>Same as <see cref="SelectMany{TR}(Func{T, Workflow{TR}})"/>.</summary>
    public Workflow<TR> Bind<TR>(Func<T, Workflow<TR>> next) => SelectMany(next);

    /// <summary>Runs this, then <paramref name="next"/>, keeping the second value.</summary>
    public Workflow<TR> Then<TR>(Workflow<TR> next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return new(new BindNode(Node, _ => next.Node));
    }

    /// <summary>On any error (business or failure) continues with the handler's workflow.</summary>
    public Workflow<T> Catch(Func<WorkflowError, Workflow<T>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new(new CatchNode(Node, e => handler(e).Node));
    }

    /// <summary>On an error the predicate accepts, continues with the handler's workflow; other errors pass.</summary>
    public Workflow<T> Catch(Func<WorkflowError, bool> when, Func<WorkflowError, Workflow<T>> handler)
    {
        ArgumentNullException.ThrowIfNull(when);
        ArgumentNullException.ThrowIfNull(handler);
        return new(new CatchNode(Node, e => when(e) ? handler(e).Node : null));
    }

    /// <summary>On any error produces the handler's value instead.</summary>
    public Workflow<T> Recover(Func<WorkflowError, T> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new(new CatchNode(Node, e => new PureNode(handler(e))));
    }

    /// <summary>The outcome as a value: never fails, the error becomes an error <see cref="Result{T}"/>.</summary>
    public Workflow<Result<T>> Attempt() =>
        new(new AttemptNode(Node, v => Result<T>.Ok((T)v!), e => Result<T>.Fail(e)));

    /// <summary>Runs <paramref name="cleanup"/> after this workflow, on success and on error (its own error replaces the first).</summary>
    public Workflow<T> Finally<TC>(Workflow<TC> cleanup)
    {
        ArgumentNullException.ThrowIfNull(cleanup);
        return new(new FinallyNode(Node, cleanup.Node));
    }

    /// <summary>Runs this whole workflow again after a failure, waiting on durable timers as the policy says. Business errors are not retried.</summary>
    public Workflow<T> Retry(RetryPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return new(new RetryNode(Node, policy));
    }

    /// <summary>Discards the value.</summary>
    public Workflow<Done> Ignore() => new(new MapNode(Node, _ => Done.Default));
}
