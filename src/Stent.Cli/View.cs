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

    public void Execution(ExecutionDetails d, int shown, bool failedOnly)
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
        Waits(d.WaitingFor);
        Progress(d);
        output.WriteLine("  " + string.Join(", ", d.Counters.Select(c => $"{c.Key} {c.Value}")));
        foreach (var (k, v) in d.CustomState) output.WriteLine($"  state {k} = {v}");
        if (d.Steps.Count == 0) return;
        output.WriteLine("  steps by name:");
        foreach (var g in d.Steps.GroupBy(s => s.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
            output.WriteLine($"    {g.Key}: {g.Count()} (" + string.Join(", ", g.GroupBy(s => s.Status)
                .OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Count()} {s.Key}")) + ")");
        var failed = d.Steps.Where(Failed).ToList();
        if (failed.Count > 0)
        {
            output.WriteLine($"  failures ({failed.Count}):");
            foreach (var s in failed.Take(shown))
                output.WriteLine($"    {s.Position,-14} {s.Name,-28} {s.Status} after {s.Attempts} attempt(s): " +
                    s.Error);
            if (failed.Count > shown) output.WriteLine($"    … {failed.Count - shown} more (--steps {failed.Count})");
        }
        if (failedOnly) return;
        var page = d.Steps.Take(shown).ToList();
        output.WriteLine($"  timeline in position order ({page.Count} of {d.Steps.Count} steps" +
            (d.Steps.Count > shown ? $"; --steps {d.Steps.Count} for all, --failed for failures only)" : ")"));
        output.WriteLine($"    {"POSITION",-14} {"STEP",-28} {"STATUS",-15} {"ATTEMPTS",8}  {"STARTED",-12} " +
            $"{"ENDED",-12} {"TOOK",8}  ERROR");
        foreach (var s in page)
            output.WriteLine($"    {s.Position,-14} {s.Name,-28} {s.Status,-15} {s.Attempts,8}  " +
                $"{Clock(s.StartedAt),-12} " +
                $"{Clock(s.EndedAt),-12} {Took(s.Duration),8}  {s.Error}");
    }

    private static bool Failed(StepInfo s) => s.Status is "failed" or "retrying" or "business-error";

    /// <summary>What a live execution waits for: signals, timers and children one by one, steps by name.</summary>
    private void Waits(IReadOnlyList<WaitingFor> waits)
    {
        if (waits.Count == 0) return;
        output.WriteLine("  waits for:");
        foreach (var w in waits.Where(w => w.Kind != "step"))
            output.WriteLine($"    {w.Kind} {w.What}{(w.Until is { } until ? $" until {Time(until)}" : "")}");
        foreach (var g in waits.Where(w => w.Kind == "step")
            .GroupBy(w => w.What[..w.What.LastIndexOf(" at ", StringComparison.Ordinal)]))
        {
            var retry = g.Where(w => w.Until is not null).ToList();
            output.WriteLine($"    steps {g.Key}: {g.Count()} in flight" + (retry.Count > 0 ? $", {retry.Count} to " +
                $"retry from {Time(retry.Min(w => w.Until))}" : ""));
        }
    }

    private static string Clock(DateTimeOffset? t) => t?.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture) ?? "-";

    private static string Took(TimeSpan? d) => d switch
    {
        null => "-",
        { TotalSeconds: < 1 } t => $"{t.TotalMilliseconds:0}ms",
        { TotalMinutes: < 1 } t => $"{t.TotalSeconds:0.0}s",
        { TotalHours: < 1 } t => $"{(int)t.TotalMinutes}m{t.Seconds:00}s",
        { } t => $"{(int)t.TotalHours}h{t.Minutes:00}m",
    };

    public void Progress(ExecutionDetails d)
    {
        var p = d.Progress;
        var bar = p is { Total: > 0 } ? $"[{new string('#', (int)(20 * p.Done / p.Total))}{new string('.', 20 - (int)(20 * p.Done / p.Total))}] {p.Done}/{p.Total} {p.Message}" : "no progress reported";
        output.WriteLine($"  {d.Info.State}: {bar}");
    }

    public void Schedules(IReadOnlyList<Scheduling.ScheduleInfo> list)
    {
        output.WriteLine($"{"NAME",-24} {"CRON",-18} {"ZONE",-16} {"WORKFLOW",-20} {"NEXT TICK (UTC)",-19} " +
            "LAST EXECUTION");
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
