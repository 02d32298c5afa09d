// Every workflow definition created in this process, by name, so a worker can run one it was not given (a child, say).
using System.Collections.Concurrent;

namespace Stent.Workflows;

/// <summary>Workflow definitions by name; a definition registers itself when created (the last one of a name wins).</summary>
internal static class WorkflowRegistry
{
    private static readonly ConcurrentDictionary<string, IWorkflowDefinition> Definitions = new(StringComparer.Ordinal);

    public static void Add(IWorkflowDefinition definition) => Definitions[definition.Name] = definition;

    public static IWorkflowDefinition? Find(string name) => Definitions.GetValueOrDefault(name);
}
