// Durations written as text ("100ms", "30s", "1.5h", "2d8h") or as TimeSpan, parsed strictly.
using System.Globalization;
using System.Text.RegularExpressions;

namespace Stent;

/// <summary>
/// A non-negative length of time given as a <see cref="TimeSpan"/> or as text such as
/// <c>"100ms"</c>, <c>"30s"</c>, <c>"1.5h"</c> or <c>"2d8h"</c> (units: ms, s, m, h, d, w).
/// Malformed text is rejected with the text in the message, when the value is built.
/// </summary>
public readonly record struct Duration
{
    private static readonly Regex Token = new(@"\G(\d+(?:\.\d+)?)(ms|s|m|h|d|w)", RegexOptions.CultureInvariant);

    /// <summary>The length of time.</summary>
    public TimeSpan Value { get; }

    private Duration(TimeSpan value) => Value = value;

    /// <summary>No time: what an optional duration setting holds when it is not set (<c>default</c>).</summary>
    public static Duration Zero => default;

    /// <summary>True for no time (an optional setting left unset).</summary>
    public bool IsZero => Value == TimeSpan.Zero;

    /// <summary>The length, or null for zero (an optional setting left unset).</summary>
    internal TimeSpan? OrNull => IsZero ? null : Value;

    /// <summary>A duration from a <see cref="TimeSpan"/>; negative values are rejected.</summary>
    public static Duration From(TimeSpan value) =>
        value < TimeSpan.Zero
            ? throw new ArgumentOutOfRangeException(nameof(value), value, $"Duration '{value}' is negative.")
            : new Duration(value);

    /// <summary>Parses text such as "100ms", "1.5h" or "2d8h"; throws <see cref="FormatException"/> naming the text.</summary>
    public static Duration Parse(string text) =>
        TryParse(text, out var d) ? d : throw new FormatException(
            $"Invalid duration '{text}': expected one or more <number><unit> tokens with unit ms, s, m, h, d or w (e.g. \"100ms\", \"1.5h\", \"2d8h\").");

    /// <summary>Parses a duration without throwing.</summary>
    public static bool TryParse(string? text, out Duration duration)
    {
        duration = default;
        if (string.IsNullOrEmpty(text)) return false;
        var total = 0.0;
        var at = 0;
        while (at < text.Length)
        {
            var m = Token.Match(text, at);
            if (!m.Success) return false;
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += n * m.Groups[2].Value switch
            {
                "ms" => 1.0, "s" => 1000.0, "m" => 60_000.0, "h" => 3_600_000.0, "d" => 86_400_000.0, _ => 604_800_000.0,
            };
            at += m.Length;
        }
        if (double.IsInfinity(total) || total > TimeSpan.MaxValue.TotalMilliseconds) return false;
        duration = new Duration(TimeSpan.FromMilliseconds(total));
        return true;
    }

    /// <summary>Text such as "100ms" becomes a duration.</summary>
    public static implicit operator Duration(string text) => Parse(text);

    /// <summary>A <see cref="TimeSpan"/> becomes a duration.</summary>
    public static implicit operator Duration(TimeSpan value) => From(value);

    /// <inheritdoc />
    public override string ToString() => Value.ToString("c", CultureInfo.InvariantCulture);
}
