/// Generated access-log streams: valid records straight from the generator, in an arrival order
/// whose disorder is bounded, with duplicates, gaps and threshold ties in the mix.
module LogAlert.Core.Tests.Generators

open FsCheck
open FsCheck.FSharp
open LogAlert.Core

let lateness = 5L
let baseTime = 1_549_573_860L

let record time host section status bytes line =
    match Record.create time host "-" ("GET " + section + "/x HTTP/1.0") status bytes 0 line with
    | Ok r -> r
    | Error e -> failwithf "generator made an invalid record: %s" (RecordError.describe e)

/// A stream: the records in arrival order, and the same records sorted by time (stable).
type Stream =
    { Arrival: Record list
      Sorted: Record list }

    override this.ToString() =
        this.Arrival |> List.map (fun r -> sprintf "%d:%s:%s:%d" (r.Time - baseTime) r.Host r.Section r.Status) |> String.concat " "

let private timeSteps =
    Gen.frequency
        [ 5, Gen.constant 0L // several records in one second (ties, duplicates)
          6, Gen.constant 1L
          3, Gen.choose (2, 6) |> Gen.map int64
          1, Gen.choose (7, 40) |> Gen.map int64 // gaps longer than the windows
          1, Gen.constant 3_000L ] // a long gap

let private recordAt time line =
    gen {
        let! host = Gen.elements [ "10.0.0.1"; "10.0.0.2"; "10.0.0.3" ]
        let! section = Gen.elements [ "/api"; "/report"; "/help" ]
        let! status = Gen.frequency [ 6, Gen.constant 200; 2, Gen.constant 404; 2, Gen.constant 500 ]
        let! bytes = Gen.choose (0, 2000)
        // The fields only some formats log: durations in whole microseconds (0: not logged), and
        // texts (id 0: `-`, not logged).
        let! requestMicros = Gen.frequency [ 1, Gen.constant 0; 4, Gen.choose (1, 3_000_000) ]
        let! upstreamMicros = Gen.frequency [ 2, Gen.constant 0; 3, Gen.choose (1, 2_000_000) ]
        let! vhost = Gen.elements [ "-"; "a.example"; "b.example" ]
        let! referer = Gen.elements [ "-"; "https://a.example/"; "https://search.example/?q=x" ]
        let! agent = Gen.elements [ "-"; "curl/8.5.0"; "Mozilla/5.0 (X11; Linux x86_64)" ]
        return
            (record time host section status (int64 bytes) line)
                .WithExtras(int64 requestMicros, int64 upstreamMicros, Symbols.VirtualHosts.Intern vhost,
                            Symbols.Referers.Intern referer, Symbols.UserAgents.Intern agent)
    }

/// Steps for windows minutes wide: bursts, short gaps, gaps longer than 64 s that stay inside
/// the windows, and gaps longer than all of them.
let wideTimeSteps =
    Gen.frequency
        [ 4, Gen.constant 0L
          5, Gen.constant 1L
          3, Gen.choose (2, 6) |> Gen.map int64
          3, Gen.choose (65, 250) |> Gen.map int64
          1, Gen.constant 1_000L ]

/// Sorted times `steps` apart, then an arrival order by `time + jitter` with jitter in
/// [0, maxJitter]: when a record arrives, no record more than `maxJitter` seconds newer has arrived
/// before it.
let streamOf (steps: Gen<int64>) (maxJitter: int) =
    gen {
        let! n = Gen.sized (fun size -> Gen.choose (0, 10 + 3 * size))
        let! steps = Gen.listOfLength n steps
        let times = steps |> List.scan (+) baseTime |> List.tail
        let! records = times |> List.mapi (fun i t -> recordAt t (int64 i + 2L)) |> Gen.sequenceToList
        let! jitters = Gen.listOfLength n (Gen.choose (0, maxJitter))
        let arrival =
            List.zip records jitters
            |> List.mapi (fun i (r: Record, j) -> (r.Time + int64 j, i), r)
            |> List.sortBy fst
            |> List.map snd
        return { Arrival = arrival; Sorted = records }
    }

/// `streamOf` with the usual steps: seconds apart, and gaps longer than windows seconds wide.
let streamWith (maxJitter: int) = streamOf timeSteps maxJitter

/// Splits a list at random points.
let chunks (items: 'a list) =
    gen {
        let! cuts = Gen.listOfLength items.Length (Gen.frequency [ 4, Gen.constant false; 1, Gen.constant true ])
        let folded =
            List.zip items cuts
            |> List.fold (fun acc (x, cut) ->
                match acc with
                | current :: rest when not cut -> (x :: current) :: rest
                | _ -> [ x ] :: acc) []
        return folded |> List.map List.rev |> List.rev
    }

/// Streams whose disorder is at most the lateness.
type BoundedDisorder = BoundedDisorder of Stream

/// Streams with any disorder, late records included.
type AnyDisorder = AnyDisorder of Stream

type Arbitraries =
    static member BoundedDisorder() =
        streamWith (int lateness) |> Gen.map BoundedDisorder |> Arb.fromGen
    static member AnyDisorder() =
        streamWith 30 |> Gen.map AnyDisorder |> Arb.fromGen
