// The stent command line: operations on executions and dead letters in a SQLite file or a PostgreSQL database.
using System.Globalization;
using System.Text.Json;
using Stent.Execution;
using Stent.Marten;
using Stent.Sqlite;
using Stent.Storage;
using Stent.Storage.Relational;

namespace Stent.Cli;

/// <summary>Parses a command line and runs it against the store it names; returns the process exit code.</summary>
public static class Commands
{
    /// <summary>What <c>stent help</c> prints.</summary>
    public const string Usage = """
        usage: stent [--db FILE | --postgres CONNECTION [--schema NAME]] COMMAND
          list [--state STATE] [--workflow NAME] [--limit N]   executions, newest first
          show ID [--steps N] [--failed]                       state, what it waits for, steps by name, failures,
                                                               and a timeline in position order (first N, default 20)
          export ID [--out FILE]                               its history as JSON lines (for a replayer)
          watch ID [--interval SECONDS]                        progress until the execution ends
          cancel ID                                            stop it (Finally cleanups still run)
          resume ID                                            resume a failed, cancelled or timed-out execution
          signal ID NAME [JSON]                                send a signal (payload as JSON, default null)
          dlq list [--limit N] | dlq show ID | dlq replay ID | dlq discard ID
          schedules [list] | schedules pause NAME | schedules resume NAME | schedules delete NAME
          stats                                                executions by state
          cleanup --older-than DURATION                        delete executions that ended that long ago (e.g. 30d)
          migrate                                              make or upgrade the store's tables now (a deployment
                                                               step; otherwise each process checks them on first use)
        The store defaults to stent.db in this folder; STENT_DB or STENT_POSTGRES set it too. On PostgreSQL the
        tables are in the schema named by --schema or STENT_SCHEMA, default stent.
        """;

    /// <summary>Runs <paramref name="args"/>: 0 on success, 1 when the operation failed, 2 for a bad command
    /// line.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter errors, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        var rest = new List<string>(args);
        string? Option(string name)
        {
            var i = rest.IndexOf(name);
            if (i < 0) return null;
            if (i + 1 >= rest.Count) throw new UsageException($"{name} needs a value.");
            var value = rest[i + 1];
            rest.RemoveRange(i, 2);
            return value;
        }

