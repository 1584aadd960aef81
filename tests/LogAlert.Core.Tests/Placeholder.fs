module Placeholder
open Xunit
[<Fact>]
let ``one plus one is two`` () = Assert.Equal(2, 1 + 1)
