/// JSON for F# types (records, unions, options, lists) in Stent payloads.
namespace Stent.Dsl

open System.Text.Json.Serialization
open Stent.Serialization

/// Serialization of F# types.
[<RequireQualifiedAccess>]
module Json =
    /// Stent's default JSON options plus F# records, unions, options and lists.
    let options () =
        let o = PayloadSerializer.CreateDefaultOptions()
        o.Converters.Add(JsonFSharpConverter())
        o

    /// A payload serializer that round-trips F# types.
    let serializer = PayloadSerializer(options ())

    /// A payload serializer for F# types with another payload limit (UTF-8 bytes).
    let serializerWithLimit (maxPayloadBytes: int) = PayloadSerializer(options (), maxPayloadBytes)
