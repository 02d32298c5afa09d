// The data that crosses the IWorkStore contract: executions, claims, decision commits, step outcomes.
using Stent.Replay;

namespace Stent.Storage;

/// <summary>An execution to create.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Workflow">The workflow's name.</param>
/// <param name="Version">The workflow's version.</param>
/// <param name="Input">The input as JSON.</param>
/// <param name="IdempotencyKey">Dispatching the same key twice returns the first execution.</param>
/// <param name="Delay">Start no sooner than this long after now (store clock).</param>
/// <param name="MaxDuration">The execution times out this long after it starts.</param>
/// <param name="Queue">The queue its work goes to (null = default queue).</param>
/// <param name="Tags">Tags routing its work.</param>
/// <param name="Priority">Higher runs first.</param>
/// <param name="ResumedFrom">
/// An ended execution (failed, cancelled or timed out) this one resumes, reusing its finished work. The store also
/// resumes, by itself, an ended execution that holds <paramref name="IdempotencyKey"/>; the key then moves to the new
/// one.
/// </param>
/// <param name="ParentId">For a child execution, its parent (which receives its result).</param>
/// <param name="ParentPosition">For a child execution, the position of the child instruction in the parent.</param>
/// <param name="Root">The workflow at the root of its execution tree (null: its own); a worker with the root has its
/// work.</param>
public sealed record NewExecution(
    string Id, string Workflow, int Version, string Input, string? IdempotencyKey, TimeSpan Delay, TimeSpan?
        MaxDuration,
    string? Queue, IReadOnlyList<string> Tags, int Priority, string? ResumedFrom = null, string? ParentId = null,
    string? ParentPosition = null, string? Root = null)
{
    /// <summary>The trace context (W3C <c>traceparent</c>) its decisions and steps continue: the dispatch's, or for a
    /// child the decision that started it. Null: each decision starts a trace of its own.</summary>
    public string? TraceParent { get; init; }

    /// <summary>The first event of the execution's stream.</summary>
    public ExecutionStarted Started(DateTimeOffset at, string? resumedFrom) =>
        new(Workflow, Version, Input, at, resumedFrom, ParentId, ParentPosition);

    /// <summary>True for the states an execution can be resumed from.</summary>
    public static bool CanResume(ExecutionState state) =>
        state is ExecutionState.Failed or ExecutionState.Cancelled or ExecutionState.TimedOut;

    /// <summary>The error for resuming an execution that has not ended unsuccessfully.</summary>
    public static InvalidOperationException NotResumable(string id, ExecutionState state) =>
        new($"Execution '{id}' is {state}; only a failed, cancelled or timed-out execution can be resumed.");
}

/// <summary>An execution's row.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Workflow">The workflow's name.</param>
/// <param name="Version">The workflow's version.</param>
/// <param name="State">Where it stands.</param>
/// <param name="CreatedAt">When it was dispatched.</param>
/// <param name="UpdatedAt">When it last changed.</param>
/// <param name="CompletedAt">When it ended.</param>
/// <param name="Deadline">When it times out, if ever.</param>
/// <param name="Queue">Its queue (null: the default queue).</param>
/// <param name="Tags">Its tags.</param>
/// <param name="Priority">Its priority.</param>
/// <param name="Output">Its result as JSON, when completed.</param>
/// <param name="Error">Its error, when it failed, was cancelled or timed out.</param>
/// <param name="IdempotencyKey">Its idempotency key, if it holds one.</param>
/// <param name="ResumedBy">The execution that resumed this one, if any.</param>
/// <param name="ParentId">The parent, for a child execution.</param>
public sealed record ExecutionInfo(
    string Id, string Workflow, int Version, ExecutionState State, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    DateTimeOffset? CompletedAt, DateTimeOffset? Deadline, string? Queue, IReadOnlyList<string> Tags, int Priority,
    string? Output, WorkflowError? Error, string? IdempotencyKey, string? ResumedBy, string? ParentId)
{
    /// <summary>The signals it waits for now, with the payload each reads.</summary>
    public IReadOnlyList<AwaitedSignal> Awaiting { get; init; } = [];
}

/// <summary>Which executions to list.</summary>
/// <param name="State">Only this state (null: any).</param>
/// <param name="Workflow">Only this workflow (null: any).</param>
/// <param name="Limit">At most this many.</param>
/// <param name="Offset">Skip this many first.</param>
public sealed record ExecutionFilter(ExecutionState? State = null, string? Workflow = null, int Limit = 50, int Offset =
    0);

