// Server errors: more than 0.5 responses with a 5xx status per second over the last minute, for
// 30 seconds in a row. Resolves once the rate is below 0.2 (hysteresis, so a rate hovering around
// 0.5 does not flap).
Alert("server_errors")
    .When(q => q.Rate("requests", TimeSpan.FromMinutes(1), "status_class=\"5xx\""))
    .Monotonic() // more requests never lower a rate (logalert check --properties verifies it)
    .Above(0.5)
    .RecoverBelow(0.2)
    .For(TimeSpan.FromSeconds(30))
    .Message("Server errors at {value} req/s (5xx over 1m), triggered at {time}")
    .RecoveryMessage("Server errors down to {value} req/s, recovered at {time} (firing since {since})");
