import SIPCore
import SIPDialog
import SIPElements
import SIPTransaction
import SIPTransport
import Simulation
import Testing

/// User agents on a simulated network: `alice` at 10.0.0.1, `bob` at 10.0.0.2, … in the order
/// given, each with its behaviour.
struct Phones {
  let simulation: Simulation
  let network: Network
  var agents: [String: UserAgent] = [:]
  let events = CoreLog()

  init(
    seed: UInt64 = 1, link: LinkConditions = LinkConditions(latency: .milliseconds(10)),
    _ hosts: [(String, UABehaviour)], extraHosts: [String] = [],
    configuration: UAConfiguration = UAConfiguration()
  ) throws {
    simulation = Simulation(seed: seed)
    network = Network(simulation: simulation, defaultLink: link)
    for (name, _) in hosts { try network.addHost(name) }
    for name in extraHosts { try network.addHost(name) }
    for (name, behaviour) in hosts {
      let address = try network.host(named: name).addresses[0]
      let agent = try UserAgent(
        network: network, host: name, aor: SIPURI(user: name, host: address.description),
        behaviour: behaviour, configuration: configuration)
      agents[name] = agent
      let events = events
      let simulation = simulation
      simulation.inspect {
        agent.assumeIsolated { agent in
          agent.onEvent { agent, event in
            events.append(
              "\(simulation.now.microseconds / 1000) \(agent.endpoint.hostName) \(event)")
          }
        }
      }
    }
  }

  func agent(_ name: String) throws -> UserAgent { try #require(agents[name]) }

  func uri(_ name: String) throws -> SIPURI {
    SIPURI(user: name, host: try network.host(named: name).addresses[0].description)
  }

  /// Runs `body` isolated to `name`'s agent now (between runs).
  func on<R: Sendable>(_ name: String, _ body: @Sendable (isolated UserAgent) -> R) throws -> R {
    let agent = try agent(name)
    return simulation.inspect { agent.assumeIsolated { body($0) } }
  }

  /// The calls `name` has finished.
  func history(_ name: String) throws -> [CallRecord] { try on(name) { $0.history } }

  /// Start lines of delivered SIP messages, in order, as "alice>bob INVITE" / "bob>alice 180".
  func ladder() -> [String] {
    let names = Dictionary(
      uniqueKeysWithValues: network.allHosts.flatMap { host in
        host.addresses.map { ($0, host.name) }
      })
    return network.trace.events(named: "deliver").compactMap { event in
      guard let from = event.from, let to = event.to, let summary = event.field("summary")
      else { return nil }
      let text = "\(summary)"
      let short =
        text.hasPrefix("SIP/2.0 ")
        ? String(text.dropFirst(8).prefix(3)) : String(text.prefix { $0 != " " })
      return "\(names[from.address] ?? "?")>\(names[to.address] ?? "?") \(short)"
    }
  }

  /// Nothing left over: no packet in flight, no kernel timer, no stream, and at every agent no
  /// call, no transaction, no timer.
  func expectNothingLeftOver(sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(network.leftovers.isEmpty, "\(network.leftovers)", sourceLocation: sourceLocation)
    expectNoTimerSlotTrouble(in: network, sourceLocation: sourceLocation)
    for (name, agent) in agents.sorted(by: { $0.key < $1.key }) {
      let alive = simulation.inspect {
        agent.assumeIsolated { agent in
          let endpoint = agent.endpoint.assumeIsolated {
            ($0.liveTransactions.count, $0.armedTimers, $0.openConnections)
          }
          return [agent.liveCalls.count, agent.armedTimers, endpoint.0, endpoint.1, endpoint.2]
        }
      }
      #expect(
        alive == [0, 0, 0, 0, 0], "\(name): calls, agent timers, transactions, timers, connections",
        sourceLocation: sourceLocation)
    }
  }
}
