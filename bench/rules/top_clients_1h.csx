// TopK over a long tail of ties: the 10 busiest of 1.2M clients over an hour, where nearly every
// client sends 1 to 5 requests, so hundreds of thousands tie at the 10th place. Held to the same
// window summed per client (sum_by_client_1h.csx): a remembered answer must serve most seconds.
Alert("top_clients").WhenEach(q => q.TopK(10, "requests", TimeSpan.FromHours(1), "host")).Above(1000);
