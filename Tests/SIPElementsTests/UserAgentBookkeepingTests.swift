import SIPCore
import SIPDialog
import SIPTransaction
import Simulation
import Testing

@testable import SIPElements

/// What an agent remembers about ended calls stays bounded however long it runs.
@Suite struct UserAgentBookkeepingTests {
  /// A call ends once: a second `end` (two paths out of a call meeting, as a send that failed
  /// at once did when its error was reported inside the send) wrote the history entry and the
  /// `call-ended` event again.
  @Test func aCallEndsOnce() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    phones.simulation.run(for: .seconds(1))
    let histories = try phones.on("alice") { agent -> [Int] in
      guard let call = agent.calls[callID] else { return [] }
      agent.end(call)
      let once = agent.history.count
      agent.end(call)
      return [once, agent.history.count]
    }
    #expect(histories == [1, 1])
    let ended = phones.network.trace.events(named: "call-ended").filter {
      $0.field("element") == .string("alice")
    }
    #expect(ended.count == 1)
  }

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

  /// Pruning waits for the earliest ended dialog to expire and then forgets exactly the expired
  /// ones: calls ending at 1 s, 20 s and 40 s leave the last two at 40 s (1 + 32 has passed,
  /// 20 + 32 has not).
  @Test func endedDialogsArePrunedAsEachExpires() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let bob = try phones.uri("bob")
    for start: Int64 in [0, 19, 39] {
      phones.simulation.run(until: SimInstant(microseconds: start * 1_000_000))
      _ = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(1)) }
    }
    phones.simulation.run(until: SimInstant(microseconds: 41_000_000))
    #expect(try phones.on("alice") { $0.endedDialogs.count } == 2)
    #expect(try phones.on("bob") { $0.endedDialogs.count } == 2)
    #expect(try phones.history("alice").count == 3)
  }

  /// Over a long run the order of ended dialogs holds exactly what the table holds: forty
  /// calls 3 s apart, each ending 1 s after it starts, leave the dialogs of the last 32 s, and
  /// nothing expired in either.
  @Test func endedDialogOrderStaysAsShortAsTheTable() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let bob = try phones.uri("bob")
    for round: Int64 in 0..<40 {
      phones.simulation.run(until: SimInstant(microseconds: round * 3_000_000))
      _ = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(1)) }
    }
    phones.simulation.run(until: SimInstant(microseconds: 121_000_000))
    let (table, queued, expired) = try phones.on("alice") { agent in
      agent.pruneEndedDialogs()
      let queue = agent.book?.endedQueue ?? []
      return (
        agent.endedDialogs.count, queue.count, queue.filter { $0.expiry <= agent.now }.count
      )
    }
    // Calls ending at 1 + 3k s, for k up to 39 (118 s): those after 89 s are kept (ten).
    #expect(table == 10)
    #expect(queued == table)
    #expect(expired == 0)
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
    // Their endpoints share their timer settings too, unless they differ.
    #expect(first.endpoint.settings === other.endpoint.settings)
    try network.addHost("f")
    let fast = TimerSettings(t1: .milliseconds(100))
    let quick = try UserAgent(
      network: network, host: "f", aor: SIPURI(user: "f", host: "example.com"), timers: fast)
    #expect(quick.endpoint.settings !== first.endpoint.settings)
    #expect(quick.endpoint.timers == fast && first.endpoint.timers == .rfc3261)
    // Their transaction layers read the same shared settings.
    network.simulation.inspect {
      #expect(quick.endpoint.assumeIsolated { $0.layer.timers } == fast)
      #expect(first.endpoint.assumeIsolated { $0.layer.timers } == .rfc3261)
    }
    #expect(first.endpoint.connectionIdleTimeout == .seconds(32) && !first.endpoint.isStateless)
  }

  /// A record keeps its session descriptions as SDP bytes and gives back what it was given:
  /// one with every field SDP has, and the ones a call negotiated, read during the call and from
  /// the history after it.
  @Test func aRecordKeepsItsSessionDescriptions() throws {
    let text = """
      v=0\r
      o=alice 2890844526 2890844527 IN IP4 client.atlanta.example.com\r
      s=Talk\r
      i=A call\r
      u=http://www.example.com/call\r
      e=alice@example.com\r
      p=+1 617 555 6011\r
      c=IN IP4 192.0.2.101\r
      b=AS:64\r
      t=2873397496 2873404696\r
      r=7d 1h 0 25h\r
      z=2882844526 -1h\r
      k=prompt\r
      a=tool:sipsim\r
      m=audio 49172 RTP/AVP 0 97\r
      a=rtpmap:97 iLBC/8000\r
      a=sendonly\r

      """
    let full = try SessionDescription(parsing: Array(text.utf8))
    var record = CallRecord(
      callID: "c1", isCaller: true, state: .terminated, wasAnswered: true, localSDP: full)
    #expect(record.localSDP == full && record.remoteSDP == nil)
    record.remoteSDP = full
    #expect(record.remoteSDP == full)
    record.localSDP = nil
    #expect(record.localSDP == nil)
    // A body that prints differently from its description (LF line ends): records compare and
    // hash by the descriptions, not the bytes.
    let lf = Array(text.replacingOccurrences(of: "\r\n", with: "\n").utf8)
    let received = CallRecord(
      callID: "c1", isCaller: true, state: .terminated, status: nil, wasAnswered: true,
      ending: nil, localSDPBytes: nil, remoteSDPBytes: lf, dialogs: [])
    #expect(lf != full.bytes)
    #expect(received.remoteSDP == full && received == record)
    #expect(received.hashValue == record.hashValue)
    record.remoteSDP = nil
    #expect(received != record)
    // A description given in code is kept as given, even one its printed form would not
    // parse back to (a version other than 0, an empty address).
    var odd = full
    odd.version = 1
    odd.origin.address = ""
    #expect((try? SessionDescription(parsing: odd.bytes)) != odd)
    record.localSDP = odd
    #expect(record.localSDP == odd)
    #expect(
      CallRecord(
        callID: "c1", isCaller: true, state: .terminated, wasAnswered: true, remoteSDP: odd
      ).remoteSDP == odd)

    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(1)) }
    phones.simulation.run(until: SimInstant(microseconds: 500_000))
    let live = try phones.on("alice") { $0.record(of: callID) }
    phones.simulation.run(until: SimInstant(microseconds: 5_000_000))
    let ended = try #require(try phones.history("alice").last)
    #expect(ended.callID == callID && ended.state == .terminated)
    #expect(live?.localSDP != nil && live?.remoteSDP != nil)
    #expect(ended.localSDP == live?.localSDP && ended.remoteSDP == live?.remoteSDP)
    #expect(ended.remoteSDP == (try phones.history("bob").last?.localSDP))
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

  /// Agents registering with one registrar share one copy of its URI, and an agent keeps its
  /// REGISTER only while it is in flight (an idle agent keeps its registration state alone).
  @Test func registeringAgentsShareTheRegistrarAndKeepNoIdleRequest() throws {
    let simulation = Simulation()
    let network = Network(simulation: simulation)
    // A registrar host where nothing listens: the REGISTERs time out (Timer F).
    try network.addHost("silent")
    let registrar = SIPURI(host: "silent")
    var agents: [UserAgent] = []
    for name in ["a", "b"] {
      try network.addHost(name)
      agents.append(
        try UserAgent(network: network, host: name, aor: SIPURI(user: name, host: "example.com")))
    }
    simulation.inspect {
      for agent in agents {
        agent.assumeIsolated { agent in
          agent.register(with: registrar)
          #expect(agent.pendingRegister != nil)
        }
        // While a transaction lives the endpoint keeps its array for the layer's actions.
        agent.endpoint.assumeIsolated { #expect($0.actionRoom.capacity > 0) }
      }
    }
    let shared = agents.map { agent in
      simulation.inspect { agent.assumeIsolated { $0.registration?.sharedRegistrar } }
    }
    #expect(shared[0] != nil && shared[0] === shared[1])
    #expect(shared[0]?.uri == registrar)
    simulation.runUntilIdle()
    for agent in agents {
      simulation.inspect {
        agent.assumeIsolated { agent in
          #expect(agent.pendingRegister == nil)
          #expect(agent.endpoint.assumeIsolated { $0.actionRoom.capacity == 0 })
          // Its timer slots too, given back when the last transaction ended (Timer K).
          #expect(agent.endpoint.assumeIsolated { $0.timerSlots.capacity == 0 })
          #expect(agent.registration?.status != nil)
          #expect(agent.registration?.registrar == registrar)
        }
      }
    }
    // Another registrar gets its own copy; setting the URI through the public property too.
    let other = SIPURI(host: "elsewhere.example.com")
    let moved = simulation.inspect {
      agents[1].assumeIsolated { agent -> SharedURI? in
        agent.register(with: other)
        return agent.registration?.sharedRegistrar
      }
    }
    #expect(moved !== shared[0] && moved?.uri == other)
    var state = try #require(simulation.inspect { agents[0].assumeIsolated { $0.registration } })
    state.registrar = other
    #expect(state.registrar == other && state.sharedRegistrar !== shared[0])
  }
}