/// <summary>What a worker asks for.</summary>
/// <param name="WorkerId">Who claims (recorded on leases).</param>
/// <param name="MaxDecisions">At most this many decisions.</param>
/// <param name="MaxSteps">At most this many steps.</param>
/// <param name="Lease">How long the claims last unless renewed.</param>
/// <param name="Queues">Only work of these queues (and the default queue); null: every queue.</param>
/// <param name="Tags">Only work with no tags or sharing one of these; null: everything.</param>
public sealed record ClaimRequest(
    string WorkerId, int MaxDecisions, int MaxSteps, TimeSpan Lease, IReadOnlyList<string>? Queues = null,
        IReadOnlyList<string>? Tags = null)
{
    /// <summary>Only decisions of these workflows; null: any.</summary>
    public IReadOnlyList<string>? Workflows { get; init; }

    /// <summary>Only decisions of these versions of the workflows (by name), when given: an execution runs on the
    /// version it started with.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>>? Versions { get; init; }

    /// <summary>Only steps of these durable functions; null: any.</summary>
    public IReadOnlyList<string>? Functions { get; init; }
}

/// <summary>An execution claimed for a decision.</summary>
/// <param name="ExecutionId">The execution.</param>
/// <param name="LeaseToken">Proof of the lease; the commit must present it.</param>
/// <param name="Version">Events in its stream (read them with <see cref="IWorkStore.ReadAfterAsync"/>; the lease keeps
/// other writers away).</param>
/// <param name="Inbox">Events waiting to be folded into the stream (step outcomes, signals), with their inbox
/// ids.</param>
/// <param name="FiredTimers">Positions of timers that are due.</param>
/// <param name="Deadline">When it times out, if ever.</param>
/// <param name="CancelRequested">True when a client asked to cancel it.</param>
/// <param name="Route">Its queue, tags and priority (its children inherit them).</param>
public sealed record DecisionTask(
    string ExecutionId, long LeaseToken, long Version, IReadOnlyList<(long Id, HistoryEvent Event)> Inbox,
    IReadOnlyList<string> FiredTimers, DateTimeOffset? Deadline, bool CancelRequested, Route Route)
{
    /// <summary>The workflow at the root of its execution tree (its own, unless it is a child).</summary>
    public string? Root { get; init; }

    /// <summary>The execution's trace context (W3C <c>traceparent</c>), if it has one.</summary>
    public string? TraceParent { get; init; }
}

/// <summary>Where work goes: a queue (null: the default queue), tags, and a priority (higher first).</summary>
public sealed record Route(string? Queue, IReadOnlyList<string> Tags, int Priority)
{
    /// <summary>The default queue, no tags, priority 0.</summary>
    public static Route Default { get; } = new(null, [], 0);
}

/// <summary>A step claimed to run once.</summary>
/// <param name="Id">Its work row.</param>
/// <param name="ExecutionId">The execution it belongs to.</param>
/// <param name="Position">Its position in the workflow.</param>
/// <param name="Name">The durable function it runs.</param>
/// <param name="Input">Its input, as JSON.</param>
/// <param name="Attempt">Its run number: 1, plus one per failed attempt and per run whose worker was lost.</param>
/// <param name="LeaseToken">The token of the claim that leased it.</param>
public sealed record StepTask(long Id, string ExecutionId, string Position, string Name, string Input, int Attempt, long
    LeaseToken)
{
    /// <summary>For a batch of steps of one function (a piece of a fan-out), how many: its <see cref="Input"/> holds
    /// their positions and inputs, its <see cref="Position"/> is the first one's. 0 for a single step.</summary>
    public int Items { get; init; }

    /// <summary>How many of its runs so far were lost with their worker (the lease expired): these count apart from
    /// its retry policy's attempts.</summary>
    public int Lost { get; init; }

    /// <summary>The trace context (W3C <c>traceparent</c>) of the decision that scheduled it, if any.</summary>
    public string? TraceParent { get; init; }

    /// <summary>Its lease: its id with the token of the claim (an id alone may be another step's once this one's row
    /// is gone).</summary>
    public LeasedStep Lease => new(Id, LeaseToken);
}

