import SIPCore
import SIPElements
import SIPServers
import SIPTransaction
import Simulation

/// `sipsim bench calls` and `sipsim bench growth`: basic calls from N caller UAs through one
/// stateful, Record-Routing proxy to N callee UAs over lossless UDP; every message serialized
/// and parsed at every hop. Not a test: build with `-c release`.
enum CallsBench {
  static let usage = """
    usage: sipsim bench calls [--json] [--calls N] [--pairs P] [--rate R] [--seed N]

      N basic calls (default 100000: INVITE, 100, 180, 200, ACK, BYE, 200 through one stateful
      proxy that Record-Routes) from P caller UAs to P callee UAs (default 1000). Without
      --rate each caller places its next call as soon as the last one ends; with --rate R, R
      calls start per virtual second, round robin over the callers (as SIPp's -r). Lossless
      UDP, 5 ms latency. Reports calls and messages per wall second and the ratio of virtual
      to wall time.
    """

  static let growthUsage = """
    usage: sipsim bench growth [--json] [--max N] [--pairs P] [--rate R] [--seed N] [--runs K]

      The calls workload at 1k, 10k, 100k and 1M calls (up to --max, default 1000000) at R calls
      per virtual second (default 1000), so every size reaches the same steady state (a
      transaction lives 64·T1 = 32 s after its work: unpaced, a million calls would all be
      alive at once); reports the wall-clock cost per call at each size and the ratio of the
      largest to the smallest. Sizes up to 10,000 calls run K times (default 5) and report the
      median, with the fastest and slowest run: one run of 1,000 calls lasts a fifth of a
      second, the first of the process starts on a cold heap, and a ratio over one such run
      swung from 0.8 to 1.2 between runs. The larger sizes run once (seconds to minutes each).
    """

  struct Result {
    var calls = 0
    var failed = 0
    var messages: Int64 = 0
    var seconds = 0.0
    var virtualSeconds = 0.0
  }

  /// Counts shared by the agents' observers; touched only on the driving thread.
  final class Book: @unchecked Sendable {
    var remaining = 0
    var completed = 0
    var failed = 0
  }

  static func workload(calls: Int, pairs: Int, seed: UInt64, rate: Int = 0) throws -> Result {
    let simulation = Simulation(seed: seed)
    let network = Network(
      simulation: simulation, defaultLink: LinkConditions(latency: .milliseconds(5)),
      trace: Trace(isRecording: false))
    // Counted from here: unpaced, each caller places its first call while it is set up.
    let sentBefore = network.packetsSent
    try network.addHost("proxy")
    network.addAddressRecord("example.com", try network.host(named: "proxy").addresses)
    let location = LocationService(network: network)
    let proxy = try Proxy(
      network: network, host: "proxy", location: location,
      configuration: ProxyConfiguration(domains: ["example.com"]))
    var callers: [UserAgent] = []
    var callees: [UserAgent] = []
    for index in 0..<pairs {
      try network.addHost("callee\(index)")
      let aor = SIPURI(user: "callee\(index)", host: "example.com")
      let callee = try UserAgent(
        network: network, host: "callee\(index)", aor: aor, behaviour: .ring(for: .zero))
      let contact = SIPURI(
        user: "callee\(index)",
        host: try network.host(named: "callee\(index)").addresses[0].description)
      simulation.inspect { location.assumeIsolated { $0.add(aor: aor, contact: contact) } }
      callees.append(callee)
    }
    let book = Book()
    book.remaining = calls
    let paced = rate > 0
    var targets: [SIPURI] = []
    for index in 0..<pairs {
      try network.addHost("caller\(index)")
      let caller = try UserAgent(
        network: network, host: "caller\(index)",
        aor: SIPURI(user: "caller\(index)", host: "example.com"),
        configuration: UAConfiguration(outboundProxy: SIPURI(host: "example.com")))
      let target = SIPURI(user: "callee\(index)", host: "example.com")
      targets.append(target)
      simulation.inspect {
        caller.assumeIsolated { agent in
          agent.onEvent { agent, event in
            guard case .callState(let callID, .terminated) = event else { return }
            if agent.record(of: callID)?.wasAnswered == true {
              book.completed += 1
            } else {
              book.failed += 1
            }
            if !paced { place(agent, target, book) }
          }
          if !paced { place(agent, target, book) }
        }
      }
      callers.append(caller)
    }
    if paced {
      // One chain of ticks, 1/R apart: each starts the next call on the next caller.
      let pacer = Pacer(
        simulation: simulation, callers: callers, targets: targets, book: book,
        interval: max(1, 1_000_000 / Int64(rate)))
      pacer.tick(0)
    }
    let stopwatch = Stopwatch()
    simulation.runUntilIdle()
    let seconds = stopwatch.seconds
    withExtendedLifetime((proxy, callers, callees)) {}
    return Result(
      calls: book.completed, failed: book.failed, messages: network.packetsSent - sentBefore,
      seconds: seconds, virtualSeconds: Double(simulation.now.microseconds) / 1_000_000)
  }

