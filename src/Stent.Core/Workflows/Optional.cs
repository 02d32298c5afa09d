// A value that may be absent: what a signal wait with a timeout gives (absent when the wait timed out).
namespace Stent;

/// <summary>A value, or none: <see cref="Workflow.WaitForSignal{T}(string, Duration)"/> gives none when it timed out.
/// <c>default</c> is none.</summary>
/// <typeparam name="T">The value's type.</typeparam>
public readonly record struct Optional<T>
{
    private readonly T _value;

    private Optional(T value) => (_value, HasValue) = (value, true);

    /// <summary>A value.</summary>
    public static Optional<T> Some(T value) => new(value);

    /// <summary>No value.</summary>
    public static Optional<T> None => default;

    /// <summary>True when there is a value.</summary>
    public bool HasValue { get; }

    /// <summary>The value; an <see cref="InvalidOperationException"/> when there is none.</summary>
    public T Value => HasValue ? _value : throw new InvalidOperationException(
        $"There is no {typeof(T).Name}: check HasValue, or use Match or GetValueOrDefault.");

    /// <summary>The value, or <paramref name="fallback"/> when there is none.</summary>
    public T GetValueOrDefault(T fallback) => HasValue ? _value : fallback;

    /// <summary><paramref name="some"/> of the value, or <paramref name="none"/>() when there is none.</summary>
    public TResult Match<TResult>(Func<T, TResult> some, Func<TResult> none)
    {
        ArgumentNullException.ThrowIfNull(some);
        ArgumentNullException.ThrowIfNull(none);
        return HasValue ? some(_value) : none();
    }

    /// <inheritdoc />
    public override string ToString() => HasValue ? $"Some({_value})" : "None";
}