/// <summary>A claim: the store's clock reading and the work claimed.</summary>
public sealed record ClaimResult(DateTimeOffset Now, IReadOnlyList<DecisionTask> Decisions, IReadOnlyList<StepTask>
    Steps);

/// <summary>A step to schedule, with its function's routing and limits (a concurrency cap, a rate per
/// second).</summary>
public sealed record NewStep(
    string Position, string Name, string Input, string? Queue, IReadOnlyList<string> Tags, int Priority, int?
        MaxConcurrent,
    int? MaxPerSecond = null)
{
    /// <summary>For a batch of steps, how many (see <see cref="StepTask.Items"/>); 0 for a single step.</summary>
    public int Items { get; init; }
}

/// <summary>One item of a batch of steps: its position and its input, as JSON.</summary>
public sealed record StepItem(string Position, string Input);

/// <summary>An event for another execution's inbox (a parent learning that its child ended); dropped if that one
/// ended.</summary>
public sealed record Message(string ExecutionId, HistoryEvent Event);

/// <summary>
/// A decision's writes, all or nothing: append <see cref="Events"/> at <see cref="ExpectedVersion"/> under the lease,
/// fold the inbox items and timers it consumed, schedule steps and timers, drop moot steps, start children, send
/// messages and cancellation requests to other executions, and set the execution's state. The engine decides every
/// one of these; the store only writes them.
/// </summary>
/// <param name="ExecutionId">The execution.</param>
/// <param name="LeaseToken">The decision's lease.</param>
/// <param name="ExpectedVersion">Events in the stream before this append.</param>
/// <param name="Events">Events to append.</param>
/// <param name="State">The execution's state after it.</param>
public sealed record DecisionCommit(string ExecutionId, long LeaseToken, long ExpectedVersion,
    IReadOnlyList<HistoryEvent> Events, ExecutionState State)
{
    /// <summary>Inbox ids folded into <see cref="Events"/>.</summary>
    public IReadOnlyList<long> FoldedInbox { get; init; } = [];

    /// <summary>Timer positions folded into <see cref="Events"/>.</summary>
    public IReadOnlyList<string> FiredTimers { get; init; } = [];

    /// <summary>Steps to schedule.</summary>
    public IReadOnlyList<NewStep> Steps { get; init; } = [];

    /// <summary>Timers to start (position, due).</summary>
    public IReadOnlyList<(string Position, DateTimeOffset DueAt)> Timers { get; init; } = [];

    /// <summary>Positions of this execution's scheduled steps to remove (running ones lose their lease).</summary>
    public IReadOnlyList<string> DropSteps { get; init; } = [];

    /// <summary>Child executions to start (unless one with the same id exists).</summary>
    public IReadOnlyList<NewExecution> Children { get; init; } = [];

    /// <summary>Events for other executions' inboxes.</summary>
    public IReadOnlyList<Message> Messages { get; init; } = [];

    /// <summary>Other executions asked to cancel.</summary>
    public IReadOnlyList<string> Cancel { get; init; } = [];

    /// <summary>The result when completed.</summary>
    public string? Output { get; init; }

    /// <summary>The error when failed, cancelled or timed out.</summary>
    public WorkflowError? Error { get; init; }

    /// <summary>The workflow at the root of the execution's tree (recorded with its steps; null: the execution's
    /// own).</summary>
    public string? Root { get; init; }

    /// <summary>The trace context (W3C <c>traceparent</c>) its new steps continue: the decision's.</summary>
    public string? TraceParent { get; init; }

    /// <summary>
    /// The committing worker holds no lease on the execution: it decides on the history it last wrote itself, so the
    /// commit holds only while nobody leases the execution and its stream has not moved (<see cref="LeaseToken"/> is
    /// ignored). This is how a worker goes on with an execution whose steps it ran, without claiming it again.
    /// </summary>
    public bool Optimistic { get; init; }

    /// <summary>
    /// Outcomes (<see cref="StepCompleted"/> or <see cref="StepFailed"/>) of steps the committing worker ran under
    /// its own leases, already among <see cref="Events"/>: their steps are removed (a failure becomes a dead letter)
    /// and the whole commit is refused if any of these leases was lost.
    /// </summary>
    public IReadOnlyList<StepOutcome> Outcomes { get; init; } = [];

    /// <summary>Claims the new steps at these positions for the committing worker in the same commit, so it runs
    /// them at once; null: claim none.</summary>
    public StepClaim? Claim { get; init; }

    /// <summary>The signals the execution waits for after this decision (kept on its row, to check untyped
    /// sends).</summary>
    public IReadOnlyList<AwaitedSignal> Awaiting { get; init; } = [];

    /// <summary>When to decide again regardless of what waits (a <see cref="ExecutionState.Blocked"/> execution's
    /// next try); null: as soon as something comes in, or at its first timer or deadline.</summary>
    public DateTimeOffset? RetryAt { get; init; }

    /// <summary>True when the execution ends with this commit (its remaining steps and timers go with it).</summary>
    public bool Finished => State.HasEnded();
}

