// Group cost: one alert per client host over 5 minutes. On the bench's log of 1000 new hosts a second
// the window holds 300k groups; the target is at most 3 times the time of the same rule over 60 hosts.
Alert("per_host").WhenEach(q => q.RateBy("requests", TimeSpan.FromMinutes(5), "host")).Above(100);
