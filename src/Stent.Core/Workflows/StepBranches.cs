// The branches of a fan-out of one durable function, each made when the interpreter reaches it: a large fan-out's
// items cost no instruction node and no boxed input each while they wait.
using System.Collections;

namespace Stent.Workflows;

/// <summary>
/// Branch <c>i</c> is <paramref name="step"/> called on item <c>i</c> (as a <see cref="Result{T}"/> when
/// <paramref name="attempt"/>), made anew at each access: the same instruction every time, as a durable function's
/// call is a pure description. The interpreter reaches a branch when it first schedules it and when its outcome
/// arrives, so nothing per item outlives those two moments but the item itself.
/// </summary>
internal sealed class StepBranches<TIn, TOut>(IReadOnlyList<TIn> items, Durable<TIn, TOut> step, bool attempt)
    : IReadOnlyList<Node>
{
    /// <inheritdoc />
    public Node this[int index] =>
        attempt ? step.Call(items[index]).Attempt().Node : new StepNode(step, items[index]);

    /// <inheritdoc />
    public int Count => items.Count;

    /// <inheritdoc />
    public IEnumerator<Node> GetEnumerator()
    {
        for (var i = 0; i < items.Count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
