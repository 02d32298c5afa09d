// Sagas: steps paired with compensations; on a failure the compensations of the finished steps run in reverse order.
using System.Collections.Immutable;

namespace Stent;

/// <summary>
/// A saga producing a <typeparamref name="T"/>: a sequence of steps, each with a compensation. Build it with
/// <see cref="Saga.Step{T}"/> and LINQ query syntax, run it with <see cref="Run"/>: when a step fails, the
/// compensations of the steps that finished run in reverse order (a failing compensation is reported and
/// the rest still run), then the saga fails with the step's error.
/// </summary>
public sealed class Saga<T>
{
    private readonly Func<ImmutableList<Workflow<Done>>, Workflow<Outcome>> _run;

    internal Saga(Func<ImmutableList<Workflow<Done>>, Workflow<Outcome>> run) => _run = run;

    /// <summary>Where a saga stands: a value or an error, with the compensations registered so far.</summary>
    internal sealed record Outcome(Result<T> Result, ImmutableList<Workflow<Done>> Compensations);

    internal Workflow<Outcome> Start(ImmutableList<Workflow<Done>> compensations) => _run(compensations);

    /// <summary>Continues with the saga built from the value (LINQ <c>from … from</c>).</summary>
    public Saga<TR> SelectMany<TR>(Func<T, Saga<TR>> next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return new(comps => Start(comps).SelectMany(o => o.Result.IsOk
            ? next(o.Result.Value).Start(o.Compensations)
            : Workflow.Pure(new Saga<TR>.Outcome(Result<TR>.Fail(o.Result.Error!), o.Compensations))));
    }

    /// <summary>Bind with a projection, as LINQ query syntax needs.</summary>
    public Saga<TR> SelectMany<TM, TR>(Func<T, Saga<TM>> next, Func<T, TM, TR> project)
    {
        ArgumentNullException.ThrowIfNull(project);
        return SelectMany(t => next(t).Select(m => project(t, m)));
    }

    /// <summary>Transforms the value.</summary>
    public Saga<TR> Select<TR>(Func<T, TR> map)
    {
        ArgumentNullException.ThrowIfNull(map);
        return new(comps => Start(comps).Select(o => new Saga<TR>.Outcome(
            o.Result.IsOk ? Result<TR>.Ok(map(o.Result.Value)) : Result<TR>.Fail(o.Result.Error!), o.Compensations)));
    }

    /// <summary>Runs the saga: its value, or — after compensating in reverse order — the error of the step that failed.</summary>
    public Workflow<T> Run() =>
        Start([]).SelectMany(o => o.Result.IsOk ? Workflow.Pure(o.Result.Value) : Compensate(o.Compensations.Reverse(), 0, o.Result.Error!));

    private static Workflow<T> Compensate(IEnumerable<Workflow<Done>> remaining, int index, WorkflowError error)
    {
        var next = remaining.FirstOrDefault();
        if (next is null) return Workflow.Fail<T>(error);
        var rest = remaining.Skip(1).ToList();
        return next.Attempt().SelectMany(r => (r.IsOk
                ? Workflow.Done
                : Workflow.Progress($"compensation {index + 1} failed: {r.Error!.Message}"))
            .SelectMany(_ => Compensate(rest, index + 1, error)));
    }
}

/// <summary>Constructors of sagas.</summary>
public static class Saga
{
    /// <summary>A saga step: <paramref name="action"/>, undone by <paramref name="compensate"/> if a later step fails.</summary>
    public static Saga<T> Step<T>(Workflow<T> action, Func<T, Workflow<Done>> compensate)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(compensate);
        return new(comps => action.Attempt().Select(r => r.IsOk
            ? new Saga<T>.Outcome(r, comps.Add(compensate(r.Value)))
            : new Saga<T>.Outcome(r, comps)));
    }

    /// <summary>A saga that produces <paramref name="value"/> and has nothing to compensate.</summary>
    public static Saga<T> Pure<T>(T value) =>
        new(comps => Workflow.Pure(new Saga<T>.Outcome(Result<T>.Ok(value), comps)));

    /// <summary>A saga step with a durable compensation function taking the step's value.</summary>
    public static Saga<T> Step<T, TC>(Workflow<T> action, Durable<T, TC> compensate)
    {
        ArgumentNullException.ThrowIfNull(compensate);
        return Step(action, v => compensate.Call(v).Ignore());
    }
}