        RelationalWorkStore? store = null;
        string? target = null;
        try
        {
            var postgres = Option("--postgres") ?? Environment.GetEnvironmentVariable("STENT_POSTGRES");
            var db = Option("--db") ?? Environment.GetEnvironmentVariable("STENT_DB") ?? "stent.db";
            var schema = Option("--schema") ?? Environment.GetEnvironmentVariable("STENT_SCHEMA") ?? "stent";
            target = postgres is null ? $"SQLite database '{Path.GetFullPath(db)}'"
                : $"PostgreSQL {Server(postgres, schema)}";
            if (rest.Count == 0 || rest[0] is "help" or "--help" or "-h")
            {
                await output.WriteLineAsync(Usage);
                return rest.Count == 0 ? 2 : 0;
            }
            if (postgres is null && rest[0] != "migrate" && !File.Exists(db)) throw new UsageException($"No database " +
                $"'{Path.GetFullPath(db)}' (use --db FILE or --postgres CONNECTION).", showUsage: false);
            store = postgres is null ? new SqliteWorkStore(db) : new PostgresWorkStore(postgres, schema);
            var client = new StentClient(store);
            var view = new View(output);
            string Arg(int i, string what) => rest.Count > i ? rest[i] : throw new
                UsageException($"'{string.Join(' ', rest.Take(i))}' needs {what}.");
            int Count(string? text, string name, int fallback) =>
                text is null ? fallback : int.TryParse(text, CultureInfo.InvariantCulture, out var n) && n > 0 ? n :
                    throw new UsageException($"{name} must be a positive number, got '{text}'.");

            switch (rest[0])
            {
                case "list":
                    var state = Option("--state") is { } s
                        ? Enum.TryParse<ExecutionState>(s, ignoreCase: true, out var parsed) ? parsed : throw new UsageException($"Unknown state '{s}': one of {string.Join(", ", Enum.GetNames<ExecutionState>())}.")
                        : (ExecutionState?)null;
                    var listed = await client.ListAsync(new ExecutionFilter(state, Option("--workflow"),
                        Count(Option("--limit"), "--limit", 20)), ct);
                    var notes = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var e in listed)
                        if (await client.UnservedAsync(e, ct) is { } unserved) notes[e.Id] = unserved;
                    view.Executions(listed, notes);
                    return 0;
                case "show":
                    var failedOnly = rest.Remove("--failed");
                    var shown = Count(Option("--steps"), "--steps", 20);
                    view.Execution(await client.GetAsync(Arg(1, "an execution id"), ct), shown, failedOnly);
                    return 0;
                case "export":
                    var file = Option("--out");
                    var exported = Arg(1, "an execution id");
                    if (await store.GetExecutionAsync(exported, ct) is null)
                        throw new KeyNotFoundException($"No execution '{exported}'.");
                    var history = await store.ReadAsync(exported, ct);
                    if (file is null) await Replay.HistoryFile.WriteAsync(output, history, ct);
                    else
                    {
                        await using (var writer = new StreamWriter(file))
                            await Replay.HistoryFile.WriteAsync(writer, history, ct);
                        await errors.WriteLineAsync($"wrote {history.Count} events of {exported} to {file}");
                    }
                    return 0;
                case "watch":
                    var interval = TimeSpan.FromSeconds(Count(Option("--interval"), "--interval", 1));
                    var id = Arg(1, "an execution id");
                    while (true)
                    {
                        var d = await client.GetAsync(id, ct);
                        view.Progress(d);
                        if (d.Info.State.HasEnded()) return 0;
                        await Task.Delay(interval, ct);
                    }
                case "cancel":
                    if (!await client.CancelAsync(Arg(1, "an execution id"), ct))
                        return await TooLateAsync(client, rest[1], "nothing to cancel", errors, ct);
                    await output.WriteLineAsync("cancellation requested");
                    return 0;
                case "resume":
                    await output.WriteLineAsync($"resumed by {await client.ResumeAsync(Arg(1, "an execution id"), ct)}");
                    return 0;
                case "signal":
                    var (receiver, signal) = (Arg(1, "an execution id"), Arg(2, "a signal name"));
                    var waits = (await client.GetAsync(receiver, ct)).Info.Awaiting;
                    if (!await client.SignalJsonAsync(receiver, signal, rest.Count > 3 ? rest[3] : "null", ct))
                        return await TooLateAsync(client, receiver, "signal not delivered", errors, ct);
                    await output.WriteLineAsync("signal sent");
                    // A name the execution does not wait for now may be misspelled: say what it waits for.
                    if (waits.Count > 0 && waits.All(w => w.Name != signal))
                        await errors.WriteLineAsync($"note: it waits for {string.Join(", ", waits.Select(w =>
                            $"'{w.Name}' ({w.Type})"))} now; '{signal}' is kept until a wait for it takes it.");
                    return 0;
                case "stats":
                    foreach (var st in Enum.GetValues<ExecutionState>())
                        await output.WriteLineAsync($"{st,-10} {(await client.ListAsync(new ExecutionFilter(st, Limit: int.MaxValue), ct)).Count}");
                    return 0;
                case "cleanup":
                    var age = Option("--older-than") ?? throw new
                        UsageException("cleanup needs --older-than DURATION (e.g. 30d).");
                    var olderThan = Duration.TryParse(age, out var parsedAge) ? parsedAge : throw new
                        UsageException($"Invalid duration '{age}' (e.g. 12h, 30d).");
                    await
                        output.WriteLineAsync($"deleted {await client.CleanupAsync(olderThan, ct)} ended execution(s)");
                    return 0;
                case "migrate":
                    await store.MigrateAsync(ct);
                    await output.WriteLineAsync($"the tables of {target} are made and up to date");
                    return 0;
                case "schedules":
                    return await SchedulesAsync(client, view, rest.Count > 1 ? rest[1] : "list",
                        () => Arg(2, "a schedule name"), output, ct);
                case "dlq":
                    return await DeadLettersAsync(client, view, Arg(1, "list, show, replay or discard"), rest, Option,
                        output, ct);
                default:
                    throw new UsageException($"Unknown command '{rest[0]}'.");
            }
        }
        catch (UsageException e)
        {
            await errors.WriteLineAsync(e.ShowUsage ? $"{e.Message}\n{Usage}" : e.Message);
            return 2;
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or JsonException
            or Serialization.PayloadException or IOException or UnauthorizedAccessException)
        {
            await errors.WriteLineAsync(e.Message);
            return 1;
        }
        catch (Exception e) when (e is not OperationCanceledException && target is not null)
        {
            // The store could not be opened or reached: one line naming it, no stack trace.
            await errors.WriteLineAsync($"Cannot use the {target}: {e.GetBaseException().Message}");
            return 1;
        }
        finally
        {
            (store as IDisposable)?.Dispose();
        }
    }

    private static async Task<int> DeadLettersAsync(
        StentClient client, View view, string action, List<string> rest, Func<string, string?> option, TextWriter
            output, CancellationToken ct)
    {
        long Id() => rest.Count > 2 && long.TryParse(rest[2], CultureInfo.InvariantCulture, out var id) ? id : throw new
            UsageException($"'dlq {action}' needs a dead letter id (a number).");
        switch (action)
        {
            case "list":
                var limit = option("--limit") is { } l ? int.TryParse(l, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new UsageException($"--limit must be a positive number, got '{l}'.") : 50;
                view.DeadLetters(await client.ListDeadLettersAsync(limit, ct));
                return 0;
            case "show":
                view.DeadLetter(await client.GetDeadLetterAsync(Id(), ct));
                return 0;
            case "replay":
                await output.WriteLineAsync($"replayed: execution {await client.ReplayDeadLetterAsync(Id(), ct)} runs it again");
                return 0;
            case "discard":
                await client.DiscardDeadLetterAsync(Id(), ct);
                await output.WriteLineAsync("discarded");
                return 0;
            default:
                throw new UsageException($"Unknown dlq action '{action}': list, show, replay or discard.");
        }
    }

    private static async Task<int> SchedulesAsync(StentClient client, View view, string action, Func<string> name,
        TextWriter output, CancellationToken ct)
    {
        switch (action)
        {
            case "list":
                view.Schedules(await client.ListSchedulesAsync(ct));
                return 0;
            case "pause":
                var paused = await client.PauseScheduleAsync(name(), ct);
                await output.WriteLineAsync($"schedule {paused.Name} paused");
                return 0;
            case "resume":
                var resumed = await client.ResumeScheduleAsync(name(), ct);
                await output.WriteLineAsync(
                    $"schedule {resumed.Name} resumed; next tick {View.Time(resumed.NextTick)}");
                return 0;
            case "delete":
                var schedule = name();
                if (!await client.DeleteScheduleAsync(schedule, ct)) throw new KeyNotFoundException(
                    $"No schedule '{schedule}'.");
                await output.WriteLineAsync($"schedule {schedule} deleted (its executions stay)");
                return 0;
            default:
                throw new UsageException($"Unknown schedules action '{action}': list, pause, resume or delete.");
        }
    }

    /// <summary>Where a PostgreSQL connection string and schema point, for messages (never the password).</summary>
    private static string Server(string connection, string schema)
    {
        try
        {
            var b = new Npgsql.NpgsqlConnectionStringBuilder(connection);
            return $"at {b.Host}:{b.Port} (database {b.Database ?? "default"}, schema {schema})";
        }
        catch (ArgumentException)
        {
            return "connection string (it does not parse)";
        }
    }

    /// <summary>A request that came after the execution finished: said on the error stream, exit code 1.</summary>
    private static async Task<int> TooLateAsync(StentClient client, string id, string what, TextWriter errors,
        CancellationToken ct)
    {
        var state = (await client.GetAsync(id, ct)).Info.State;
        await errors.WriteLineAsync($"Execution '{id}' has already finished ({state}): {what}.");
        return 1;
    }

    /// <summary>A bad command line (exit 2): its message, then the usage unless it is about a missing file.</summary>
    private sealed class UsageException(string message, bool showUsage = true) : Exception(message)
    {
        public bool ShowUsage { get; } = showUsage;
    }
}
