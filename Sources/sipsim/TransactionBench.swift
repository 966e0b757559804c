import SIPCore
import SIPElements
import SIPTransaction
import SIPTransport
import Simulation

/// `sipsim bench transactions`: non-INVITE transactions between two endpoints over lossless
/// UDP, every layer at work (Via and branch, serialize, network, parse, match, timers). Not a
/// test: build with `-c release`.
enum TransactionBench {
  static let usage = """
    usage: sipsim bench transactions [--json] [--transactions N] [--concurrency C] [--seed N]

      N OPTIONS transactions (default 200000) from alice to bob over lossless UDP with 5 ms
      latency, C at a time (default 100); bob's core answers each with 200 at once. Reports
      transactions completed per wall second (a final response at alice's core), including
      the Timers K and J that end them.
    """

  struct Options {
    var json = false
    var transactions = 200_000
    var concurrency = 100
    var seed: UInt64 = 1
  }

  static func options(_ arguments: [String]) -> (Options?, Int32) {
    switch BenchArguments.parse(
      arguments, command: "bench transactions",
      integers: ["--transactions", "--concurrency", "--seed"], usage: usage)
    {
    case .exit(let code): return (nil, code)
    case .run(let parsed):
      var options = Options()
      options.json = parsed.json
      options.transactions = parsed.integer("--transactions", or: options.transactions)
      options.concurrency = parsed.integer("--concurrency", or: options.concurrency)
      options.seed = UInt64(parsed.integer("--seed", or: Int(options.seed)))
      return (options, 0)
    }
  }

  static func run(_ arguments: [String]) -> Int32 {
    let (parsed, code) = Self.options(arguments)
    guard let options = parsed else { return code }
    let simulation = Simulation(seed: options.seed)
    let network = Network(
      simulation: simulation, defaultLink: LinkConditions(latency: .milliseconds(5)),
      trace: Trace(isRecording: false))
    let alice: SIPEndpoint
    let bob: SIPEndpoint
    do {
      try network.addHost("alice")
      try network.addHost("bob")
      alice = try SIPEndpoint(network: network, host: "alice")
      bob = try SIPEndpoint(network: network, host: "bob")
    } catch {
      CLI.fail("bench setup: \(error)")
      return 1
    }
    let target = options.transactions
    let counter = Counter()
    let bobPeer = SIPPeer(host: "10.0.0.2", port: 5060, transport: .udp)
    simulation.inspect {
      bob.assumeIsolated { endpoint in
        endpoint.setCore { endpoint, event in
          if case .request(let request, let key) = event, let key {
            endpoint.respond(request.response(status: 200, toTag: "b"), in: key)
          }
        }
      }
      alice.assumeIsolated { endpoint in
        endpoint.setCore { endpoint, event in
          switch event {
          case .response(let response, _) where (response.status ?? 0) >= 200:
            counter.completed += 1
            next(endpoint, counter, target, bobPeer)
          case .timeout, .transportError:
            counter.failed += 1
            next(endpoint, counter, target, bobPeer)
          default: break
          }
        }
        for _ in 0..<min(options.concurrency, target) { next(endpoint, counter, target, bobPeer) }
      }
    }
    let stopwatch = Stopwatch()
    simulation.runUntilIdle()
    let seconds = stopwatch.seconds
    var report = BenchReport(benchmark: "transactions")
    report.add("transactions", Double(counter.completed))
    report.add("failed", Double(counter.failed))
    report.add("seconds", seconds)
    report.add("transactions_per_second", Double(counter.completed) / seconds)
    report.add("messages_per_second", Double(counter.completed * 2) / seconds)
    report.add(
      "virtual_seconds", Double(simulation.now.microseconds) / 1_000_000)
    if let peak = peakResidentBytes() { report.add("peak_rss_mb", Double(peak) / 1_048_576) }
    print(report.render(json: options.json))
    return counter.failed == 0 && counter.completed == target ? 0 : 1
  }

  /// Starts the next transaction, until `target` have started.
  static func next(
    _ endpoint: isolated SIPEndpoint, _ counter: Counter, _ target: Int, _ bobPeer: SIPPeer
  ) {
    guard counter.started < target else { return }
    counter.started += 1
    var request = SIPMessage.request(method: "OPTIONS", uri: "sip:bob@10.0.0.2")
    // Printed into one shared buffer, as the user agent prints its requests' fields (one
    // allocation per field was the core's largest cost in this loop).
    let started = counter.started
    request.appendFields(capacity: 160) { fields in
      fields.field("Max-Forwards", "70")
      fields.field("To", "<sip:bob@10.0.0.2>")
      fields.field("From", "<sip:alice@10.0.0.1>;tag=bench")
      fields.field("Call-ID") { bytes in
        bytes.append(contentsOf: "bench-".utf8)
        appendDecimal(Int64(started), to: &bytes)
        bytes.append(contentsOf: "@10.0.0.1".utf8)
      }
      fields.field("CSeq", "1 OPTIONS")
      fields.field("Content-Length", "0")
    }
    endpoint.sendRequest(consume request, to: bobPeer)
  }

  /// Counts shared by the two cores; touched only on the driving thread.
  final class Counter: @unchecked Sendable {
    var started = 0
    var completed = 0
    var failed = 0
  }
}
