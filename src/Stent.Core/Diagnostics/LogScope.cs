// A log scope of named values: structured for log processors, readable as text in the console logger.
using System.Collections;

namespace Stent.Diagnostics;

/// <summary>
/// The scope workers log step attempts and decisions in: a list of key/value pairs (how structured loggers and
/// OpenTelemetry read scopes) whose text is <c>ExecutionId=… Step=…</c> (how the console logger prints them).
/// </summary>
internal sealed class LogScope(params (string Key, object? Value)[] values) : IReadOnlyList<KeyValuePair<string,
    object?>>
{
    public KeyValuePair<string, object?> this[int index] => new(values[index].Key, values[index].Value);

    public int Count => values.Length;

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < values.Length; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => string.Join(" ", values.Select(v => $"{v.Key}={v.Value}"));
}
