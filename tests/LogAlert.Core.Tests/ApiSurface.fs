/// The core's public surface, checked against a committed baseline (as G-Research's ApiSurface does),
/// so that it changes only on purpose: a change fails here with the lines added and removed, and
/// `LOGALERT_UPDATE_API=1 ./build.sh test` rewrites `PublicApi.txt` for the commit that means it.
module LogAlert.Core.Tests.ApiSurface

open System
open System.IO
open System.Reflection
open Xunit
open LogAlert.Core

let private baseline = Path.Combine(__SOURCE_DIRECTORY__, "PublicApi.txt")

let private typeKind (t: Type) =
    if t.IsInterface then "interface"
    elif t.IsEnum then "enum"
    elif t.IsValueType then "struct"
    elif t.IsAbstract && t.IsSealed then "static class"
    elif t.IsAbstract then "abstract class"
    else "class"

/// One line per public type and per public member it declares, sorted: what a caller can reach.
let surface (assembly: Assembly) =
    let flags = BindingFlags.Public ||| BindingFlags.Instance ||| BindingFlags.Static ||| BindingFlags.DeclaredOnly
    [ for t in assembly.GetExportedTypes() do
          let name = t.FullName |> nonNull
          let baseName =
              match t.BaseType with
              | null -> ""
              | b when b = typeof<obj> || b = typeof<ValueType> -> ""
              | b -> " : " + string b
          yield $"{name}: {typeKind t}{baseName}"
          for m in t.GetMembers flags do
              // Nested types are listed as types of their own.
              if m.MemberType <> MemberTypes.NestedType then
                  yield $"{name}: {m.MemberType} {m}" ]
    |> List.sort

[<Fact>]
let ``the core's public surface is the committed baseline`` () =
    let actual = surface typeof<Record>.Assembly
    if Environment.GetEnvironmentVariable "LOGALERT_UPDATE_API" = "1" then
        File.WriteAllLines(baseline, actual)
    let expected = if File.Exists baseline then File.ReadAllLines baseline |> List.ofArray else []
    let added = actual |> List.except expected
    let removed = expected |> List.except actual
    if not (added.IsEmpty && removed.IsEmpty) then
        let show prefix lines = lines |> List.map (fun l -> prefix + l) |> String.concat "\n"
        failwith (
            $"The public surface of LogAlert.Core changed ({added.Length} added, {removed.Length} removed).\n"
            + "If that is meant, run LOGALERT_UPDATE_API=1 ./build.sh test and commit PublicApi.txt.\n"
            + show "+ " added + "\n" + show "- " removed)

[<Fact>]
let ``internals stay out of the surface`` () =
    let names = surface typeof<Record>.Assembly |> List.map (fun l -> l.Split(':')[0]) |> set
    for hidden in [ "Symbols"; "IdSet"; "Table`1"; "TableReader`1"; "Store"; "Bucket"; "Window"; "TopCache"; "SecondTally" ] do
        Assert.DoesNotContain($"LogAlert.Core.{hidden}", names)
