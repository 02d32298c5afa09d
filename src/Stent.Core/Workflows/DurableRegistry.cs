// Every durable function created in this process, by name, so a worker can run steps scheduled by other processes.
using System.Collections.Concurrent;

namespace Stent.Workflows;

/// <summary>
/// Durable functions by name; a function registers itself when created. Making another function of the same
/// name and the same types replaces it (the last one wins); one with other input or output types is an error,
/// since a worker running a step by name would hand its result to a workflow that cannot read it.
/// </summary>
internal static class DurableRegistry
{
    private static readonly ConcurrentDictionary<string, IDurableFunction> Functions = new(StringComparer.Ordinal);

    public static void Add(IDurableFunction fn) => Functions.AddOrUpdate(fn.Name, fn, (name, old) =>
        old.InputType == fn.InputType && old.OutputType == fn.OutputType
            ? fn
            : throw new ArgumentException(
                $"A durable function named '{name}' already exists for {old.InputType.FullName} → {old.OutputType.FullName}; " +
                $"another one for {fn.InputType.FullName} → {fn.OutputType.FullName} cannot share its name (steps are run by name).", nameof(fn)));

    public static IDurableFunction? Find(string name) => Functions.GetValueOrDefault(name);
}
