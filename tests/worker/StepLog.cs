// A logger factory that writes a line when a step attempt starts and when it ends, so a test can count runs across processes.
using Microsoft.Extensions.Logging;

namespace Stent.TestWorker;

/// <summary>
/// Appends "start|done PID EXECUTION POSITION ATTEMPT UNIXMS" to PREFIX.PID for every step attempt: the worker opens a
/// logging scope with the execution, position and attempt around each one, so no workflow needs instrumenting.
/// </summary>
public sealed class StepLog(string prefix) : ILoggerFactory, ILogger
{
    private readonly Lock _gate = new();
    private readonly string _path = $"{prefix}.{Environment.ProcessId}";

    private void Write(string what, Dictionary<string, object?> s)
    {
        var line = $"{what} {Environment.ProcessId} {s["ExecutionId"]} {s["Position"]} {s["Attempt"]} {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}\n";
        lock (_gate) File.AppendAllText(_path, line);
    }

    /// <inheritdoc />
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull
    {
        if (state is not IEnumerable<KeyValuePair<string, object?>> pairs) return null;
        var s = pairs.ToDictionary();
        if (!s.ContainsKey("Attempt")) return null;
        Write("start", s);
        return new Done(() => Write("done", s));
    }

    private sealed class Done(Action onDispose) : IDisposable
    {
        public void Dispose() => onDispose();
    }

    /// <inheritdoc />
    public bool IsEnabled(LogLevel logLevel) => false;

    /// <inheritdoc />
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) { }

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => this;

    /// <inheritdoc />
    public void AddProvider(ILoggerProvider provider) { }

    /// <inheritdoc />
    public void Dispose() { }
}
