// Durable functions whose implementations are LanguageExt effects or return LanguageExt values.
using LanguageExt;
using LanguageExt.Common;
using Stent.Workflows;

namespace Stent.LanguageExt;

/// <summary>Durable functions from LanguageExt: a <c>Fail</c> is a failure (retried by policy), a <c>Left</c> a
/// business error (recorded, not retried), a <c>None</c> an absent (null) output.</summary>
public static class LanguageExtDurable
{
    /// <summary>A durable function from an <see cref="Aff{A}"/>: a <c>Fail</c> is a failure.</summary>
    public static Durable<TIn, TOut> FromAff<TIn, TOut>(string name, Func<TIn, StepContext, Aff<TOut>> run,
        DurableOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        return new(name, async (i, c) => StepOutput.Of(Unwrap(await run(i, c).Run().ConfigureAwait(false))), options);
    }

    /// <summary>A durable function from an <see cref="Eff{A}"/>: a <c>Fail</c> is a failure.</summary>
    public static Durable<TIn, TOut> FromEff<TIn, TOut>(string name, Func<TIn, StepContext, Eff<TOut>> run,
        DurableOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        return new(name, (i, c) => new ValueTask<StepOutput>(StepOutput.Of(Unwrap(run(i, c).Run()))), options);
    }

    /// <summary>A durable function returning <see cref="Fin{A}"/>: a <c>Fail</c> is a failure.</summary>
    public static Durable<TIn, TOut> FromFin<TIn, TOut>(string name, Func<TIn, StepContext, Task<Fin<TOut>>> run,
        DurableOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        return new(name, async (i, c) => StepOutput.Of(Unwrap(await run(i, c).ConfigureAwait(false))), options);
    }

    /// <summary>A durable function returning <see cref="Either{L,R}"/>: a <c>Left</c> is a business error (its text
    /// recorded, not retried).</summary>
    public static Durable<TIn, TOut> FromEither<TIn, TLeft, TOut>(string name,
        Func<TIn, StepContext, Task<Either<TLeft, TOut>>> run, DurableOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        return new(name, async (i, c) => (await run(i, c).ConfigureAwait(false)).Match(
            Right: r => StepOutput.Of(r), Left: l => StepOutput.Business(l?.ToString() ?? "error")), options);
    }

    /// <summary>A durable function returning <see cref="Option{A}"/>: a <c>None</c> is recorded as an absent (null)
    /// output.</summary>
    public static Durable<TIn, TOut?> FromOption<TIn, TOut>(string name,
        Func<TIn, StepContext, Task<Option<TOut>>> run, DurableOptions? options = null)
        where TOut : class
    {
        ArgumentNullException.ThrowIfNull(run);
        return new(name, async (i, c) => StepOutput.Of((await run(i, c).ConfigureAwait(false)).MatchUnsafe(v => v,
            () => null)), options);
    }

    private static T Unwrap<T>(Fin<T> fin) => fin.Match(v => v, e => throw e.ToException());
}
