import Simulation

/// `sipsim bench kernel`: (a) timer events through the scheduler with a large pending set, (b)
/// datagram deliveries among many hosts with loss and jitter. Not a test: build with
/// `-c release` and compare figures on one machine.
enum KernelBench {
  static let usage = """
    usage: sipsim bench kernel [--json] [--events N] [--pending N] [--deliveries N] [--hosts N]
                               [--seed N] [--peers K] [--trace]

      (a) N timer events (default 1000000) with P pending (default 100000)
      (b) N datagram deliveries (default 1000000) among H hosts (default 10000), 1% loss,
          10 ms latency + uniform jitter up to 5 ms
      --peers K each host sends to one of K fixed peers (default: any host, so nearly every
                send opens a new link and its random stream)
      --trace   keep the full trace (with payloads) during (b) instead of only counting events
    """

  struct Options {
    var json = false
    var events = 1_000_000
    var pending = 100_000
    var deliveries = 1_000_000
    var hosts = 10_000
    var seed: UInt64 = 1
    var trace = false
    /// Each host sends to one of this many peers (0: any host). Links are created on first use,
    /// each with its own random stream, so this sets how many link streams exist.
    var peers = 0
  }

  static func options(_ arguments: [String]) -> (Options?, Int32) {
    switch BenchArguments.parse(
      arguments, command: "bench kernel",
      integers: ["--events", "--pending", "--deliveries", "--hosts", "--seed", "--peers"],
      switches: ["--trace"], usage: usage)
    {
    case .exit(let code): return (nil, code)
    case .run(let parsed):
      var options = Options()
      options.json = parsed.json
      options.trace = parsed.has("--trace")
      options.events = parsed.integer("--events", or: options.events)
      options.pending = parsed.integer("--pending", or: options.pending)
      options.deliveries = parsed.integer("--deliveries", or: options.deliveries)
      options.hosts = parsed.integer("--hosts", or: options.hosts)
      options.peers = parsed.integer("--peers", or: options.peers)
      options.seed = UInt64(parsed.integer("--seed", or: Int(options.seed)))
      return (options, 0)
    }
  }

  static func run(_ arguments: [String]) -> Int32 {
    let (parsed, code) = Self.options(arguments)
    guard let options = parsed else { return code }
    var report = BenchReport(benchmark: "kernel")
    let timers = timerEvents(options)
    report.add("timer_events", Double(timers.count))
    report.add("timer_pending", Double(options.pending))
    report.add("timer_seconds", timers.seconds)
    report.add("timer_events_per_second", Double(timers.count) / timers.seconds)
    let network = deliveries(options)
    report.add("hosts", Double(options.hosts))
    report.add("deliveries", Double(network.deliveries))
    report.add("datagrams_sent", Double(network.sent))
    report.add("delivery_seconds", network.seconds)
    report.add("deliveries_per_second", Double(network.deliveries) / network.seconds)
    report.add("trace_events", Double(network.traceEvents))
    if let peak = peakResidentBytes() { report.add("peak_rss_mb", Double(peak) / 1_048_576) }
    print(report.render(json: options.json))
    return 0
  }

  /// (a): `pending` timers armed at random instants within 1 s; each firing arms a new one
  /// (random delay up to 1 s) until `events` have fired in all. Timers go to one `TimerTarget`
  /// with a token each, as an element's transaction layer arms them.
  static func timerEvents(_ options: Options) -> (count: Int, seconds: Double) {
    final class Rearmer: TimerTarget, @unchecked Sendable {
      let simulation: Simulation
      @exclusivity(unchecked) var random: SimRandom
      @exclusivity(unchecked) var fired = 0
      @exclusivity(unchecked) var armed = 0
      let total: Int
      init(_ simulation: Simulation, total: Int) {
        self.simulation = simulation
        random = simulation.random(stream: "bench timers")
        self.total = total
      }
      func arm() {
        armed += 1
        let delay = Int64(random.next() % 1_000_000)
        simulation.schedule(
          at: SimInstant(microseconds: simulation.now.microseconds + delay), target: self,
          token: UInt64(armed))
      }
      func timerFired(_ token: UInt64) {
        fired += 1
        if armed < total { arm() }
      }
    }
    let simulation = Simulation(seed: options.seed)
    let rearmer = Rearmer(simulation, total: options.events)
    for _ in 0..<min(options.pending, options.events) { rearmer.arm() }
    let stopwatch = Stopwatch()
    simulation.runUntilIdle()
    return (rearmer.fired, stopwatch.seconds)
  }

  /// (b): every host binds a socket; 10 chains per host start at random instants; each delivery
  /// sends the datagram on to a random host until `deliveries` sends have been made.
  static func deliveries(_ options: Options) -> (
    deliveries: Int, sent: Int, seconds: Double, traceEvents: Int
  ) {
    let simulation = Simulation(seed: options.seed)
    let network = Network(
      simulation: simulation,
      defaultLink: LinkConditions(
        latency: .milliseconds(10), jitter: .uniform(max: .milliseconds(5)),
        lossProbability: 0.01),
      trace: Trace(isRecording: options.trace))
    // Unchecked exclusivity: the driving thread alone touches it, as the network's own state.
    final class State: @unchecked Sendable {
      @exclusivity(unchecked) var sockets: [DatagramSocket] = []
      /// Each socket's address, beside the others: reading it from a random peer's socket object
      /// was a cache miss of the harness's own on every send.
      @exclusivity(unchecked) var addresses: [SocketAddress] = []
      @exclusivity(unchecked) var random: SimRandom
      @exclusivity(unchecked) var sent = 0
      @exclusivity(unchecked) var delivered = 0
      init(_ random: SimRandom) { self.random = random }
    }
    let state = State(simulation.random(stream: "bench peers"))
    let payload = Array("OPTIONS sip:bench@example.com SIP/2.0\r\n\r\n".utf8)
    let hostCount = options.hosts
    let target = options.deliveries
    let peers = options.peers
    @Sendable func forward(from index: Int) {
      guard state.sent < target + target / 50 else { return }  // covers the 1% lost
      let peer =
        peers == 0
        ? Int(state.random.next() % UInt64(hostCount))
        : (index &* 7919 &+ Int(state.random.next() % UInt64(peers)) &* 104_729) % hostCount
      state.sent += 1
      try? state.sockets[index].send(payload, to: state.addresses[peer])
    }
    for index in 0..<hostCount {
      do {
        try network.addHost("h\(index)")
        state.sockets.append(
          try network.bindDatagram(host: "h\(index)", port: 5060) { datagram in
            state.delivered += 1
            guard state.delivered < target else { return }
            forward(from: index)
          })
        state.addresses.append(state.sockets[index].local)
      } catch {
        CLI.fail("bench setup: \(error)")
        return (0, 0, 1, 0)
      }
    }
    for index in 0..<hostCount {
      for _ in 0..<10 {
        let at = SimInstant(microseconds: Int64(state.random.next() % 10_000))
        simulation.schedule(at: at) { forward(from: index) }
      }
    }
    let stopwatch = Stopwatch()
    simulation.runUntilIdle()
    return (state.delivered, state.sent, stopwatch.seconds, network.trace.count)
  }
}
