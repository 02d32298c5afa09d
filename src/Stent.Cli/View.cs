// How the stent command line prints executions, progress and dead letters.
using System.Globalization;
using Stent.Execution;
using Stent.Storage;

namespace Stent.Cli;

/// <summary>Plain-text rendering for the command line.</summary>
internal sealed class View(TextWriter output)
{
    public static string Time(DateTimeOffset? t) => t?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ??
        "-";

    public void Executions(IReadOnlyList<ExecutionInfo> list, IReadOnlyDictionary<string, string> notes)
    {
        output.WriteLine($"{"ID",-34} {"WORKFLOW",-24} {"STATE",-10} {"CREATED",-19}");
        foreach (var e in list)
            output.WriteLine($"{e.Id,-34} {e.Workflow,-24} {e.State,-10} {Time(e.CreatedAt)}{(notes.TryGetValue(e.Id, out var n) ? "  " + n : "")}");
        output.WriteLine($"{list.Count} execution(s)");
    }

    public void Execution(ExecutionDetails d)
    {
        var i = d.Info;
        output.WriteLine($"execution {i.Id}: {i.Workflow} v{i.Version}, {i.State}");
        output.WriteLine($"  created {Time(i.CreatedAt)}, updated {Time(i.UpdatedAt)}, ended {Time(i.CompletedAt)}, deadline {Time(i.Deadline)}");
        if (i.IdempotencyKey is { } key) output.WriteLine($"  idempotency key {key}");
        if (d.ResumedFrom is { } from) output.WriteLine($"  resumes {from}");
        if (i.ResumedBy is { } by) output.WriteLine($"  resumed by {by}");
        if (i.ParentId is { } parent) output.WriteLine($"  child of {parent}");
        if (i.Output is { } result) output.WriteLine($"  result {result}");
        if (i.Error is { } error) output.WriteLine($"  {(error.IsBusiness ? "business error" : "error")}: {error.Message}");
        if (d.Unserved is { } unserved) output.WriteLine($"  {unserved}");
        if (d.UntakenSignals.Count > 0)
            output.WriteLine($"  signals {(i.State.HasEnded() ? "never" : "not yet")} taken: " +
                string.Join(", ", d.UntakenSignals.GroupBy(n => n).Select(g => $"'{g.Key}' ({g.Count()})")));
        Progress(d);
        output.WriteLine("  " + string.Join(", ", d.Counters.Select(c => $"{c.Key} {c.Value}")));
        foreach (var (k, v) in d.CustomState) output.WriteLine($"  state {k} = {v}");
        output.WriteLine($"  {"POSITION",-14} {"STEP",-28} {"STATUS",-15} {"ATTEMPTS",8}  ERROR");
        foreach (var s in d.Steps)
            output.WriteLine($"  {s.Position,-14} {s.Name,-28} {s.Status,-15} {s.Attempts,8}  {s.Error}");
    }

    public void Progress(ExecutionDetails d)
    {
        var p = d.Progress;
        var bar = p is { Total: > 0 } ? $"[{new string('#', (int)(20 * p.Done / p.Total))}{new string('.', 20 - (int)(20 * p.Done / p.Total))}] {p.Done}/{p.Total} {p.Message}" : "no progress reported";
        output.WriteLine($"  {d.Info.State}: {bar}");
    }

    public void Schedules(IReadOnlyList<Scheduling.ScheduleInfo> list)
    {
        output.WriteLine($"{"NAME",-24} {"CRON",-18} {"ZONE",-16} {"WORKFLOW",-20} {"NEXT TICK (UTC)",-19} LAST EXECUTION");
        foreach (var s in list)
            output.WriteLine($"{s.Name,-24} {s.Cron,-18} {s.TimeZone,-16} {s.Workflow,-20} " +
                $"{(s.Paused ? "paused" : Time(s.NextTick)),-19} {s.LastExecutionId ?? "-"}");
        output.WriteLine($"{list.Count} schedule(s)");
    }

    public void DeadLetters(IReadOnlyList<DeadLetter> list)
    {
        output.WriteLine($"{"ID",6} {"EXECUTION",-34} {"POSITION",-12} {"STEP",-24} ERROR");
        foreach (var l in list)
            output.WriteLine($"{l.Id,6} {l.ExecutionId,-34} {l.Position,-12} {l.Name,-24} {l.Failure.Error.Message}");
        output.WriteLine($"{list.Count} dead letter(s)");
    }

    public void DeadLetter(DeadLetter l)
    {
        output.WriteLine($"dead letter {l.Id}: step {l.Name} at {l.Position} of execution {l.ExecutionId}, {Time(l.At)}");
        output.WriteLine($"  input {l.Input}");
        output.WriteLine($"  failed after {l.Failure.Attempts} attempt(s): {l.Failure.Error.ErrorType}: {l.Failure.Error.Message}");
        if (l.Failure.Error.StackTrace is { } stack) output.WriteLine(stack);
    }
}
