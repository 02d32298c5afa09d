/// PostgreSQL histories as Marten event streams, read and appended with plain commands: still Marten's own streams.
module MartenStreamsTests

open System
open Expecto
open Npgsql
open Stent
open Stent.Replay
open Stent.Storage
open Support

/// Events as text, batches opened (a batch's record prints its list, not what the list holds).
let private facts (events: HistoryEvent seq) = [ for e in HistoryEvent.Flatten events -> string e ]

let private history : HistoryEvent list =
    [ EventBatch [ StepScheduled("0.0/0", "f", "1"); StepScheduled("0.1/0", "f", "2") ]
      DecisionCompleted 1
      EventBatch [ StepCompleted("0.0/0", "2", null, 1); TimerStarted("1", DateTimeOffset(2026, 1, 1, 0, 0, 1,
                   TimeSpan.Zero), TimerPurpose.Sleep); DecisionCompleted 2 ] ]

/// Events of every kind with every sort of member (nested records, enums, errors, times, nulls, escapes).
let private kinds : HistoryEvent list =
    let at = DateTimeOffset(2026, 1, 1, 0, 0, 1, TimeSpan.Zero)
    let failure = Failure.FromException(TimeoutException "slow \"quoted\" é", "f", "0.1/0")
    history @
    [ ExecutionStarted("wf", 1, "[1,2]", at, ParentId = "p")
      StepAttemptFailed("0.1/0", 1, failure, at)
      StepFailed("0.0/0", failure, 3)
      ValueRecorded("2", "guid", "\"6f1c\"")
      ProgressReported("3", ProgressReport("chunk 1/2", 5L, 10L))
      TimerFired "1"
      SignalReceived("go", "{\"a\":null}", 1L)
      LogRecorded("4", Microsoft.Extensions.Logging.LogLevel.Warning, "at {X}", [| "1"; null |])
      ChildEnded("5", null, BusinessError "no")
      ExecutionFailed(BusinessError "nothing succeeded")
      ExecutionCompleted "42" ]

/// A store on a schema of its own, with an execution "a" claimed for its first decision.
let private claimed () =
    let schema = "m_" + Guid.NewGuid().ToString("N").Substring(0, 12)
    let store = new Stent.Marten.PostgresWorkStore(pg, schema)
    store.CreateExecutionAsync(NewExecution("a", "wf", 1, "[1]", null, TimeSpan.Zero, Nullable(), null, [], 0)).Wait()
    schema, store, store.ClaimAsync(ClaimRequest("w", 1, 0, TimeSpan.FromMinutes 1.0)).Result.Decisions[0]

/// An open connection to the tests' server.
let private connect () =
    let c = new NpgsqlConnection(pg)
    c.Open()
    c

/// Runs one statement on connection c and returns its first value.
let private scalarOn (c: NpgsqlConnection) (sql: string) =
    use cmd = new NpgsqlCommand(sql, c)
    cmd.ExecuteScalar()

