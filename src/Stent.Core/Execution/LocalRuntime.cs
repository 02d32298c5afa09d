// The in-process runtime: dispatches executions, makes decisions, runs steps and fires timers against one store.
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Stent.Replay;
using Stent.Storage;
using Stent.Workflows;

namespace Stent.Execution;

/// <summary>
/// Runs workflows in this process against an <see cref="IEventStore"/>. Each execution's stream has one
/// writer (this runtime); step outcomes are folded into the stream in batches and followed by one
/// decision. A new runtime over the same store resumes every unfinished execution where it stopped:
/// recorded steps are replayed, never run again.
/// </summary>
public sealed partial class LocalRuntime
{
    private readonly IEventStore _store;
    private readonly IIdempotencyStore? _results;
    private readonly LocalRuntimeOptions _options;
    private readonly Random _random;
    private readonly ILogger _logger;
    private readonly StepRunner _runner;
    private readonly Dictionary<string, IWorkflowDefinition> _workflows = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ExecutionState> _executions = new(StringComparer.Ordinal);

    /// <summary>A runtime over <paramref name="store"/>; idempotent results go to the store too when it implements <see cref="IIdempotencyStore"/>.</summary>
    public LocalRuntime(IEventStore store, LocalRuntimeOptions? options = null)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _results = store as IIdempotencyStore;
        _options = options ?? new LocalRuntimeOptions();
        if (_options.MaxConcurrency < 1)
            throw new ArgumentOutOfRangeException(nameof(options), _options.MaxConcurrency, $"MaxConcurrency must be positive, got {_options.MaxConcurrency}.");
        _random = _options.Seed is { } seed ? new Random(seed) : new Random();
        _logger = (_options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Stent");
        _runner = new StepRunner(_options.Serializer, _results, _logger, _options.WorkerId);
    }

    /// <summary>Makes a workflow known, so executions of it found in the store can be resumed.</summary>
    public LocalRuntime Register<TIn, TOut>(WorkflowDef<TIn, TOut> definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        _workflows[definition.Name] = definition;
        return this;
    }

    /// <summary>
    /// Starts an execution of <paramref name="definition"/> on <paramref name="input"/>. With an
    /// <paramref name="executionId"/> that already exists, returns it and starts nothing. The workflow is
    /// built once first, so bad input (a zero chunk size, a malformed duration) is rejected before anything is recorded.
    /// </summary>
    public async Task<string> DispatchAsync<TIn, TOut>(WorkflowDef<TIn, TOut> definition, TIn input, string? executionId = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        Register(definition);
        var id = executionId ?? Guid.NewGuid().ToString("N");
        if ((await _store.ReadAsync(id, ct).ConfigureAwait(false)).Count > 0) return id;
        _ = definition.Build(input);
        var json = _options.Serializer.Serialize(input, typeof(TIn));
        await _store.AppendAsync(id, 0, [new ExecutionStarted(definition.Name, definition.Version, json, _options.Clock.UtcNow)], ct).ConfigureAwait(false);
        return id;
    }

    /// <summary>
    /// Starts a new execution that resumes <paramref name="executionId"/> (which failed): the same workflow and
    /// input, reusing every step it completed (same position, function and input), its sleeps' due times and
    /// recorded values; only the rest runs. Returns the new execution's id.
    /// </summary>
    public async Task<string> ResumeAsync<TIn, TOut>(WorkflowDef<TIn, TOut> definition, string executionId, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        Register(definition);
        var old = await _store.ReadAsync(executionId, ct).ConfigureAwait(false);
        if (old.Count == 0 || old[0] is not ExecutionStarted started) throw new KeyNotFoundException($"No execution '{executionId}' to resume.");
        if (!old.Any(e => e is ExecutionFailed))
            throw new InvalidOperationException($"Execution '{executionId}' has not failed; only a failed execution can be resumed.");
        var id = $"{executionId}+";
        if ((await _store.ReadAsync(id, ct).ConfigureAwait(false)).Count == 0)
            await _store.AppendAsync(id, 0, [started with { StartedAt = _options.Clock.UtcNow, ResumedFrom = executionId }], ct).ConfigureAwait(false);
        return id;
    }

    /// <summary>Dispatches, runs until the execution ends, and returns its result.</summary>
    public async Task<Result<TOut>> RunAsync<TIn, TOut>(WorkflowDef<TIn, TOut> definition, TIn input, string? executionId = null, CancellationToken ct = default)
    {
        var id = await DispatchAsync(definition, input, executionId, ct).ConfigureAwait(false);
        await RunUntilIdleAsync(ct).ConfigureAwait(false);
        return await GetResultAsync(definition, id, ct).ConfigureAwait(false) ?? throw new InvalidOperationException($"Execution '{id}' did not finish.");
    }

    /// <summary>The result of a finished execution, or null while it runs.</summary>
    public async Task<Result<TOut>?> GetResultAsync<TIn, TOut>(WorkflowDef<TIn, TOut> definition, string executionId, CancellationToken ct = default)
    {
        var events = await _store.ReadAsync(executionId, ct).ConfigureAwait(false);
        if (events.Count == 0) throw new KeyNotFoundException($"No execution '{executionId}'.");
        return events.FirstOrDefault(e => e is ExecutionCompleted or ExecutionFailed) switch
        {
            ExecutionCompleted c => Result<TOut>.Ok((TOut)_options.Serializer.Deserialize(c.Output, typeof(TOut))!),
            ExecutionFailed f => Result<TOut>.Fail(f.Error),
            _ => null,
        };
    }

    /// <summary>
    /// Works until no execution can advance: every known or stored execution has finished (or waits on
    /// nothing that can happen). Timers are awaited on the clock; a <see cref="ManualClock"/> jumps.
    /// </summary>
    public async Task RunUntilIdleAsync(CancellationToken ct = default)
    {
        await LoadAsync(ct).ConfigureAwait(false);
        await LoopAsync(ct).ConfigureAwait(false);
    }

    private sealed class ExecutionState(string id, IWorkflowDefinition definition, List<HistoryEvent> events, Carryover? carryover)
    {
        public Carryover? Carryover { get; } = carryover;
        public Interpreter.Checkpoint? Checkpoint { get; set; }
        public ExecutionStarted Started => (ExecutionStarted)Events[0];
        public string Id { get; } = id;
        public IWorkflowDefinition Definition { get; } = definition;
        public List<HistoryEvent> Events { get; } = events;
        public bool Dirty { get; set; } = true;
        public bool Finished { get; set; }
        public bool Recovering { get; set; }
        public Dictionary<string, IDurableFunction> Functions { get; } = new(StringComparer.Ordinal);
        public List<HistoryEvent> Outbox { get; } = [];
    }
}
