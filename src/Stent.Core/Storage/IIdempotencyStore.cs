// Results of idempotent durable functions, stored by key and reused across executions.
namespace Stent.Storage;

/// <summary>Stores the JSON result of an idempotent function under its key.</summary>
public interface IIdempotencyStore
{
    /// <summary>The stored result for <paramref name="key"/>, or null.</summary>
    Task<string?> TryGetAsync(string key, CancellationToken ct = default);

    /// <summary>Stores a result; the first stored result for a key wins.</summary>
    Task PutAsync(string key, string output, CancellationToken ct = default);
}
