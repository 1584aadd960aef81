/// Giving label value ids back (`Symbols.Retain`, `Engine.reclaimIds`): a run that sees millions of
/// hosts keeps only those its state holds, and reclaiming never changes what the engine emits.
module LogAlert.Core.Tests.ReclaimTests

open System
open Xunit
open Xunit.Abstractions
open FsCheck
open FsCheck.FSharp
open LogAlert.Core
open LogAlert.Core.Tests.Generators
open LogAlert.Core.Tests.Oracle

/// Reclaiming frees ids of the process-wide tables that other tests' records hold: these tests run
/// alone, after every test that runs in parallel (xunit runs such a collection last, in sequence).
[<CollectionDefinition("process-wide symbols", DisableParallelization = true)>]
type ProcessWideSymbols() = class end

[<Fact>]
let ``a table keeps the ids it is told to and the pinned ones, and hands the others out again, smallest first`` () =
    let symbols = Symbols()
    let dash = symbols.Pin "-"
    let ids = [| for i in 0..9 -> symbols.Intern(if i % 2 = 0 then sprintf "10.0.0.%d" i else sprintf "host-%d" i) |]
    let names = ids |> Array.map symbols.Name

    let given = symbols.Retain(fun id -> id = ids[3] || id = ids[4])

    Assert.Equal(8, given)
    Assert.Equal(3, symbols.Count)
    // Kept texts keep their ids and names, and are still found by their text (IPv4 and other).
    Assert.Equal((ids[3], ids[4], dash), (symbols.Intern names[3], symbols.Intern names[4], symbols.Intern "-"))
    Assert.Equal<string>([ names[3]; names[4]; "-" ], [ symbols.Name ids[3]; symbols.Name ids[4]; symbols.Name dash ])
    // New texts take the ids given back, the smallest first; the largest ids are gone for good.
    let fresh = [| for i in 0..2 -> symbols.Intern(sprintf "new-%d" i) |]
    Assert.Equal<int>([| ids[0]; ids[1]; ids[2] |], fresh)
    Assert.Equal("new-1", symbols.Name fresh[1])
    Assert.Equal(ids[4] + 1, symbols.IdLimit)
    Assert.True(symbols.Intern "10.0.0.8" <= ids[4] + 1)

/// One line of generated input, as the reader sees it: texts, not ids.
type RawLine =
    { Time: int64
      Host: string
      Section: string
      Status: int
      Bytes: int64
      Line: int64 }

/// Lines with bounded disorder over many hosts and sections, so that ids are given back and taken
/// again between batches, in batches as the reader cuts them.
let private linesAndBatches =
    gen {
        let! n = Gen.choose (0, 300)
        let! steps = Gen.listOfLength n (Gen.frequency [ 4, Gen.constant 0L; 6, Gen.constant 1L; 2, Gen.choose (2, 9) |> Gen.map int64; 1, Gen.constant 40L ])
        let times = steps |> List.scan (+) baseTime |> List.tail
        let! lines =
            times
            |> List.mapi (fun i t ->
                gen {
                    let! host = Gen.choose (0, 40)
                    let! section = Gen.choose (0, 12)
                    let! status = Gen.elements [ 200; 404; 500 ]
                    let! jitter = Gen.choose (0, int lateness)
                    return t + int64 jitter, { Time = t; Host = sprintf "10.9.%d.%d" (host / 7) host; Section = sprintf "/s%d" section
                                               Status = status; Bytes = int64 (host * 10); Line = int64 i + 2L }
                })
            |> Gen.sequenceToList
        let arrival = lines |> List.sortBy fst |> List.map snd
        let! batches = chunks arrival
        return batches
    }

let private specs =
    let sec (n: int) = TimeSpan.FromSeconds(float n)
    [ { Name = "hosts"; Value = PerGroup(fun q -> q.SumBy("requests", sec 4, "host", "section=~\"/s[0-5]\""))
        Above = 1.0; Recover = 1.0; For = 0L }
      { Name = "top"; Value = PerGroup(fun q -> q.TopK(2, "bytes", sec 6, "section")); Above = 100.0; Recover = 50.0; For = 0L }
      { Name = "distinct"; Value = Scalar(fun q -> q.Distinct("host", sec 5, "status!=\"404\"")); Above = 3.0; Recover = 3.0; For = 1L } ]

/// Folds `batches`, making each batch's records (interning their texts) just before it is pushed, as
/// the reader does; with `reclaim`, every id the state does not hold is given back after each batch.
let private fold reclaim (batches: RawLine list list) =
    let config =
        { Lateness = lateness; MaxSkew = 1_000_000_000L; SummaryInterval = 10L; Rules = specs |> List.map toRule
          Retention = 10L; RecordRetention = 0L; Series = []; Unread = [] }
    let mutable state = Engine.init config
    let events = ResizeArray<Event>()
    for batch in batches do
        let records =
            [| for l in batch ->
                   match Record.createWithSection l.Time l.Host "-" "GET" l.Section l.Status l.Bytes 0 l.Line with
                   | Ok r -> r
                   | Error e -> failwith (RecordError.describe e) |]
        let next, emitted = Engine.step (Input.ofSeq records) state
        state <- next
        events.AddRange emitted
        if reclaim then Engine.reclaimIds state |> ignore
    events.AddRange(snd (Engine.step EndOfInput state))
    // Skewed events hold records (ids); compared by what they say, as the shell writes them.
    events
    |> Seq.map (function
        | Skewed(r, newest) -> sprintf "skewed %d line %d newest %d" r.Time r.Line newest
        | e -> sprintf "%A" e)
    |> List.ofSeq

[<Collection("process-wide symbols")>]
type ``Giving ids back``(output: ITestOutputHelper) =

    [<Fact; Trait("Category", "property")>]
    member _.``between batches changes no event, though the ids it gives back are taken again for other texts``() =
        Properties.check output (fun () ->
            Prop.forAll (Arb.fromGen linesAndBatches) (fun batches ->
                let reclaimed = fold true batches
                let kept = fold false batches
                (reclaimed = kept)
                |> Prop.classify (List.length batches > 3) "more than 3 batches"
                |> Prop.classify (batches |> List.concat |> List.map (fun l -> l.Host) |> List.distinct |> List.length > 20) "over 20 hosts"))

    [<Fact>]
    member _.``leaves a table with the ids the state holds, not every id ever seen``() =
        // 200 seconds of 50 new hosts each; the windows are 6 s wide and records are kept 10 s.
        let batches =
            [ for s in 0..199 ->
                  [ for h in 0..49 -> { Time = baseTime + int64 s; Host = sprintf "10.8.%d.%d" s h; Section = "/s1"
                                        Status = 200; Bytes = 1L; Line = int64 (s * 50 + h) } ] ]
        fold true batches |> ignore
        let held = Symbols.Hosts.Count
        Assert.True(held < 50 * 30, sprintf "%d hosts held after 10000 seen" held)
