/// Log time and bytes have bounds (`Bounds`): every int64 is either a valid value or a bad line, and
/// no valid value, however extreme or disordered, makes the fold hang or overflow.
module LogAlert.Core.Tests.BoundsProperties

open System
open Xunit
open Xunit.Abstractions
open FsCheck
open FsCheck.FSharp
open LogAlert.Core
open LogAlert.Core.Tests.Properties

/// Any int64, the edges of log time and their neighbours more often than chance would pick them.
let private anyInt64 =
    Gen.frequency
        [ 3, Gen.map2 (fun (hi: int) (lo: int) -> (int64 hi <<< 32) ||| int64 (uint32 lo)) (Gen.choose (Int32.MinValue, Int32.MaxValue)) (Gen.choose (Int32.MinValue, Int32.MaxValue))
          1, Gen.elements [ Int64.MinValue; -1L; 0L; Bounds.MaxTime; Bounds.MaxTime + 1L; Int64.MaxValue; Int64.MaxValue - 3600L ]
          1, Gen.choose (-100, 100) |> Gen.map (fun d -> Bounds.MaxTime + int64 d) ]

/// Valid timestamps crowded at both ends of log time and anywhere between.
let private anyLogTime =
    Gen.frequency
        [ 2, Gen.choose (0, 30) |> Gen.map (fun d -> Bounds.MinTime + int64 d)
          2, Gen.choose (0, 30) |> Gen.map (fun d -> Bounds.MaxTime - int64 d)
          1, anyInt64 |> Gen.map (fun t -> (t &&& Int64.MaxValue) % (Bounds.MaxTime + 1L)) ]

type ``Log time and bytes``(output: ITestOutputHelper) =

    [<Fact; Trait("Category", "property")>]
    member _.``make a record exactly when they are within their bounds, and a reason when not``() =
        check output (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip anyInt64 anyInt64)) (fun (time, bytes) ->
                let valid = time >= 0L && time <= Bounds.MaxTime && bytes >= 0L && bytes <= Bounds.MaxBytes
                match Record.create time "10.0.0.1" "-" "GET / HTTP/1.0" 200 bytes 0 1L with
                | Ok r -> valid && r.Time = time && r.Bytes = bytes
                | Error(BadTime t) -> not valid && t = time && (RecordError.describe (BadTime t)).Contains(string time)
                | Error(BadBytes b) -> not valid && b = bytes && Bounds.isValidTime time
                | Error _ -> false))

    [<Fact; Trait("Category", "property")>]
    member _.``fold records anywhere in log time, in any order, to a report in bounded work``() =
        check output (fun () ->
            Prop.forAll (Arb.fromGen (Gen.listOf anyLogTime)) (fun times ->
                let records =
                    times |> List.mapi (fun i t -> Generators.record t (sprintf "10.0.0.%d" (i % 4)) "/api" 200 Bounds.MaxBytes (int64 i + 2L))
                let config = { config (ruleSpecs 2 2L) with MaxSkew = Bounds.MaxDuration }
                let state, events =
                    [ Input.ofSeq records; EndOfInput ]
                    |> List.fold (fun (st, acc) i -> let st', e = Engine.step i st in st', acc @ e) (Engine.init config, [])
                let finished = events |> List.tryPick (function Finished r -> Some r | _ -> None)
                // A record costs at most its windows, the lateness, For and a summary interval of
                // seconds; a jump between the ends of log time costs no more.
                let bound = int64 (List.length times) * (6L + Generators.lateness + 3L + 10L + 2L) + 2L
                (finished.IsSome && state.EvaluatedSeconds <= bound)
                |> Prop.classify (times |> List.exists (fun t -> t > Bounds.MaxTime - 100L) && times |> List.exists (fun t -> t < 100L)) "both ends of log time"))

    [<Fact; Trait("Category", "property")>]
    member _.``sum to what Int128 sums to, added and taken away in any order``() =
        let byteCounts = Gen.frequency [ 3, Gen.choose (0, Int32.MaxValue) |> Gen.map int64; 1, Gen.constant Bounds.MaxBytes; 1, Gen.constant Int64.MaxValue ]
        check output (fun () ->
            Prop.forAll (Arb.fromGen (Gen.listOf (Gen.zip (Gen.elements [ 1; -1 ]) byteCounts))) (fun steps ->
                let mutable sum = ByteSum.Zero
                let mutable expected = Int128.Zero
                for sign, bytes in steps do
                    sum <- if sign > 0 then sum + ByteSum.Of bytes else sum - ByteSum.Of bytes
                    expected <- if sign > 0 then expected + Int128.op_Implicit bytes else expected - Int128.op_Implicit bytes
                sum.ToInt128() = expected && sum.IsZero = (expected = Int128.Zero) && (-sum).ToInt128() = -expected))
