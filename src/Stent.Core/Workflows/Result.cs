// The outcome of a workflow or of one item of a fan-out: a value or a WorkflowError.
namespace Stent;

/// <summary>A value or the <see cref="WorkflowError"/> that prevented it.</summary>
/// <typeparam name="T">The value's type.</typeparam>
public readonly record struct Result<T>
{
    private readonly T? _value;
    private readonly WorkflowError? _error;
    private readonly bool _ok;

    /// <summary>The error, or null when the result is a success. <c>default(Result&lt;T&gt;)</c>, made by neither
    /// <see cref="Ok"/> nor <see cref="Fail"/>, is not a success: its error says it is empty.</summary>
    public WorkflowError? Error => _ok ? null : _error ?? Empty;

    /// <summary>True when the result holds a value (made by <see cref="Ok"/>).</summary>
    public bool IsOk => _ok;

    private static readonly BusinessError Empty = new($"An empty Result<{typeof(T).Name}> (default): made by " +
        "neither Result.Ok nor Result.Fail, it holds no value.");

    private Result(T? value, WorkflowError? error) { _value = value; _error = error; _ok = error is null; }

    /// <summary>A success.</summary>
    public static Result<T> Ok(T value) => new(value, null);

    /// <summary>An error.</summary>
    public static Result<T> Fail(WorkflowError error) => new(default, error ?? throw new ArgumentNullException(nameof(error)));

    /// <summary>The value; throws <see cref="InvalidOperationException"/> naming the error when there is none.</summary>
    public T Value => IsOk ? _value! : throw new InvalidOperationException($"Result holds an error, not a value: {Error}");

    /// <summary>Chooses a branch by outcome.</summary>
    public TR Match<TR>(Func<T, TR> ok, Func<WorkflowError, TR> error) => IsOk ? ok(_value!) : error(Error!);

    /// <inheritdoc />
    public override string ToString() => IsOk ? $"Ok({_value})" : $"Error({Error})";
}

/// <summary>Helpers over lists of results.</summary>
public static class ResultExtensions
{
    /// <summary>The values of the successful results, in order.</summary>
    public static IReadOnlyList<T> Successes<T>(this IEnumerable<Result<T>> results) =>
        results.Where(r => r.IsOk).Select(r => r.Value).ToList();

    /// <summary>The errors of the failed results, in order.</summary>
    public static IReadOnlyList<WorkflowError> Failures<T>(this IEnumerable<Result<T>> results) =>
        results.Where(r => !r.IsOk).Select(r => r.Error!).ToList();
}
