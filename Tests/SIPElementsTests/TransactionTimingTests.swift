import SIPCore
import SIPElements
import SIPTransaction
import SIPTransport
import Simulation
import Testing

/// The transaction layer over the simulated network, at exact virtual instants (RFC 3261 §17,
/// Table 4; RFC 6026).
@Suite struct TransactionTimingTests {
  /// §17.1.1.2: an INVITE to a silent host is sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s and
  /// the TU hears of Timer B at 64·T1 = 32 s.
  @Test func inviteToASilentHost() throws {
    let scenario = try Scenario(silent: ["bob"])
    try scenario.core("alice")
    try scenario.send(makeRequest("INVITE"), from: "alice", to: peer("10.0.0.2"))
    scenario.simulation.runUntilIdle()
    #expect(
      try scenario.sendTimes(from: "alice", "INVITE")
        == [0, 500, 1500, 3500, 7500, 15500, 31500])
    #expect(scenario.log.all == ["32000 alice timeout B"])
    scenario.expectNothingLeftOver()
  }

  /// §17.1.2.2: a non-INVITE doubles its interval up to T2 = 4 s; Timer F at 32 s.
  @Test func nonInviteToASilentHost() throws {
    let scenario = try Scenario(silent: ["bob"])
    try scenario.core("alice")
    try scenario.send(makeRequest("OPTIONS"), from: "alice", to: peer("10.0.0.2"))
    scenario.simulation.runUntilIdle()
    #expect(
      try scenario.sendTimes(from: "alice", "OPTIONS")
        == [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500])
    #expect(scenario.log.all == ["32000 alice timeout F"])
    scenario.expectNothingLeftOver()
  }

  /// A request that cannot be sent at all (no route to its peer) fails inside the endpoint's
  /// handling of the send, before the transaction's timer starts are carried out; its
  /// transport error is the endpoint's next event at the same instant, after the send has
  /// returned to the core, so the dead transaction's Timers A and B are armed and then
  /// cancelled, and none is left armed (reported at once, it ended the transaction first: A and
  /// B were armed for a dead transaction and fired for nothing at 0.5 s and 32 s). The next
  /// transaction's timers fire at their own instants (a timer-slot design tried in stop 26 let
  /// the dead transaction's timers fire into the next one's: E 100 ms early, F at 32.0 s
  /// instead of 32.1 s).
  @Test func aRequestThatCannotBeSentLeavesTheNextTransactionsTimersAlone() throws {
    let scenario = try Scenario(silent: ["bob"])
    try scenario.core("alice")
    let dead = try #require(
      try scenario.send(
        makeRequest("INVITE"), from: "alice",
        to: SIPPeer(host: "nowhere.invalid", port: 5060, transport: .udp)))
    let alice = try scenario.endpoint("alice")
    // Not reported inside the send: the core hears of it after it returns, at the same instant.
    #expect(scenario.simulation.inspect { alice.assumeIsolated { $0.armedTimers } } == 2)
    #expect(scenario.log.all.isEmpty)
    scenario.simulation.run(for: .zero)
    #expect(scenario.log.all == ["0 alice transport error"])
    #expect(scenario.simulation.inspect { alice.assumeIsolated { $0.armedTimers } } == 0)
    let timerEvents = scenario.network.trace.events.compactMap { event -> String? in
      guard event.event.hasPrefix("timer-"), event.field("transaction") == .string(dead.description)
      else { return nil }
      return "\(event.event) \(event.field("timer").map { "\($0)" } ?? "")"
    }
    #expect(
      timerEvents == ["timer-armed A", "timer-armed B", "timer-cancelled A", "timer-cancelled B"])
    scenario.simulation.schedule(at: SimInstant(microseconds: 100_000), into: alice) { endpoint in
      endpoint.sendRequest(makeRequest("OPTIONS"), to: peer("10.0.0.2"))
    }
    scenario.simulation.runUntilIdle()
    #expect(
      try scenario.sendTimes(from: "alice", "OPTIONS")
        == [100, 600, 1600, 3600, 7600, 11600, 15600, 19600, 23600, 27600, 31600])
    #expect(scenario.log.all == ["0 alice transport error", "32100 alice timeout F"])
    scenario.expectNothingLeftOver()
  }

  /// Many timers at once in the endpoint's slots, numbered by the layer: twelve transactions at
  /// once (24 timers) keep every retransmission instant and each cancels its own Timer E; an
  /// endpoint left with none armed gives its slots back, and the next ones work as well.
  @Test func manyTimersAtOnceAndFewAfter() throws {
    let scenario = try Scenario(silent: ["bob"])
    try scenario.core("alice")
    for _ in 0..<12 {
      try scenario.send(makeRequest("OPTIONS"), from: "alice", to: peer("10.0.0.2"))
    }
    scenario.simulation.runUntilIdle()
    let once: [Int64] = [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    #expect(
      try scenario.sendTimes(from: "alice", "OPTIONS")
        == once.flatMap { Array(repeating: $0, count: 12) })
    #expect(scenario.log.all == Array(repeating: "32000 alice timeout F", count: 12))
    scenario.expectNothingLeftOver()
    // After the slots were given back.
    for _ in 0..<2 {
      try scenario.send(makeRequest("OPTIONS"), from: "alice", to: peer("10.0.0.2"))
    }
    scenario.simulation.runUntilIdle()
    #expect(try scenario.sendTimes(from: "alice", "OPTIONS").count == 12 * 11 + 2 * 11)
    #expect(scenario.log.all.count == 14)
    #expect(scenario.log.all.suffix(2) == ["64000 alice timeout F", "64000 alice timeout F"])
    scenario.expectNothingLeftOver()
  }

  /// Timer K = T4 at the client, Timer J = 64·T1 at the server, both from the 200.
  @Test func timersKAndJ() throws {
    let scenario = try Scenario()
    try scenario.core("alice")
    try scenario.core("bob") { request in [request.response(status: 200, toTag: "b1")] }
    let key = try #require(
      try scenario.send(makeRequest("OPTIONS"), from: "alice", to: peer("10.0.0.2")))
    scenario.simulation.runUntilIdle()
    #expect(scenario.log.all == ["10 bob OPTIONS", "20 alice 200"])
    let destroyed = scenario.network.trace.events(named: "transaction-destroyed").map {
      "\($0.time / 1000) \($0.field("element").map { "\($0)" } ?? "")"
    }
    // K fires 5 s after the 200 reached alice (20 ms); J 32 s after bob sent it (10 ms).
    #expect(destroyed == ["5020 alice", "32010 bob"])
    #expect(
      scenario.network.trace.events(named: "timer-armed").contains {
        $0.field("transaction") == .string(key.description) && $0.field("timer") == .string("K")
          && $0.field("duration") == .integer(5_000_000)
      })
    scenario.expectNothingLeftOver()
  }

  /// The INVITE server sends 100 Trying itself when its TU is silent for 200 ms (§17.2.1); a
  /// 486 is retransmitted by Timer G until the ACK, then Timer I (T4); the client's Timer D is
  /// 32 s.
  @Test func trying100TimersGIAndD() throws {
    let scenario = try Scenario()
    try scenario.core("alice")
    let simulation = scenario.simulation
    let bob = try scenario.endpoint("bob")
    try scenario.core("bob") { request in
      // Answer 486 one second later, from a timer in the core.
      simulation.schedule(
        at: SimInstant(microseconds: simulation.now.microseconds + 1_000_000), into: bob
      ) { endpoint in
        endpoint.respond(request.response(status: 486, toTag: "b1"))
      }
      return []
    }
    try scenario.send(makeRequest("INVITE"), from: "alice", to: peer("10.0.0.2"))
    simulation.runUntilIdle()
    #expect(try scenario.sendTimes(from: "bob", "SIP/2.0 100") == [210])
    #expect(try scenario.sendTimes(from: "bob", "SIP/2.0 486") == [1010])
    #expect(try scenario.sendTimes(from: "alice", "ACK") == [1020])
    #expect(scenario.log.all == ["10 bob INVITE", "220 alice 100", "1020 alice 486"])
    let destroyed = scenario.network.trace.events(named: "transaction-destroyed").map {
      "\($0.time / 1000) \($0.field("element").map { "\($0)" } ?? "")"
    }
    // Bob: ACK at 1030 + Timer I (T4 = 5 s); alice: 1020 + Timer D (32 s).
    #expect(destroyed == ["6030 bob", "33020 alice"])
    scenario.expectNothingLeftOver()
  }

  /// Timer H: the ACK never comes, so the 486 is retransmitted at T1 doubling to T2 and the
  /// server transaction gives up at 64·T1.
  @Test func timerHWithoutACK() throws {
    let scenario = try Scenario(silent: ["alice"])
    try scenario.core("bob") { request in [request.response(status: 486, toTag: "b1")] }
    // A raw UDP socket on alice plays a client that never ACKs.
    let socket = try scenario.network.bindDatagram(host: "alice", port: 5060) { _ in }
    var invite = makeRequest("INVITE")
    invite.prepend("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnoack")
    try socket.send(
      invite.serialized(), to: SocketAddress(try #require(IPAddress("10.0.0.2")), 5060))
    scenario.simulation.runUntilIdle()
    #expect(
      try scenario.sendTimes(from: "bob", "SIP/2.0 486")
        == [10, 510, 1510, 3510, 7510, 11510, 15510, 19510, 23510, 27510, 31510])
    #expect(scenario.log.all == ["10 bob INVITE", "32010 bob timeout H"])
    socket.close()
    scenario.expectNothingLeftOver()
  }

  /// §17.2.4: a response that cannot be sent (the Via's maddr names no host) is a transport
  /// error the core hears of, even when it answers 180 and then 200 from one handler: the
  /// 180's error is reported while the transaction is in Proceeding, and it ends there. (With
  /// the error held to the end of the outermost event, it reached the transaction in Accepted,
  /// which absorbed it: the core never heard, and the transaction lived until Timer L.)
  @Test func aResponseThatCannotBeSentIsReportedBeforeTheCoreAnswersAgain() throws {
    let scenario = try Scenario(silent: ["alice"])
    try scenario.core("bob") { request in
      [request.response(status: 180, toTag: "b1"), request.response(status: 200, toTag: "b1")]
    }
    let socket = try scenario.network.bindDatagram(host: "alice", port: 5060) { _ in }
    var invite = makeRequest("INVITE")
    invite.prepend(
      "Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKmaddr;maddr=nowhere.invalid")
    try socket.send(
      invite.serialized(), to: SocketAddress(try #require(IPAddress("10.0.0.2")), 5060))
    scenario.simulation.runUntilIdle()
    #expect(scenario.log.all == ["10 bob INVITE", "10 bob transport error"])
    let states = scenario.network.trace.events(named: "transaction-state").map {
      "\($0.time / 1000) \($0.field("toState").map { "\($0)" } ?? "")"
    }
    #expect(states == ["10 Terminated"])
    socket.close()
    scenario.expectNothingLeftOver()
  }

  /// RFC 6026: a 2xx puts both INVITE transactions in Accepted; L and M are 64·T1.
  @Test func timersLAndM() throws {
    let scenario = try Scenario()
    try scenario.core("alice")
    try scenario.core("bob") { request in [request.response(status: 200, toTag: "b1")] }
    try scenario.send(makeRequest("INVITE"), from: "alice", to: peer("10.0.0.2"))
    scenario.simulation.runUntilIdle()
    let states = scenario.network.trace.events(named: "transaction-state").map {
      "\($0.time / 1000) \($0.field("element").map { "\($0)" } ?? "") \($0.field("toState").map { "\($0)" } ?? "")"
    }
    #expect(
      states == [
        "10 bob Accepted", "20 alice Accepted", "32010 bob Terminated", "32020 alice Terminated",
      ])
    scenario.expectNothingLeftOver()
  }

  /// A core that answers an INVITE at once cancels the server's Trying timer, and the trace
  /// says so in order: armed, then cancelled, both at the INVITE's arrival, and nothing of it
  /// armed afterwards (the start used to be carried out after the core's answer, arming a
  /// timer already cancelled: the trace showed Trying armed after the 180, never cancelled).
  @Test func anImmediateAnswerCancelsTrying() throws {
    let scenario = try Scenario()
    try scenario.core("alice")
    try scenario.core("bob") { request in
      [request.response(status: 180, toTag: "b1"), request.response(status: 200, toTag: "b1")]
    }
    try scenario.send(makeRequest("INVITE"), from: "alice", to: peer("10.0.0.2"))
    scenario.simulation.runUntilIdle()
    let bobTimers = scenario.network.trace.events.filter {
      $0.event.hasPrefix("timer-") && $0.field("element").map { "\($0)" } == "bob"
    }.map { "\($0.time / 1000) \($0.event) \($0.field("timer").map { "\($0)" } ?? "")" }
    #expect(
      bobTimers == [
        "10 timer-armed Trying", "10 timer-cancelled Trying", "10 timer-armed L",
        "32010 timer-fired L",
      ])
    scenario.expectNothingLeftOver()
  }

  /// Reliable transports: no A, E or G; D, I, J, K are zero (§17.1.1.2, §17.1.2.2, §17.2.1).
  @Test func reliableTransportTimers() throws {
    let scenario = try Scenario()
    try scenario.core("alice")
    try scenario.core("bob") { request in [request.response(status: 200, toTag: "b1")] }
    try scenario.send(makeRequest("OPTIONS"), from: "alice", to: peer("10.0.0.2", .tcp))
    scenario.simulation.runUntilIdle()
    let armed = scenario.network.trace.events(named: "timer-armed").map {
      "\($0.field("element").map { "\($0)" } ?? "") \($0.field("timer").map { "\($0)" } ?? "") \($0.field("duration").map { "\($0)" } ?? "")"
    }
    #expect(armed == ["alice F 32000000", "bob J 0", "alice K 0"])
    #expect(scenario.log.all.count == 2)
    scenario.expectNothingLeftOver()
  }
}
