import SIPCore
import SIPElements
import SIPServers
import SIPTransaction
import Simulation

/// `sipsim bench registrations`: N user agents register with one registrar (Expires 3600) and
/// refresh at half-time over one simulated hour; their first REGISTERs are spread over the first
/// 30 minutes. Reports the ratio of virtual to wall time and memory per UA. Not a test: build
/// with `-c release`.
enum RegistrationsBench {
  static let usage = """
    usage: sipsim bench registrations [--json] [--uas N] [--seed N]

      N user agents (default 1000000), each on its own host with its own endpoint, register
      with one registrar and refresh at half the granted 3600 s for one simulated hour; first
      REGISTERs spread evenly over the first 30 minutes. Reports REGISTER transactions, the
      ratio of virtual to wall time, REGISTER transactions per wall second, and resident memory
      per UA (peak RSS growth / N).
      Progress goes to stderr.
    """

  static func run(_ arguments: [String]) -> Int32 {
    switch BenchArguments.parse(
      arguments, command: "bench registrations", integers: ["--uas", "--seed"], usage: usage)
    {
    case .exit(let code): return code
    case .run(let parsed):
      let count = parsed.integer("--uas", or: 1_000_000)
      let simulation = Simulation(seed: UInt64(parsed.integer("--seed", or: 1)))
      let network = Network(
        simulation: simulation, defaultLink: LinkConditions(latency: .milliseconds(5)),
        trace: Trace(isRecording: false))
      let baseline = peakResidentBytes() ?? 0
      let setup = Stopwatch()
      var agents: [UserAgent] = []
      agents.reserveCapacity(count)
      let registrar: Registrar
      do {
        try network.addHost("registrar")
        network.addAddressRecord("example.com", try network.host(named: "registrar").addresses)
        registrar = try Registrar(
          network: network, host: "registrar", location: LocationService(network: network),
          policy: RegistrarPolicy(domains: ["example.com"]))
        let spread: Int64 = 1_800_000_000
        for index in 0..<count {
          let name = "ua\(index)"
          try network.addHost(name)
          let agent = try UserAgent(
            network: network, host: name, aor: SIPURI(user: name, host: "example.com"))
          agents.append(agent)
          let at = SimInstant(microseconds: spread * Int64(index) / Int64(count))
          // Entered as the elements' own timers enter them (`assumeIsolated` asks the runtime
          // which executor runs, ~420 instructions per call).
          _ = simulation.schedule(at: at, into: agent) {
            $0.register(with: SIPURI(host: "example.com"), expires: 3600)
          }
          if index > 0, index % 100_000 == 0 {
            CLI.note("registrations: \(index) agents made (\(Int(setup.seconds)) s)")
          }
        }
      } catch {
        CLI.fail("bench setup: \(error)")
        return 1
      }
      // Memory of the agents before any traffic: hosts, endpoints, sockets, agents.
      let afterSetup = peakResidentBytes() ?? baseline
      let sentBefore = network.packetsSent
      let stopwatch = Stopwatch()
      let hour: Int64 = 3_600_000_000
      var next: Int64 = 0
      while next < hour {
        next += 300_000_000
        simulation.run(until: SimInstant(microseconds: next))
        CLI.note(
          "registrations: \(next / 60_000_000) of 60 virtual minutes (\(Int(stopwatch.seconds)) s)")
      }
      let seconds = stopwatch.seconds
      let packets = network.packetsSent - sentBefore
      // Registered: a binding granted and not yet expired (an agent whose refresh is in
      // flight at the end still counts).
      var registered = 0
      let now = simulation.now.microseconds
      simulation.inspect {
        for agent in agents
        where agent.assumeIsolated({ ($0.registration?.expiresAt ?? 0) > now }) {
          registered += 1
        }
      }
      withExtendedLifetime(registrar) {}
      var report = BenchReport(benchmark: "registrations")
      report.add("uas", Double(count))
      report.add("registered", Double(registered))
      report.add("register_transactions", Double(packets / 2))
      report.add("register_transactions_per_second", Double(packets / 2) / seconds)
      report.add("setup_seconds", setup.seconds - seconds)
      report.add("seconds", seconds)
      report.add("virtual_to_wall", 3600 / seconds)
      if let peak = peakResidentBytes() {
        report.add("peak_rss_mb", Double(peak) / 1_048_576)
        report.add("bytes_per_ua", Double(peak - baseline) / Double(count))
        report.add("bytes_per_ua_before_traffic", Double(afterSetup - baseline) / Double(count))
      }
      print(report.render(json: parsed.json))
      return registered == count ? 0 : 1
    }
  }
}
