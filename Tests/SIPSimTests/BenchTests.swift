import Testing

@testable import sipsim

/// `bench growth` reports the median of repeated runs of its small sizes with the fastest and
/// slowest; the summary is held to its definition here (the figures themselves are wall-clock
/// and belong to the benchmark, not to a test).
@Test(arguments: [
  ([3.0], CallsBench.Spread(median: 3, lowest: 3, highest: 3)),
  ([5.0, 1, 3], CallsBench.Spread(median: 3, lowest: 1, highest: 5)),
  ([4.0, 1, 3, 2], CallsBench.Spread(median: 2.5, lowest: 1, highest: 4)),
  ([283.0, 201, 205, 199, 210], CallsBench.Spread(median: 205, lowest: 199, highest: 283)),
  ([], CallsBench.Spread(median: 0, lowest: 0, highest: 0)),
])
func growthSummarisesRepeatedRuns(samples: [Double], expected: CallsBench.Spread) {
  #expect(CallsBench.Spread(samples) == expected)
}

/// The calls workload the benchmarks time completes every call, lossless, at a small size:
/// paced as `bench growth` runs it and unpaced as `bench calls` does, and counts every message
/// (unpaced, each caller's first INVITE went out while the agents were being set up, before
/// the count began: `messages_per_second` was short by one message per caller).
@Test(arguments: [0, 1000])
func callsWorkloadCompletesEveryCall(rate: Int) throws {

  let result = try CallsBench.workload(calls: 40, pairs: 4, seed: 1, rate: rate)
  #expect(result.calls == 40 && result.failed == 0)
  // INVITE, 100 (the proxy's), 180, 200, ACK, BYE, 200: each over two hops but the 100.
  #expect(result.messages == 40 * 13)
}
