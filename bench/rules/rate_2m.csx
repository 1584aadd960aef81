// Window cost, short window: the request rate over 2 minutes, with a threshold never reached, so
// the rule costs what its window costs and prints nothing. Compare with rate_1h.csx.
Alert("rate").When(q => q.Rate("requests", TimeSpan.FromMinutes(2))).Above(1e9);
