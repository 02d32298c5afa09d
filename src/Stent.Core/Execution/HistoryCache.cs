// A worker's cache of recently decided executions' histories: a decision reads only the events it has not seen.
using Stent.Replay;
using Stent.Storage;

namespace Stent.Execution;

/// <summary>
/// Indexed histories of up to <paramref name="capacity"/> executions, least recently used evicted first, each with
/// where its last decision stopped. Streams are append-only, so a cached history is always a prefix: a decision reads
/// only the tail after it. A decision takes its execution's entry out and puts it back after its commit, extended:
/// nothing is copied, and a decision that fails or is refused leaves nothing stale behind.
/// </summary>
internal sealed class HistoryCache(int capacity)
{
    private readonly Dictionary<string, LinkedListNode<Entry>> _byId = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _order = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Carryover> _carryovers = new(StringComparer.Ordinal);

    private sealed record Entry(string Id, History History, Interpreter.Checkpoint? Checkpoint);

    /// <summary>
    /// Takes out the history of <paramref name="id"/> with exactly <paramref name="version"/> events, and where the
    /// last decision over a prefix of it stopped (null when unknown): the caller owns both until it puts them back.
    /// </summary>
    public async Task<(History History, Interpreter.Checkpoint? Checkpoint)> TakeAsync(IWorkStore store, string id,
        long version, CancellationToken ct)
    {
        Entry? cached = null;
        lock (_gate)
            if (_byId.Remove(id, out var node))
            {
                _order.Remove(node);
                cached = node.Value;
            }
        var (history, checkpoint) = cached is null || cached.History.Count > version
            ? (new History([], keepsInputs: false), null) : (cached.History, cached.Checkpoint);
        if (history.Count < version)
            history.Append(await store.ReadAfterAsync(id, history.Count, ct).ConfigureAwait(false));
        if (history.Count != version)
            throw new InvalidOperationException($"Stream '{id}' has {history.Count} events, its row says " +
                $"{version}.");
        return (history, checkpoint);
    }

    /// <summary>The history of <paramref name="id"/> when it is at hand with exactly <paramref name="version"/>
    /// events (to read, not to change).</summary>
    public History? Peek(string id, long version) =>
        Held(id) is { } history && history.Count == version ? history : null;

    /// <summary>The history held for <paramref name="id"/>, if any (to read, not to change).</summary>
    public History? Held(string id)
    {
        lock (_gate) return _byId.TryGetValue(id, out var node) ? node.Value.History : null;
    }

    /// <summary>Puts back a history (after a commit appended to it) and where its last decision stopped.</summary>
    public void Put(string id, History history, Interpreter.Checkpoint? checkpoint)
    {
        lock (_gate)
        {
            if (_byId.Remove(id, out var old)) _order.Remove(old);
            _byId[id] = _order.AddFirst(new Entry(id, history, checkpoint));
            while (_byId.Count > capacity)
            {
                _byId.Remove(_order.Last!.Value.Id);
                _order.RemoveLast();
            }
        }
    }

    /// <summary>The finished work of the ended execution <paramref name="id"/>, for an execution that resumes it (an
    /// ended stream never changes).</summary>
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
}
