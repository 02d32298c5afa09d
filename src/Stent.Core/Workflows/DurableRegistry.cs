// Every durable function created in this process, by name, so a worker can run steps scheduled by other processes.
using System.Collections.Concurrent;

namespace Stent.Workflows;

/// <summary>Durable functions by name; a function registers itself when created (the last one of a name wins).</summary>
internal static class DurableRegistry
{
    private static readonly ConcurrentDictionary<string, IDurableFunction> Functions = new(StringComparer.Ordinal);

    public static void Add(IDurableFunction fn) => Functions[fn.Name] = fn;

    public static IDurableFunction? Find(string name) => Functions.GetValueOrDefault(name);
}
