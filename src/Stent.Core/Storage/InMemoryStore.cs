// The in-memory store: histories and idempotent results in process memory, for tests and examples.
using System.Collections.Concurrent;
using Stent.Replay;

namespace Stent.Storage;

/// <summary>A thread-safe in-memory store. Nothing survives the process; use it in tests.</summary>
public sealed class InMemoryStore : IEventStore, IIdempotencyStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<HistoryEvent>> _streams = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly ConcurrentDictionary<string, string> _results = new(StringComparer.Ordinal);

    /// <summary>Appends performed so far (a round-trip counter).</summary>
    public int Appends { get; private set; }

    /// <inheritdoc />
    public Task<IReadOnlyList<HistoryEvent>> ReadAsync(string streamId, CancellationToken ct = default)
    {
        lock (_gate)
            return Task.FromResult<IReadOnlyList<HistoryEvent>>(_streams.TryGetValue(streamId, out var s) ? s.ToArray() : []);
    }

    /// <inheritdoc />
    public Task<long> AppendAsync(string streamId, long expectedVersion, IReadOnlyList<HistoryEvent> events, CancellationToken ct = default)
    {
        if (events.Count == 0) throw new ArgumentException($"Append to '{streamId}' has no events.", nameof(events));
        lock (_gate)
        {
            var actual = _streams.TryGetValue(streamId, out var s) ? s.Count : 0;
            if (actual != expectedVersion) throw new ConcurrencyConflictException(streamId, expectedVersion, actual);
            if (s is null) { _streams[streamId] = s = []; _order.Add(streamId); }
            s.AddRange(events);
            Appends++;
            return Task.FromResult((long)s.Count);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListStreamsAsync(CancellationToken ct = default)
    {
        lock (_gate) return Task.FromResult<IReadOnlyList<string>>(_order.ToArray());
    }

    /// <inheritdoc />
    public Task<string?> TryGetAsync(string key, CancellationToken ct = default) =>
        Task.FromResult(_results.TryGetValue(key, out var v) ? v : null);

    /// <inheritdoc />
    public Task PutAsync(string key, string output, CancellationToken ct = default)
    {
        _results.TryAdd(key, output);
        return Task.CompletedTask;
    }
}
