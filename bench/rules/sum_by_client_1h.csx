// The yardstick of top_clients_1h.csx: the same window, summed per client.
Alert("by_client").WhenEach(q => q.SumBy("requests", TimeSpan.FromHours(1), "host")).Above(1000);
