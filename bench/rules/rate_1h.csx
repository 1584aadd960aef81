// Window cost, long window: the same rule as rate_2m.csx over 1 hour. A window 30 times longer
// should cost about the same time and memory (target: at most 1.2 times the 2-minute window).
Alert("rate").When(q => q.Rate("requests", TimeSpan.FromHours(1))).Above(1e9);
