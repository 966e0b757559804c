import SIPCore
import SIPElements
import SIPTransaction
import SIPTransport
import Simulation
import Synchronization
import Testing

/// What a core saw, with the virtual time in milliseconds: `"32000 alice timeout B"`.
final class CoreLog: Sendable {
  private let entries = Mutex<[String]>([])
  func append(_ entry: String) { entries.withLock { $0.append(entry) } }
  var all: [String] { entries.withLock { $0 } }
}

/// Two (or more) hosts with a SIP endpoint each on a simulated network.
struct Scenario {
  let simulation: Simulation
  let network: Network
  let log = CoreLog()
  var endpoints: [String: SIPEndpoint] = [:]

  init(
    seed: UInt64 = 1, link: LinkConditions = LinkConditions(latency: .milliseconds(10)),
    hosts: [String] = ["alice", "bob"], silent: [String] = [], timers: TimerSettings = .rfc3261
  ) throws {
    simulation = Simulation(seed: seed)
    network = Network(simulation: simulation, defaultLink: link)
    // Hosts get 10.0.0.1, 10.0.0.2, … in this order; `silent` ones run no SIP element.
    for host in hosts { try network.addHost(host) }
    for host in hosts where !silent.contains(host) {
      endpoints[host] = try SIPEndpoint(network: network, host: host, timers: timers)
    }
  }

  func endpoint(_ host: String) throws -> SIPEndpoint {
    try #require(endpoints[host])
  }

  var nowMilliseconds: Int64 { simulation.now.microseconds / 1000 }

  /// Sets a core on `host` that logs every event and answers requests with `answer`.
  func core(
    _ host: String,
    answer: @escaping @Sendable (SIPMessage) -> [SIPMessage] = { _ in [] }
  ) throws {
    let endpoint = try endpoint(host)
    let log = log
    let simulation = simulation
    simulation.inspect {
      endpoint.assumeIsolated { endpoint in
        endpoint.setCore { endpoint, event in
          log.append("\(simulation.now.microseconds / 1000) \(endpoint.hostName) \(event)")
          if case .request(let request, let key) = event, let key {
            for response in answer(request) { endpoint.respond(response, in: key) }
          }
        }
      }
    }
  }

  /// Sends `request` from `host` to `peer` now.
  @discardableResult
  func send(_ request: SIPMessage, from host: String, to peer: SIPPeer) throws -> TransactionKey? {
    let endpoint = try endpoint(host)
    return simulation.inspect {
      endpoint.assumeIsolated { $0.sendRequest(request, to: peer) }
    }
  }

  /// Virtual send times (ms) of packets from `host` whose start line begins with `prefix`.
  func sendTimes(from host: String, _ prefix: String) throws -> [Int64] {
    let address = try network.host(named: host).addresses[0]
    return network.trace.events(named: "send").filter {
      $0.from?.address == address
        && ($0.field("summary").map { "\($0)".contains(prefix) } ?? false)
    }.map { $0.time / 1000 }
  }

  /// Nothing left over: no packet in flight, no timer armed, no stream open, no transaction
  /// alive, no transaction timer armed.
  func expectNothingLeftOver(sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(network.leftovers.isEmpty, "\(network.leftovers)", sourceLocation: sourceLocation)
    expectNoTimerSlotTrouble(in: network, sourceLocation: sourceLocation)
    for (name, endpoint) in endpoints.sorted(by: { $0.key < $1.key }) {
      let alive = simulation.inspect {
        endpoint.assumeIsolated { ($0.liveTransactions.count, $0.armedTimers, $0.openConnections) }
      }
      #expect(
        alive == (0, 0, 0), "\(name): transactions, timers, connections",
        sourceLocation: sourceLocation)
    }
  }
}

func peer(_ host: String, _ transport: SIPTransportProtocol = .udp, port: Int = 5060) -> SIPPeer {
  SIPPeer(host: host, port: port, transport: transport)
}

/// A request without Via (the endpoint adds it).
func makeRequest(_ method: String, to uri: String = "sip:bob@10.0.0.2", body: String = "")
  -> SIPMessage
{
  var request = SIPMessage.request(method: method, uri: uri)
  request.append("Max-Forwards", "70")
  request.append("To", "Bob <\(uri)>")
  request.append("From", "Alice <sip:alice@10.0.0.1>;tag=1928301774")
  request.append("Call-ID", "a84b4c76e66710@10.0.0.1")
  request.append("CSeq", "1 \(method)")
  if !body.isEmpty { request.append("Content-Type", "text/plain") }
  request.append("Content-Length", "\(body.utf8.count)")
  request.body = Array(body.utf8)
  return request
}

/// No endpoint logged trouble with its timer slots (a timer it could not arm, a slot it and
/// its layer disagree about): part of every scenario's "nothing left over".
func expectNoTimerSlotTrouble(
  in network: Network, sourceLocation: SourceLocation = #_sourceLocation
) {
  let trouble = network.trace.events(named: "log").compactMap { event -> String? in
    guard case .string(let text) = event.field("text"),
      text.hasPrefix(SIPEndpoint.timerSlotTrouble)
    else { return nil }
    return text
  }
  #expect(trouble.isEmpty, "\(trouble)", sourceLocation: sourceLocation)
}
