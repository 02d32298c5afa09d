/// The SQL builder behind the relational store: a large write split into commands loses, reorders and misbinds nothing.
module SqlTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open Microsoft.Data.Sqlite
open Stent.Storage.Relational

/// A statement as the values of its parameters (small numbers and short texts, so values repeat and are shared).
type private Statement = Choice<int64, string> list

let private arbStatements =
    let value =
        Gen.oneof [ Gen.choose (0, 5) |> Gen.map (int64 >> Choice1Of2)
                    Gen.elements [ "a"; "b"; "c" ] |> Gen.map Choice2Of2 ]
    Gen.zip (Gen.listOf (Gen.listOf value |> Gen.map (List.truncate 6))) (Gen.choose (1, 12)) |> Arb.fromGen

let private build (statements: Statement list) =
    let sql = Sql()
    for values in statements do
        let placeholders = values |> List.map (function Choice1Of2 n -> sql.P(Nullable n) | Choice2Of2 s -> sql.P s)
        sql.Append($"SELECT {String.Join(',', placeholders)} AS x;") |> ignore
    sql

/// A command's text with every placeholder replaced by the value it binds, and the names it binds.
let private expand (connection: SqliteConnection) (sql: Sql) =
    use cmd = sql.Command(connection, null)
    let ps =
        [ for p in cmd.Parameters -> p.ParameterName, string p.Value ]
        |> List.sortByDescending (fun (n, _) -> n.Length, n)
    let text = ps |> List.fold (fun (t: string) (n, v) -> t.Replace(n, $"<{v}>")) cmd.CommandText
    text, ps |> List.map fst |> set, cmd.CommandText

let private placeholders (text: string) =
    Text.RegularExpressions.Regex.Matches(text, @"@p\d+") |> Seq.map (fun m -> m.Value) |> set

/// Split into commands of at most `max` parameters, the statements keep their order and their values, each command
/// binds exactly the parameters its text names, and a command exceeds `max` only when one statement binds them all.
let private splitKeepsEverything (statements: Statement list, max: int) =
    use connection = new SqliteConnection("Data Source=:memory:")
    let sql = build statements
    let whole, _, _ = expand connection sql
    let commands = sql.Commands(max) |> List.ofSeq |> List.map (expand connection)
    let joined = commands |> List.map (fun (t, _, _) -> t) |> String.concat ""
    let normal (t: string) = t.Replace(";", "").Replace(" ", "")
    Expect.equal (normal joined) (normal whole) "the same statements, in order, with the same values"
    for text, bound, raw in commands do
        Expect.equal bound (placeholders raw) "a command binds exactly what its text names"
        let binding = raw.Split(';') |> Array.filter (fun s -> not (placeholders s).IsEmpty) |> Array.length
        Expect.isTrue (bound.Count <= max || binding = 1) $"at most {max} parameters unless one statement binds: {text}"

let tests =
    testList "Sql" [
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 300 }
            "a write split into commands keeps every statement, in order, with its values, within the limit" <|
            Prop.forAll arbStatements splitKeepsEverything
        test "statements are counted across appended pieces, blank ones and a trailing blank not" {
            let sql = Sql("SELECT 1; ;")
            sql.Append("UPDATE t SET a = 1").Append(" WHERE b = 2;  \n").Append("DELETE FROM t") |> ignore
            Expect.equal sql.StatementCount 3 "select, update, delete"
            let big = Sql()
            for _ in 1..5000 do big.Append("SELECT 1;") |> ignore
            Expect.equal big.StatementCount 5000 "a text of many chunks"
            Expect.equal (Sql("  ").StatementCount) 0 "none in blank text"
        }
        test "a statement is ended once: no empty statement goes between two, and none before the first" {
            Expect.equal (string (Sql().EndStatement())) "" "nothing to end"
            let sql = Sql("UPDATE t SET a = 1").EndStatement().EndStatement()
            Expect.equal (string sql) "UPDATE t SET a = 1;" "ended once"
            sql.Append("DELETE FROM t;\n  ").EndStatement().Append("SELECT 1") |> ignore
            Expect.equal (string sql) "UPDATE t SET a = 1;DELETE FROM t;\n  SELECT 1" "an ended statement is left as is"
        }
        test "a short value added twice is bound once; a long one each time" {
            let sql = Sql()
            let long = String('x', 100)
            Expect.equal (sql.P "id") (sql.P "id") "the same placeholder"
            Expect.notEqual (sql.P long) (sql.P long) "long texts are not compared"
            Expect.equal sql.ParameterCount 3 "three parameters"
        }
        test "a kept command lets go of its values once it ran; one not kept is disposed" {
            use connection = new SqliteConnection("Data Source=:memory:")
            connection.Open()
            let sql = Sql()
            sql.Append($"SELECT {sql.P(String('x', 10_000))}") |> ignore
            let kept = sql.Command(connection, null)
            Sql.DoneAsync(kept, true).AsTask().Wait()
            Expect.equal kept.Parameters.Count 0 "the kept command holds no value"
            let other = sql.Command(connection, null)
            let mutable disposed = false
            other.Disposed.Add(fun _ -> disposed <- true)
            Sql.DoneAsync(other, false).AsTask().Wait()
            Expect.isTrue disposed "the other command is disposed"
        }
    ]
