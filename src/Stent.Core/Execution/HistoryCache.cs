// A worker's cache of recently decided executions' histories: a decision reads only the events it has not seen.
using Stent.Replay;
using Stent.Storage;

namespace Stent.Execution;

/// <summary>
/// Histories of up to <paramref name="capacity"/> executions, least recently used evicted first. Streams
/// are append-only, so a cached history is always a prefix: a decision reads only the tail after it.
/// </summary>
internal sealed class HistoryCache(int capacity)
{
    private readonly Dictionary<string, LinkedListNode<(string Id, List<HistoryEvent> Events, Interpreter.Checkpoint? Checkpoint)>> _byId = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Id, List<HistoryEvent> Events, Interpreter.Checkpoint? Checkpoint)> _order = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Carryover> _carryovers = new(StringComparer.Ordinal);

    /// <summary>
    /// The history of <paramref name="id"/> with exactly <paramref name="version"/> events, and where the last decision
    /// over a prefix of it stopped (null when unknown).
    /// </summary>
    public async Task<(List<HistoryEvent> Events, Interpreter.Checkpoint? Checkpoint)> LoadAsync(IWorkStore store, string id, long version, CancellationToken ct)
    {
        List<HistoryEvent>? cached;
        Interpreter.Checkpoint? checkpoint = null;
        lock (_gate)
        {
            cached = null;
            if (_byId.TryGetValue(id, out var node)) (cached, checkpoint) = (node.Value.Events, node.Value.Checkpoint);
        }
        if (cached is null || cached.Count > version) (cached, checkpoint) = ([], null);
        if (cached.Count < version) cached = [.. cached, .. await store.ReadAfterAsync(id, cached.Count, ct).ConfigureAwait(false)];
        if (cached.Count != version)
            throw new InvalidOperationException($"Stream '{id}' has {cached.Count} events, its row says {version}.");
        Put(id, cached, checkpoint);
        return (cached, checkpoint);
    }

    /// <summary>True when the history of <paramref name="id"/> is at hand with exactly <paramref name="version"/>
    /// events.</summary>
    public bool Holds(string id, long version)
    {
        lock (_gate) return _byId.TryGetValue(id, out var node) && node.Value.Events.Count == version;
    }

    /// <summary>Remembers a history (after a commit appended to it) and where its last decision stopped.</summary>
    public void Put(string id, List<HistoryEvent> events, Interpreter.Checkpoint? checkpoint)
    {
        lock (_gate)
        {
            if (_byId.Remove(id, out var old)) _order.Remove(old);
            _byId[id] = _order.AddFirst((id, events, checkpoint));
            while (_byId.Count > capacity)
            {
                _byId.Remove(_order.Last!.Value.Id);
                _order.RemoveLast();
            }
        }
    }

    /// <summary>The finished work of the ended execution <paramref name="id"/>, for an execution that resumes it (an ended stream never changes).</summary>
    public async Task<Carryover> LoadCarryoverAsync(IWorkStore store, string id, CancellationToken ct)
    {
        lock (_gate)
            if (_carryovers.TryGetValue(id, out var known)) return known;
        var carryover = new Carryover(id, await store.ReadAsync(id, ct).ConfigureAwait(false));
        lock (_gate)
        {
            if (_carryovers.Count >= capacity) _carryovers.Clear();
            _carryovers[id] = carryover;
        }
        return carryover;
    }

    /// <summary>Forgets an execution (it finished, or a commit was rejected).</summary>
    public void Forget(string id)
    {
        lock (_gate)
            if (_byId.Remove(id, out var node)) _order.Remove(node);
    }
}
