import Foundation
import SIPCore
import SIPDialog
import SIPElements
import SIPServers
import SIPTransaction
import SIPTransport
import Simulation
import Testing

/// A simulated SIP network with servers: hosts by name, domains resolving to hosts, and every
/// element created through it, so a test can check that nothing is left over anywhere.
final class Lab: @unchecked Sendable {
  let simulation: Simulation
  let network: Network
  var agents: [String: UserAgent] = [:]
  var proxies: [String: Proxy] = [:]
  var endpoints: [String: SIPEndpoint] = [:]
  var locations: [LocationService] = []
  /// Other elements, kept alive here (an endpoint holds its element weakly).
  var registrars: [Registrar] = []
  let events = CoreLog()

  init(seed: UInt64 = 1, link: LinkConditions = LinkConditions(latency: .milliseconds(10))) {
    simulation = Simulation(seed: seed)
    network = Network(simulation: simulation, defaultLink: link)
  }

  /// Adds a host that the given domains resolve to.
  @discardableResult
  func host(_ name: String, domains: [String] = []) throws -> IPAddress {
    let host = try network.addHost(name)
    for domain in domains { network.addAddressRecord(domain, host.addresses) }
    return host.addresses[0]
  }

  func location() -> LocationService {
    let service = LocationService(network: network)
    locations.append(service)
    return service
  }

  @discardableResult
  func agent(
    _ name: String, aor: String, behaviour: UABehaviour = .answer(),
    configuration: UAConfiguration = UAConfiguration(), domains: [String] = []
  ) throws -> UserAgent {
    try host(name, domains: domains)
    let agent = try UserAgent(
      network: network, host: name, aor: try SIPURI(aor), behaviour: behaviour,
      configuration: configuration)
    agents[name] = agent
    endpoints[name] = agent.endpoint
    let events = events
    let simulation = simulation
    simulation.inspect {
      agent.assumeIsolated { agent in
        agent.onEvent { agent, event in
          events.append("\(simulation.now.microseconds / 1000) \(agent.endpoint.hostName) \(event)")
        }
      }
    }
    return agent
  }

  @discardableResult
  func proxy(
    _ name: String, domains: [String], location: LocationService? = nil,
    configuration: ProxyConfiguration
  ) throws -> Proxy {
    try host(name, domains: domains)
    let proxy = try Proxy(
      network: network, host: name, location: location, configuration: configuration)
    proxies[name] = proxy
    endpoints[name] = proxy.endpoint
    return proxy
  }

  /// Watches a B2BUA's two agents (`pbx-in`, `pbx-out`) and their endpoints in "nothing left
  /// over".
  func watch(_ pbx: B2BUA) {
    agents["pbx-in"] = pbx.inbound
    agents["pbx-out"] = pbx.outbound
    endpoints["pbx-in"] = pbx.inbound.endpoint
    endpoints["pbx-out"] = pbx.outbound.endpoint
  }

  @discardableResult
  func registrar(
    _ name: String, domains: [String], location: LocationService,
    authentication: DigestServer? = nil, minExpires: UInt32 = 60
  ) throws -> Registrar {
    try host(name, domains: domains)
    let registrar = try Registrar(
      network: network, host: name, location: location,
      policy: RegistrarPolicy(domains: domains, minExpires: minExpires),
      authentication: authentication)
    endpoints[name] = registrar.endpoint
    registrars.append(registrar)
    return registrar
  }

  var now: Int64 { simulation.now.microseconds }

  func on<R: Sendable>(_ name: String, _ body: @Sendable (isolated UserAgent) -> R) throws -> R {
    let agent = try #require(agents[name])
    return simulation.inspect { agent.assumeIsolated { body($0) } }
  }

  /// Runs the simulation for `duration` of virtual time.
  func run(for duration: Duration) { simulation.run(for: duration) }

  /// Method or status code of every SIP message sent in `callID` before `until` (µs), with the
  /// instant it was sent: retransmissions included, as RFC 3665 numbers them.
  func sent(callID: String, since: Int64 = 0, until: Int64 = .max) -> [(
    time: Int64, token: String
  )] {
    network.trace.events(named: "send").compactMap { event in
      guard event.time >= since, event.time < until,
        event.field("callId")?.description == callID,
        let summary = event.field("summary")?.description
      else { return nil }
      let token =
        summary.hasPrefix("SIP/2.0 ")
        ? String(summary.dropFirst(8).prefix(3)) : String(summary.prefix { $0 != " " })
      return (event.time, token)
    }
  }