let tests =
    testSequenced <| testList "MartenStreams" [
        test "every event type is recorded under Marten's names, and its JSON is what Marten's serializer writes" {
            use source = NpgsqlDataSource.Create "Host=unused"
            use marten = Stent.Marten.MartenSetup.CreateStore(source, "unused")
            for t in Stent.Marten.MartenSetup.EventTypes do
                let mapping = marten.Events.EventMappingFor t
                Expect.equal (Stent.Marten.MartenSetup.EventTypeName t) mapping.EventTypeName $"{t.Name}'s name"
                Expect.equal (Stent.Marten.MartenSetup.DotNetTypeName t) mapping.DotNetTypeName $"{t.Name}'s type"
            let json = Stent.Marten.MartenSetup.JsonOptions()
            for e in kinds do
                Expect.equal (Text.Json.JsonSerializer.Serialize(e, e.GetType(), json)) (marten.Serializer.ToJson e)
                    $"{e.GetType().Name}'s JSON"
        }
        test "a history the store appends is a Marten stream: Marten's own session reads the same events" {
            if String.IsNullOrEmpty pg then skiptest "STENT_PG is not set: run the tests with scripts/test.sh"
            let schema, store, d = claimed ()
            use _ = store
            let commit = DecisionCommit("a", d.LeaseToken, 1L, history, ExecutionState.Running)
            let r = store.CommitDecisionAsync(commit).Result
            Expect.isTrue r.Accepted "appended"
            use source = NpgsqlDataSource.Create(pg)
            use marten = Stent.Marten.MartenSetup.CreateStore(source, schema)
            use session = marten.QuerySession()
            let stream = session.Events.FetchStreamAsync("a").Result
            Expect.equal [ for e in stream -> e.Version ] [ 1L .. 4L ] "one version per stored event"
            Expect.equal (facts [ for e in stream -> e.Data :?> HistoryEvent ]) (facts (store.ReadAsync("a").Result))
                "Marten reads what the store reads"
            Expect.equal (facts (List.tail [ for e in stream -> e.Data :?> HistoryEvent ])) (facts history)
                "the events appended"
        }
        test "a decision appending to a stream whose row is gone fails, and records nothing" {
            if String.IsNullOrEmpty pg then skiptest "STENT_PG is not set: run the tests with scripts/test.sh"
            let schema, store, d = claimed ()
            use _ = store
            use c = connect ()
            let scalar = scalarOn c
            scalar $"DELETE FROM {schema}.mt_streams WHERE id = 'a'" |> ignore
            let commit = DecisionCommit("a", d.LeaseToken, 1L, history, ExecutionState.Running)
            Expect.throws (fun () -> store.CommitDecisionAsync(commit).Result |> ignore) "the commit fails"
            Expect.equal (scalar $"SELECT stream_version FROM {schema}.stent_executions WHERE id = 'a'") (box 1L)
                "the execution's row is as it was"
            Expect.equal (scalar $"SELECT count(*) FROM {schema}.mt_events") (box 0L) "no event"
        }
        test "a decision on a stream moved on outside the store fails, small or large, and records nothing" {
            if String.IsNullOrEmpty pg then skiptest "STENT_PG is not set: run the tests with scripts/test.sh"
            let schema, store, d = claimed ()
            use _ = store
            use c = connect ()
            let scalar = scalarOn c
            scalar $"UPDATE {schema}.mt_streams SET version = 7 WHERE id = 'a'" |> ignore
            let many : HistoryEvent list = [ for i in 0 .. 299 -> StepScheduled($"{i}", "f", $"{i}") ]
            for events, what in [ history, "one statement's worth"; many, "more than one statement carries" ] do
                let commit = DecisionCommit("a", d.LeaseToken, 1L, events, ExecutionState.Running)
                Expect.throws (fun () -> store.CommitDecisionAsync(commit).Result |> ignore) $"{what}: the commit fails"
                Expect.equal (scalar $"SELECT count(*) FROM {schema}.mt_events") (box 1L) $"{what}: no event"
                Expect.equal (scalar $"SELECT version FROM {schema}.mt_streams WHERE id = 'a'") (box 7L)
                    $"{what}: the stream's row is as it was"
        }
        test "a stream Marten's session appended (as earlier versions did) reads back through the store" {
            if String.IsNullOrEmpty pg then skiptest "STENT_PG is not set: run the tests with scripts/test.sh"
            let schema, store, _ = claimed ()
            use _ = store
            use source = NpgsqlDataSource.Create(pg)
            use marten = Stent.Marten.MartenSetup.CreateStore(source, schema)
            use session = marten.LightweightSession()
            session.Events.Append("a", 4L, [| for e in history -> box e |]) |> ignore
            session.SaveChangesAsync().Wait()
            let all = store.ReadAfterAsync("a", 0L).Result
            Expect.equal (facts (List.tail (List.ofSeq all))) (facts history) "the events Marten appended"
            let tail = store.ReadAfterAsync("a", 2L).Result
            Expect.equal (facts tail) (facts (List.skip 1 history)) "read from a version"
        }
    ]