/// <summary>New steps of a decision that the deciding worker claims in its commit.</summary>
/// <param name="WorkerId">The worker (recorded on the leases).</param>
/// <param name="Lease">How long the claims last unless renewed.</param>
/// <param name="Positions">Positions of new steps to claim.</param>
public sealed record StepClaim(string WorkerId, TimeSpan Lease, IReadOnlyList<string> Positions);

/// <summary>What a decision's commit did.</summary>
/// <param name="Accepted">False (and nothing written) when the lease was lost or the stream moved on.</param>
/// <param name="Claimed">The new steps claimed for the committing worker (see <see cref="DecisionCommit.Claim"/>).
/// </param>
public sealed record DecisionResult(bool Accepted, IReadOnlyList<StepTask> Claimed)
{
    /// <summary>A refused commit.</summary>
    public static DecisionResult Refused { get; } = new(false, []);
}

/// <summary>What one run of a step produced.</summary>
/// <param name="Step">The step and its lease.</param>
/// <param name="Event">StepCompleted, StepFailed, or StepAttemptFailed (then the step runs again at its
/// RetryAt); for a batch, an <see cref="EventBatch"/> of its items' outcomes (possibly empty).</param>
public sealed record StepOutcome(LeasedStep Step, HistoryEvent Event)
{
    /// <summary>For a batch: every item's position and input (a dead letter keeps its item's input).</summary>
    public IReadOnlyList<StepItem> Items { get; init; } = [];

    /// <summary>For a batch: items that run again, each as a step of its own (a failed attempt's retry, or every item
    /// of a batch whose worker was lost), in the same write that removes the batch.</summary>
    public IReadOnlyList<Requeued> Requeue { get; init; } = [];

    /// <summary>For a batch that goes on running: the items it has not run yet, which its row keeps (with its lease);
    /// null when the batch is done (its row is removed).</summary>
    public IReadOnlyList<StepItem>? Remaining { get; init; }
}

/// <summary>An item of a batch that runs again as a step of its own.</summary>
/// <param name="Item">Its position and input.</param>
/// <param name="Attempt">The run number it runs as.</param>
/// <param name="Lost">Runs of it lost with their worker so far.</param>
/// <param name="At">When it may run.</param>
public sealed record Requeued(StepItem Item, int Attempt, int Lost, DateTimeOffset At);

/// <summary>A step and the lease it runs under.</summary>
public sealed record LeasedStep(long Id, long LeaseToken);

/// <summary>A step that failed for good (after its last attempt), kept for inspection.</summary>
/// <param name="Id">Its id.</param>
/// <param name="ExecutionId">The execution.</param>
/// <param name="Position">The step's position.</param>
/// <param name="Name">The durable function.</param>
/// <param name="Input">The input, as JSON.</param>
/// <param name="Failure">The failure recorded (error and attempts).</param>
/// <param name="At">When it was recorded.</param>
public sealed record DeadLetter(long Id, string ExecutionId, string Position, string Name, string Input, StepFailed
    Failure, DateTimeOffset At);

/// <summary>A worker's heartbeat: who it is, what it runs, when it was last seen (set by the store's clock).</summary>
/// <param name="Id">The worker's id.</param>
/// <param name="Workflows">The workflows it has.</param>
/// <param name="Functions">The durable functions it has.</param>
/// <param name="SeenAt">When it last announced itself (ignored when announcing).</param>
public sealed record WorkerInfo(string Id, IReadOnlyList<string> Workflows, IReadOnlyList<string> Functions,
    DateTimeOffset SeenAt = default);
