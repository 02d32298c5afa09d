/// A logger factory for tests that keeps every record with the scope values around it.
module LoggingCapture

open System
open System.Collections.Concurrent
open System.Collections.Generic
open System.Threading
open Microsoft.Extensions.Logging

/// A record: its level and text, the values of the scopes around it, and those scopes as text (how the console logger
/// prints them), innermost last.
type Captured = { Level: LogLevel; Message: string; Scope: Map<string, string>; ScopeText: string list }

/// A logger factory that keeps every record with the scope values around it.
type CaptureLogs() =
    let records = ConcurrentQueue<Captured>()
    let scopes = AsyncLocal<(Map<string, string> * string) list>()
    member _.Records = List.ofSeq records
    interface ILoggerFactory with
        member _.AddProvider _ = ()
        member _.Dispose() = ()
        member _.CreateLogger _ =
            { new ILogger with
                member _.BeginScope<'S>(state: 'S) : IDisposable =
                    let values =
                        match box state with
                        | :? IEnumerable<KeyValuePair<string, obj>> as kvs -> kvs |> Seq.map (fun kv -> kv.Key, string kv.Value) |> Map.ofSeq
                        | _ -> Map.empty
                    let before = scopes.Value
                    scopes.Value <- (values, string (box state)) :: (if isNull (box before) then [] else before)
                    { new IDisposable with member _.Dispose() = scopes.Value <- before }
                member _.IsEnabled _ = true
                member _.Log<'S>(level, _, state: 'S, error, formatter) =
                    let all = (if isNull (box scopes.Value) then [] else scopes.Value) |> List.rev
                    let merge acc m = Map.fold (fun a k v -> Map.add k v a) acc m
                    let scope = all |> List.map fst |> List.fold merge Map.empty
                    records.Enqueue { Level = level; Message = formatter.Invoke(state, error); Scope = scope
                                      ScopeText = List.map snd all } }

