// Compiles only while referencing Stent leaves plain C# alone and the API keeps the shapes users write.
namespace Stent.TestWorker;

/// <summary>Code a user of Stent writes, checked by the compiler (a test runs it too).</summary>
public static class ApiShape
{
    /// <summary>LINQ's own <c>Zip</c>: its tuples have <c>First</c> and <c>Second</c> (no other library's Zip wins).
    /// </summary>
    public static string PlainZip()
    {
        var pairs = new[] { 1, 2 }.Zip(new[] { "a", "b" }).ToList();
        return $"{pairs[0].First}{pairs[0].Second}{pairs[1].First}{pairs[1].Second}";
    }

    /// <summary>A chunked fan-out with a function per item and a pause between chunks.</summary>
    public static Workflow<IReadOnlyList<Result<int>>> ChunkPerItem(int[] items) =>
        items.Chunk(2, x => CrashBatch.Double.Call(x), pause: "1s");

    /// <summary>A wait with a timeout gives a Stent value, not another library's.</summary>
    public static Workflow<string> WaitWithTimeout() =>
        from approval in Workflow.WaitForSignal<string>("approval", "1h")
        select approval.HasValue ? approval.Value : "timed out";

    /// <summary>A class whose property has a private setter: JSON loses it (Stent rejects it at dispatch).</summary>
    public sealed class PrivatePoint
    {
        /// <summary>For the serializer.</summary>
        public PrivatePoint() { }

        /// <summary>A point at <paramref name="x"/>.</summary>
        public PrivatePoint(int x) => X = x;

        /// <summary>Its coordinate (set privately: JSON cannot set it back).</summary>
        public int X { get; private set; }
    }
}
