// The store contract for execution histories: read a stream, append with an expected version, list streams.
using Stent.Replay;

namespace Stent.Storage;

/// <summary>
/// Where executions' histories live: one stream per execution. Implementations: in-memory (here),
/// SQLite and PostgreSQL (their own projects). The same conformance tests run against each.
/// </summary>
public interface IEventStore
{
    /// <summary>All events of a stream in order; empty when the stream does not exist.</summary>
    Task<IReadOnlyList<HistoryEvent>> ReadAsync(string streamId, CancellationToken ct = default);

    /// <summary>
    /// Appends <paramref name="events"/> (never empty) if the stream holds exactly
    /// <paramref name="expectedVersion"/> events (0 creates it); returns the new version.
    /// </summary>
    /// <exception cref="ConcurrencyConflictException">Another writer got there first.</exception>
    Task<long> AppendAsync(string streamId, long expectedVersion, IReadOnlyList<HistoryEvent> events, CancellationToken ct = default);

    /// <summary>The ids of all streams, oldest first.</summary>
    Task<IReadOnlyList<string>> ListStreamsAsync(CancellationToken ct = default);
}

/// <summary>An append found the stream at another version than expected: nothing was written.</summary>
public sealed class ConcurrencyConflictException(string streamId, long expected, long actual)
    : Exception($"Stream '{streamId}' is at version {actual}, not the expected {expected}; nothing was appended.")
{
    /// <summary>The stream.</summary>
    public string StreamId { get; } = streamId;
    /// <summary>The version the writer expected.</summary>
    public long Expected { get; } = expected;
    /// <summary>The version found.</summary>
    public long Actual { get; } = actual;
}
