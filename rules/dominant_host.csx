// One client taking most of the traffic (a crawler, a retry storm, a broken client): the busiest
// host's share of all requests over the last 2 minutes, in percent, while traffic is non-trivial
// (at least 1 req/s on average). One alert per host: when another host takes the top place, the
// previous one reads as 0 and resolves.
Alert("dominant_host")
    .WhenEach(q =>
    {
        var window = TimeSpan.FromMinutes(2);
        // Ask every query on every call, even when the answer will not be used: what a rule asks
        // for at load time is what `logalert check` lists and how much history the engine keeps.
        var total = q.Sum("requests", window);
        var top = q.TopK(1, "requests", window, "host");
        if (total < 120) return top.Where((host, hits) => false);
        return top / total * 100;
    })
    .Above(50)
    .RecoverBelow(40)
    .For(TimeSpan.FromSeconds(10))
    .Message("Host {host} sends {value}% of all requests over 2m, triggered at {time}")
    .RecoveryMessage("Host {host} down to {value}% of requests, recovered at {time}");