  /// Start lines as "alice>proxy1 INVITE" for every SIP message sent in `callID`.
  func ladder(callID: String) -> [String] {
    let names = Dictionary(
      uniqueKeysWithValues: network.allHosts.flatMap { host in
        host.addresses.map { ($0, host.name) }
      })
    return network.trace.events(named: "send").compactMap { event in
      guard event.field("callId")?.description == callID, let from = event.from,
        let to = event.to, let summary = event.field("summary")?.description
      else { return nil }
      let short =
        summary.hasPrefix("SIP/2.0 ")
        ? String(summary.dropFirst(8).prefix(3)) : String(summary.prefix { $0 != " " })
      return "\(names[from.address] ?? "?")>\(names[to.address] ?? "?") \(short)"
    }
  }

  /// Nothing left over anywhere: no packet, kernel timer or stream; no transaction, timer or
  /// connection at any endpoint; no call or agent timer at any UA; no response context or
  /// Timer C at any proxy. Location services may keep their expiry timer (bindings live).
  func expectNothingLeftOver(
    allowingBindings: Bool = true, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    expectNoTimerSlotTrouble(in: network, sourceLocation: sourceLocation)
    var leftovers = network.leftovers
    let liveBindings = locations.reduce(0) { total, service in
      total + simulation.inspect { service.assumeIsolated { $0.armedTimers } }
    }
    if allowingBindings { leftovers.timersArmed -= liveBindings }
    #expect(leftovers.isEmpty, "\(leftovers)", sourceLocation: sourceLocation)
    for (name, endpoint) in endpoints.sorted(by: { $0.key < $1.key }) {
      let alive = simulation.inspect {
        endpoint.assumeIsolated {
          [$0.liveTransactions.count, $0.armedTimers, $0.openConnections]
        }
      }
      #expect(
        alive == [0, 0, 0], "\(name): transactions, timers, connections",
        sourceLocation: sourceLocation)
    }
    for (name, agent) in agents.sorted(by: { $0.key < $1.key }) {
      let alive = simulation.inspect {
        agent.assumeIsolated { [$0.liveCalls.count, $0.armedTimers] }
      }
      #expect(alive == [0, 0], "\(name): calls, agent timers", sourceLocation: sourceLocation)
    }
    for (name, proxy) in proxies.sorted(by: { $0.key < $1.key }) {
      let alive = simulation.inspect { proxy.assumeIsolated { [$0.liveContexts, $0.armedTimers] } }
      #expect(alive == [0, 0], "\(name): contexts, timers", sourceLocation: sourceLocation)
    }
  }
}

/// The sequences of RFC 3665 (from the corpus copy in Resources/rfc3665/FLOWS.md): for each
/// section, the method or status code of each message F1, F2, …
enum RFC3665 {
  static let sequences: [String: [String]] = {
    guard let url = Bundle.module.url(forResource: "Resources/rfc3665/FLOWS", withExtension: "md"),
      let text = try? String(contentsOf: url, encoding: .utf8)
    else { return [:] }
    var result: [String: [String]] = [:]
    var section: String?
    for line in text.split(separator: "\n") {
      if line.hasPrefix("## ") {
        section = line.dropFirst(3).split(separator: ".").prefix(2).joined(separator: ".")
      } else if line.hasPrefix("Sequence: "), let section {
        result[section] = line.dropFirst(10).split(separator: ", ").compactMap { item in
          item.split(separator: " ").dropFirst().first.map(String.init)
        }
      }
    }
    return result
  }()

  /// Whether `observed` is `expected` up to the order of messages sent at the same instant
  /// (a proxy's 100 Trying and the INVITE it forwards leave together; RFC 3665 numbers them
  /// either way round in different flows).
  static func matches(_ observed: [(time: Int64, token: String)], _ expected: [String]) -> Bool {
    guard observed.count == expected.count else { return false }
    var index = 0
    while index < observed.count {
      var end = index
      while end < observed.count && observed[end].time == observed[index].time { end += 1 }
      if observed[index..<end].map(\.token).sorted() != expected[index..<end].sorted() {
        return false
      }
      index = end
    }
    return true
  }
}
