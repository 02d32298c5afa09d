// The guide's neighbours in C#: a saga that compensates in reverse order, a child workflow per region, and waiting for an approval with a timeout.
using Stent;

namespace Stent.Examples.CSharp;

/// <summary>A booking made by a saga step.</summary>
public sealed record Booking(string Kind, string Reference);

/// <summary>What to book; the car rental fails when <see cref="CarFails"/> is set.</summary>
public sealed record Trip(string Traveller, bool CarFails = false);

/// <summary>Pattern 13: saga with compensation, child workflows, and a signal wait with a timeout.</summary>
public static class NeighbourPatterns
{
    /// <summary>What was compensated, in order (examples only; real compensations call other systems).</summary>
    public static readonly System.Collections.Concurrent.ConcurrentQueue<string> Compensated = new();

    private static Durable<Trip, Booking> Book(string kind) => Durable.CreateSync($"book_{kind}", (Trip t, StepContext _) =>
        kind == "car" && t.CarFails ? throw new InvalidOperationException("no cars left") : new Booking(kind, $"{kind}-{t.Traveller}"),
        new DurableOptions { Retry = RetryPolicy.None });

    private static Durable<Booking, bool> Cancel(string kind) => Durable.CreateSync($"cancel_{kind}", (Booking b, StepContext _) =>
    {
        Compensated.Enqueue(b.Reference);
        if (kind == "hotel" && b.Reference.EndsWith("-grumpy", StringComparison.Ordinal)) throw new InvalidOperationException("hotel refuses to cancel");
        return true;
    }, new DurableOptions { Retry = RetryPolicy.None });

    private static readonly Durable<Trip, Booking> BookFlight = Book("flight"), BookHotel = Book("hotel"), BookCar = Book("car");
    private static readonly Durable<Booking, bool> CancelFlight = Cancel("flight"), CancelHotel = Cancel("hotel"), CancelCar = Cancel("car");

    /// <summary>Flight, hotel, car; if a later booking fails, the earlier ones are cancelled in reverse order.</summary>
    public static readonly WorkflowDef<Trip, Booking[]> BookTrip = Workflow.Define("book_trip", (Trip trip) =>
        (from flight in Saga.Step(BookFlight.Call(trip), CancelFlight)
         from hotel in Saga.Step(BookHotel.Call(trip), CancelHotel)
         from car in Saga.Step(BookCar.Call(trip), CancelCar)
         select new[] { flight, hotel, car }).Run());

    /// <summary>Loads one row of a region (a stand-in for an import).</summary>
    public static readonly Durable<(string Region, int Row), int> LoadRow = Durable.CreateSync("load_row", ((string Region, int Row) r, StepContext _) => r.Row);

    /// <summary>Imports the rows of one region; run as a child, it is an execution of its own (listed, inspected, cancelled alone).</summary>
    public static readonly WorkflowDef<string, int> ImportRegion = Workflow.Define("import_region", (string region) =>
        from rows in Enumerable.Range(1, 5).Select(i => (region, i)).Traverse(LoadRow)
        select rows.Sum());

    /// <summary>One child execution per region, concurrently; the parent waits for all without holding a worker.</summary>
    public static readonly WorkflowDef<string[], int> ImportAll = Workflow.Define("import_all", (string[] regions) =>
        from totals in regions.Traverse(region => Workflow.Child(ImportRegion, region))
        select totals.Sum());

    /// <summary>Waits up to <c>timeout</c> for an "approval" signal carrying the approver's name.</summary>
    public static readonly WorkflowDef<string, string> AwaitApproval = Workflow.Define("await_approval", (string timeout) =>
        from approval in Workflow.WaitForSignal<string>("approval", timeout)
        select approval.Match(some: who => $"approved by {who}", none: () => "no approval in time"));
}