  /// The median of repeated runs (the mean of the middle two for an even count), with the
  /// fastest and slowest.
  struct Spread: Equatable {
    var median: Double
    var lowest: Double
    var highest: Double
  }

  /// Starts calls at a fixed virtual rate (`bench calls --rate`).
  final class Pacer: @unchecked Sendable {
    let simulation: Simulation
    let callers: [UserAgent]
    let targets: [SIPURI]
    let book: Book
    let interval: Int64
    var next = 0

    init(
      simulation: Simulation, callers: [UserAgent], targets: [SIPURI], book: Book,
      interval: Int64
    ) {
      self.simulation = simulation
      self.callers = callers
      self.targets = targets
      self.book = book
      self.interval = interval
    }

    func tick(_ at: Int64) {
      guard book.remaining > 0, !callers.isEmpty else { return }
      let index = next % callers.count
      next += 1
      let target = targets[index]
      let book = book
      simulation.schedule(at: SimInstant(microseconds: at), into: callers[index]) { agent in
        CallsBench.place(agent, target, book)
      }
      simulation.schedule(at: SimInstant(microseconds: at)) { [self] in tick(at + interval) }
    }
  }

  static func place(_ agent: isolated UserAgent, _ target: SIPURI, _ book: Book) {
    guard book.remaining > 0 else { return }
    book.remaining -= 1
    agent.call(target, hangUpAfter: .zero)
  }

  static func run(_ arguments: [String]) -> Int32 {
    switch BenchArguments.parse(
      arguments, command: "bench calls", integers: ["--calls", "--pairs", "--rate", "--seed"],
      usage: usage)
    {
    case .exit(let code): return code
    case .run(let parsed):
      let calls = parsed.integer("--calls", or: 100_000)
      let pairs = parsed.integer("--pairs", or: 1000)
      do {
        let result = try workload(
          calls: calls, pairs: pairs, seed: UInt64(parsed.integer("--seed", or: 1)),
          rate: parsed.integer("--rate", or: 0))
        var report = BenchReport(benchmark: "calls")
        report.add("calls", Double(result.calls))
        report.add("failed", Double(result.failed))
        report.add("seconds", result.seconds)
        report.add("calls_per_second", Double(result.calls) / result.seconds)
        report.add("messages_per_second", Double(result.messages) / result.seconds)
        report.add("virtual_seconds", result.virtualSeconds)
        report.add("virtual_to_wall", result.virtualSeconds / result.seconds)
        if let peak = peakResidentBytes() { report.add("peak_rss_mb", Double(peak) / 1_048_576) }
        print(report.render(json: parsed.json))
        return result.failed == 0 && result.calls == calls ? 0 : 1
      } catch {
        CLI.fail("bench setup: \(error)")
        return 1
      }
    }
  }

  static func growth(_ arguments: [String]) -> Int32 {
    switch BenchArguments.parse(
      arguments, command: "bench growth",
      integers: ["--max", "--pairs", "--rate", "--seed", "--runs"], usage: growthUsage)
    {
    case .exit(let code): return code
    case .run(let parsed):
      let maximum = parsed.integer("--max", or: 1_000_000)
      let pairs = parsed.integer("--pairs", or: 1000)
      // A positive integer: the argument parser refuses anything else.
      let runs = parsed.integer("--runs", or: 5)
      var report = BenchReport(benchmark: "growth")
      var costs: [Double] = []
      for size in [1_000, 10_000, 100_000, 1_000_000] where size <= maximum {
        CLI.note("growth: \(size) calls…")
        var samples: [Double] = []
        for _ in 0..<(size <= 10_000 ? runs : 1) {
          do {
            let result = try workload(
              calls: size, pairs: min(pairs, size),
              seed: UInt64(parsed.integer("--seed", or: 1)),
              rate: parsed.integer("--rate", or: 1000))
            samples.append(result.seconds * 1_000_000 / Double(max(1, result.calls)))
          } catch {
            CLI.fail("bench setup: \(error)")
            return 1
          }
        }
        let spread = Spread(samples)
        costs.append(spread.median)
        report.add("us_per_call_\(size)", spread.median)
        if samples.count > 1 {
          report.add("us_per_call_\(size)_fastest", spread.lowest)
          report.add("us_per_call_\(size)_slowest", spread.highest)
        }
      }
      if let first = costs.first, let last = costs.last, first > 0 {
        report.add("ratio_largest_to_smallest", last / first)
      }
      print(report.render(json: parsed.json))
      return 0
    }
  }
}

extension CallsBench.Spread {
  /// The spread of `samples` (all zero when there are none).
  init(_ samples: [Double]) {
    let sorted = samples.sorted()
    guard let lowest = sorted.first, let highest = sorted.last else {
      self.init(median: 0, lowest: 0, highest: 0)
      return
    }
    let middle = sorted.count / 2
    let median =
      sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    self.init(median: median, lowest: lowest, highest: highest)
  }
}
