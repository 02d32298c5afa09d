// Stent results as LanguageExt values.
using LanguageExt;
using LanguageExt.Common;

namespace Stent.LanguageExt;

/// <summary>Converts a <see cref="Result{T}"/> to LanguageExt.</summary>
public static class LanguageExtResults
{
    /// <summary>The value as <c>Succ</c>, or the workflow error as <c>Fail</c> (an <see cref="Error"/> whose message
    /// is the error's).</summary>
    public static Fin<T> ToFin<T>(this Result<T> result)
    {
        return result.IsOk ? Fin<T>.Succ(result.Value) : Fin<T>.Fail(Error.New(result.Error!.Message));
    }
}
