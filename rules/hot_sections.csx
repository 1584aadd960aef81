// One alert per section: a section taking more than 5 req/s over the last 2 minutes is hot.
// Each event carries its section in `labels`; a section with no traffic reads as 0 and resolves.
Alert("hot_section")
    .WhenEach(q => q.RateBy("requests", TimeSpan.FromMinutes(2), "section"))
    .Monotonic() // more requests never lower a rate (logalert check --properties verifies it)
    .Above(5)
    .RecoverBelow(4)
    .Message("Section {section} is hot - {value} req/s over 2m, triggered at {time}")
    .RecoveryMessage("Section {section} cooled down - {value} req/s, recovered at {time}");
