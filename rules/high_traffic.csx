// The built-in rule as a script: `logalert log.csv` (no --rules) runs exactly this (docs/semantics.md §9).
// Fires when the request rate over the last 2 minutes goes above 10 req/s, resolves when it drops below.
Alert("high_traffic")
    .When(q => q.Rate("requests", TimeSpan.FromMinutes(2)))
    .Monotonic() // more requests never lower a rate (logalert check --properties verifies it)
    .Above(10)
    .Message("High traffic generated an alert - hits = {value}, triggered at {time}")
    .RecoveryMessage("Recovered from high traffic - hits = {value}, recovered at {time}");
