// Positions in program order: "0.9/0" before "0.10/0", numbers compared as numbers.
namespace Stent.Replay;

/// <summary>Orders instruction positions (e.g. <c>3.17/0</c>) by their numbers, so timelines read in program
/// order.</summary>
internal sealed class PositionOrder : IComparer<string>
{
    public static readonly PositionOrder Instance = new();

    public int Compare(string? x, string? y)
    {
        if (x is null || y is null) return string.CompareOrdinal(x, y);
        int i = 0, j = 0;
        while (i < x.Length && j < y.Length)
        {
            if (char.IsAsciiDigit(x[i]) && char.IsAsciiDigit(y[j]))
            {
                var (a, b) = (Number(x, ref i), Number(y, ref j));
                if (a != b) return a.CompareTo(b);
                continue;
            }
            if (x[i] != y[j]) return x[i].CompareTo(y[j]);
            i++;
            j++;
        }
        return (x.Length - i).CompareTo(y.Length - j);
    }

    private static long Number(string s, ref int i)
    {
        long n = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i])) n = n * 10 + (s[i++] - '0');
        return n;
    }
}
