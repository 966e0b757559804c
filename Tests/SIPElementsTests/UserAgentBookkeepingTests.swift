import SIPCore
import SIPDialog
import Simulation
import Testing

@testable import SIPElements

/// What an agent remembers about ended calls stays bounded however long it runs.
@Suite struct UserAgentBookkeepingTests {
  /// Ended dialogs are remembered for 64·T1 (a late 2xx is ACKed, not answered with BYE,
  /// §13.2.2.4), then forgotten: three calls 40 s apart leave one.
  @Test func endedDialogsAreForgottenAfter64T1() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let bob = try phones.uri("bob")
    for round in 0..<3 {
      _ = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(1)) }
      phones.simulation.run(until: SimInstant(microseconds: Int64(round + 1) * 40_000_000))
    }
    #expect(try phones.on("alice") { $0.endedDialogs.count } == 1)
    #expect(try phones.on("bob") { $0.endedDialogs.count } == 1)
    #expect(try phones.history("alice").count == 3)
  }

  /// Agents made one after another with the same settings share one copy of them (a million
  /// idle agents kept a million); different settings, or credentials, get their own.
  @Test func agentsShareEqualSettings() throws {
    let network = Network(simulation: Simulation())
    func agent(_ name: String, _ configuration: UAConfiguration) throws -> UserAgent {
      try network.addHost(name)
      return try UserAgent(
        network: network, host: name, aor: SIPURI(user: name, host: "example.com"),
        configuration: configuration)
    }
    let first = try agent("a", UAConfiguration())
    let second = try agent("b", UAConfiguration())
    #expect(first.settings === second.settings)
    let other = try agent("c", UAConfiguration(mediaPort: 50_000))
    #expect(other.settings !== second.settings)
    #expect(other.configuration.mediaPort == 50_000)
    let withCredentials = UAConfiguration(
      credentials: CredentialStore(accounts: [.init(username: "c", password: "p")]))
    let secret = try agent("d", withCredentials)
    let secret2 = try agent("e", withCredentials)
    #expect(secret.settings !== secret2.settings)
    #expect(secret.configuration.credentials != nil)
  }

  /// An agent that only registers keeps no call book; the first call (or hook) makes one, and
  /// reading the empty tables before that allocates nothing.
  @Test func anIdleAgentHasNoCallBook() throws {
    let simulation = Simulation()
    let network = Network(simulation: simulation)
    try network.addHost("a")
    let agent = try UserAgent(
      network: network, host: "a", aor: SIPURI(user: "a", host: "example.com"))
    simulation.inspect {
      agent.assumeIsolated { agent in
        #expect(agent.liveCalls.isEmpty && agent.history.isEmpty && agent.armedTimers == 0)
        #expect(agent.book == nil)
        agent.onEvent { _, _ in }
        #expect(agent.book != nil)
      }
    }
  }
}
