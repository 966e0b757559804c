import SIPCore
import SIPElements
import SIPTransaction
import SIPTransport
import Simulation
import Synchronization
import Testing

/// Stream connections a host crash killed (RFC 3261 §18, §18.2.2, §18.4). A crash closes every
/// socket of the host and tells no one; a restart rebinds the listening points and the elements
/// keep their state. The crashed host's endpoint knows its own connections are dead and opens new
/// ones; its peer cannot know until a write meets the reset.
@Suite struct DeadConnectionTests {
  /// An OPTIONS with its own Call-ID and CSeq.
  static func options(_ number: Int, to uri: String = "sip:bob@10.0.0.2") -> SIPMessage {
    var request = makeRequest("OPTIONS", to: uri)
    request.set("Call-ID", "dead-\(number)@10.0.0.1")
    request.set("CSeq", "\(number) OPTIONS")
    return request
  }

  static func at(seconds: Int64) -> SimInstant { SimInstant(microseconds: seconds * 1_000_000) }

  /// `host` crashes at 1 s and comes back at 2 s.
  static func crashAndRestart(_ host: String, in network: Network) throws {
    try network.schedule(.crash(host), at: at(seconds: 1))
    try network.schedule(.restart(host), at: at(seconds: 2))
  }

  /// Sets a core on `host` that logs every event and keeps the last request, to be answered
  /// later.
  static func holdingCore(_ host: String, in scenario: Scenario) throws -> HeldRequest {
    let held = HeldRequest()
    let endpoint = try scenario.endpoint(host)
    let log = scenario.log
    let simulation = scenario.simulation
    simulation.inspect {
      endpoint.assumeIsolated { endpoint in
        endpoint.setCore { endpoint, event in
          log.append("\(simulation.now.microseconds / 1000) \(endpoint.hostName) \(event)")
          if case .request(let request, let key?) = event {
            held.value.withLock { $0.append((request, key)) }
          }
        }
      }
    }
    return held
  }

  /// The `connect` events from the host with `address`, as "to" addresses.
  static func connects(from address: String, in network: Network) -> [String] {
    network.trace.events(named: "connect").compactMap { event in
      guard let from = event.from, from.address.description == address else { return nil }
      return event.to?.description
    }
  }

  /// Scenario 1, the crashed host: alice's TCP connection to bob died with her host. Restarted,
  /// her endpoint still held it; the next request over it failed at once (a transport error, a
  /// 503 to a UA, §8.1.3.1) though alice's own socket was known closed. It goes over a new
  /// connection instead.
  @Test func aRestartedHostOpensANewConnectionForItsNextRequest() throws {
    let scenario = try Scenario()
    try scenario.core("alice")
    try scenario.core("bob") { [$0.response(status: 200, toTag: "b1")] }
    try scenario.send(Self.options(1), from: "alice", to: peer("10.0.0.2", .tcp))
    try Self.crashAndRestart("alice", in: scenario.network)
    scenario.simulation.run(until: Self.at(seconds: 3))
    try scenario.send(Self.options(2), from: "alice", to: peer("10.0.0.2", .tcp))
    scenario.simulation.runUntilIdle()
    // Handshake 0–20 ms, request at 30 ms, response at 40 ms; the same from 3 s.
    #expect(
      scenario.log.all == ["30 bob OPTIONS", "40 alice 200", "3030 bob OPTIONS", "3040 alice 200"])
    #expect(
      Self.connects(from: "10.0.0.1", in: scenario.network) == ["10.0.0.2:5060", "10.0.0.2:5060"])
    scenario.expectNothingLeftOver()
  }

  /// The response path on the crashed host: bob's request came over a connection alice's crash
  /// killed, and her core answers after the restart. §18.2.2: "If that connection is no longer
  /// open, the server SHOULD open a connection to the IP address in the "received" parameter,
  /// if present, using the port in the "sent-by" value" — bob's listening port, not the
  /// ephemeral source port `rport` recorded (RFC 3581 §4 changes only the unreliable-transport
  /// rule). Before, the response went to the dead connection: a transport error at alice, and
  /// bob's Timer F at 32 s.
  @Test func aRestartedHostAnswersOverANewConnectionToTheSentByPort() throws {
    let scenario = try Scenario()
    try scenario.core("bob")
    let held = try Self.holdingCore("alice", in: scenario)
    var request = Self.options(1, to: "sip:alice@10.0.0.1")
    request.set("From", "Bob <sip:bob@10.0.0.2>;tag=77")
    try scenario.send(request, from: "bob", to: peer("10.0.0.1", .tcp))
    try Self.crashAndRestart("alice", in: scenario.network)
    scenario.simulation.run(until: Self.at(seconds: 3))
    try held.answer(200, on: try scenario.endpoint("alice"), in: scenario.simulation)
    scenario.simulation.runUntilIdle()
    #expect(scenario.log.all == ["30 alice OPTIONS", "3030 bob 200"])
    // bob's connection came from an ephemeral port; alice's goes to bob's sent-by port.
    #expect(Self.connects(from: "10.0.0.1", in: scenario.network) == ["10.0.0.2:5060"])
    scenario.expectNothingLeftOver()
  }

  /// Two requests from bob over one connection, both held by alice's core across her crash and
  /// restart. Answering the first drops the dead connection and opens a new one (§18.2.2); the
  /// second's server transaction is spared, like the sender: it too can answer over a new
  /// connection, and does a second later. Before, dropping the connection failed it with a
  /// transport error ("3000 alice transport error") though its answer could still go out.
  @Test func aDeadConnectionDroppedByOneAnswerSparesTheOtherServerTransactions() throws {
    let scenario = try Scenario()
    try scenario.core("bob")
    let held = try Self.holdingCore("alice", in: scenario)
    // INVITEs: their server transactions send 100 Trying on the connection at 200 ms, so both
    // are among the transactions that used it when it dies.
    for number in 1...2 {
      var request = makeRequest("INVITE", to: "sip:alice@10.0.0.1")
      request.set("From", "Bob <sip:bob@10.0.0.2>;tag=7\(number)")
      request.set("Call-ID", "dead-invite-\(number)@10.0.0.2")
      try scenario.send(request, from: "bob", to: peer("10.0.0.1", .tcp))
    }
    try Self.crashAndRestart("alice", in: scenario.network)
    let alice = try scenario.endpoint("alice")
    scenario.simulation.run(until: Self.at(seconds: 3))
    try held.answer(486, index: 0, on: alice, in: scenario.simulation)
    scenario.simulation.run(until: Self.at(seconds: 4))
    try held.answer(486, index: 1, on: alice, in: scenario.simulation)
    scenario.simulation.runUntilIdle()
    // Alice's second transaction is not failed: its 486 goes out at 4 s over the connection the
    // first opened. Bob, the peer of the crashed host, learns of the reset when his ACK for
    // the first 486 meets it (3050 ms, §18.4), which fails his other INVITE: the second 486
    // reaches him as a stray, and neither ACK reaches alice (Timer H at 32 s after each).
    #expect(
      scenario.log.all == [
        "30 alice INVITE", "30 alice INVITE", "240 bob 100", "240 bob 100", "3030 bob 486",
        "3050 bob transport error", "4010 bob 486 (stray)", "35000 alice timeout H",
        "36000 alice timeout H",
      ], "\(scenario.log.all)")
    scenario.expectNothingLeftOver()
  }

  /// Scenario 2, the peer of the crashed host: bob crashed and restarted under alice's open TCP
  /// connection. Alice cannot know (her socket is open, nothing arrived): her next request is
  /// written on it, meets bob's reset one round trip later, and is a transport error of the
  /// transactions on that connection (§18.4; a 503 to a UA, §8.1.3.1), as a real stack's write
  /// meeting a RST would be. RFC 3261 asks no retry over a new connection (fail-over is the TU's,
  /// RFC 3263 §4.3); the request after it opens a new connection and gets through.
  @Test func thePeerOfARestartedHostLearnsAtItsNextWrite() throws {
    let scenario = try Scenario()
    try scenario.core("alice")
    try scenario.core("bob") { [$0.response(status: 200, toTag: "b1")] }
    try scenario.send(Self.options(1), from: "alice", to: peer("10.0.0.2", .tcp))
    try Self.crashAndRestart("bob", in: scenario.network)
    scenario.simulation.run(until: Self.at(seconds: 3))
    try scenario.send(Self.options(2), from: "alice", to: peer("10.0.0.2", .tcp))
    scenario.simulation.run(until: Self.at(seconds: 4))
    try scenario.send(Self.options(3), from: "alice", to: peer("10.0.0.2", .tcp))
    scenario.simulation.runUntilIdle()
    #expect(
      scenario.log.all == [
        "30 bob OPTIONS", "40 alice 200", "3020 alice transport error", "4030 bob OPTIONS",
        "4040 alice 200",
      ])
    let drops = scenario.network.trace.events(named: "drop").map { $0.field("reason") }
    let resets = scenario.network.trace.events(named: "reset").map { $0.field("reason") }
    #expect(drops == [.string("closed")] && resets == [.string("closed")])
    scenario.expectNothingLeftOver()
  }

  /// Scenario 2 on the response path, pinned as it is: alice crashed and restarted after her
  /// request reached bob over TCP, and bob's response is written on the connection, which he
  /// cannot know is dead. It meets alice's reset; his non-INVITE server transaction ended with
  /// the send (Timer J is zero over TCP), so no one is told, and alice's transaction ends at
  /// 32 s (her idle check's transport error, at the instant of her Timer F).
  /// Not what RFC 3261 §17.2.4 asks: a server transaction whose response fails first tries
  /// RFC 3263's procedures to deliver it elsewhere (a numeric sent-by: a new connection there).
  /// The endpoint would have to keep what it wrote on a connection until the reset came back.
  @Test func aResponseOnAConnectionWhosePeerRestartedIsLost() throws {
    let scenario = try Scenario()
    try scenario.core("alice")
    let held = try Self.holdingCore("bob", in: scenario)
    try scenario.send(Self.options(1), from: "alice", to: peer("10.0.0.2", .tcp))
    try Self.crashAndRestart("alice", in: scenario.network)
    scenario.simulation.run(until: Self.at(seconds: 3))
    try held.answer(200, on: try scenario.endpoint("bob"), in: scenario.simulation)
    scenario.simulation.runUntilIdle()
    // At 32 s alice's idle check drops the connection her crash closed, and her transaction
    // on it gets a transport error, just before its Timer F would have fired.
    #expect(scenario.log.all == ["30 bob OPTIONS", "32000 alice transport error"])
    let resets = scenario.network.trace.events(named: "reset").map { $0.time / 1000 }
    #expect(resets == [3020])
    scenario.expectNothingLeftOver()
  }

  /// The stateless proxy on a crashed host: alice's request reached it over TCP and went on to
  /// bob over UDP; the proxy crashed and restarted before bob answered. The response it passes
  /// back finds the connection alice's request came on (her Via's `received` and `rport`) dead
  /// and goes over a new one to her sent-by port (§18.2.2). Before, it was written on the dead
  /// connection and lost (a stateless proxy has no transaction to tell), and alice's Timer F
  /// fired at 32 s.
  @Test func aRestartedStatelessProxyPassesTheResponseOverANewConnection() throws {
    var scenario = try Scenario(hosts: ["alice", "proxy", "bob"], silent: ["proxy"])
    let proxy = try StatelessProxy(network: scenario.network, host: "proxy")
    scenario.endpoints["proxy"] = proxy.endpoint
    try scenario.core("alice")
    let held = try Self.holdingCore("bob", in: scenario)
    try scenario.send(
      Self.options(1, to: "sip:bob@10.0.0.3"), from: "alice", to: peer("10.0.0.2", .tcp))
    try Self.crashAndRestart("proxy", in: scenario.network)
    scenario.simulation.run(until: Self.at(seconds: 3))
    try held.answer(200, on: try scenario.endpoint("bob"), in: scenario.simulation)
    scenario.simulation.runUntilIdle()
    // Handshake to 20 ms, the proxy at 30, bob at 40; the 200 at the proxy at 3010, its
    // handshake to 3030, alice at 3040.
    #expect(scenario.log.all == ["40 bob OPTIONS", "3040 alice 200"])
    #expect(Self.connects(from: "10.0.0.2", in: scenario.network) == ["10.0.0.1:5060"])
    scenario.expectNothingLeftOver()
    withExtendedLifetime(proxy) {}
  }

  /// A call across the caller's crash and restart: bob rings over TCP, alice's host crashes and
  /// comes back, bob answers. His 200 is written on the connection alice's crash killed: it
  /// meets her reset, and his INVITE server transaction is over anyway (a 2xx ends it). His
  /// core retransmits the 2xx at T1 (§13.3.1.4); with the connection gone that goes over a new
  /// one to alice's sent-by port (§18.2.2), her INVITE client transaction (kept across the
  /// restart) takes it and ACKs it (to bob's Contact, which names no transport: UDP), and the
  /// call is up. Before, the retransmissions went to the ephemeral port in alice's `rport`,
  /// where nothing listens.
  @Test func aCallSurvivesTheCallersRestart() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .ring(for: .seconds(5)))])
    let target = try SIPURI("sip:bob@10.0.0.2;transport=tcp")
    let callID = try phones.on("alice") { $0.call(target, hangUpAfter: .seconds(10)) }
    try Self.crashAndRestart("alice", in: phones.network)
    // A bounded run: when the 2xx never reached alice (as before), her INVITE client
    // transaction stayed in Proceeding, which has no timer, and the idle check of its connection
    // came round for ever.
    phones.simulation.run(for: .seconds(120))
    // The 200 sent at 5030 ms is lost on the dead connection; its retransmission at 5530 ms
    // opens a new one (handshake to 5550) and reaches alice at 5560.
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 180", "bob>alice 200", "alice>bob ACK", "alice>bob BYE",
        "bob>alice 200",
      ])
    #expect(phones.events.all.contains("5560 alice \(callID) 200 to INVITE"))
    #expect(Self.connects(from: "10.0.0.2", in: phones.network) == ["10.0.0.1:5060"])
    let record = try #require(try phones.history("alice").first)
    #expect(record.callID == callID && record.wasAnswered && record.ending == "BYE sent")
    phones.expectNothingLeftOver()
  }

  /// The proxy on a crashed host: it forwarded over TCP to bob, crashed and restarted, and
  /// forwards the next request over a new connection (before, the dead one failed the branch at
  /// once: a 503 for the branch, which alice got as a 500, §16.7).
  @Test func aRestartedProxyForwardsOverANewConnection() throws {
    var scenario = try Scenario(hosts: ["alice", "proxy", "bob"], silent: ["proxy"])
    let proxy = try Proxy(
      network: scenario.network, host: "proxy", location: nil,
      configuration: ProxyConfiguration(domains: ["example.com"]))
    scenario.endpoints["proxy"] = proxy.endpoint
    try scenario.core("alice")
    try scenario.core("bob") { [$0.response(status: 200, toTag: "b1")] }
    let uri = "sip:bob@10.0.0.3;transport=tcp"
    try scenario.send(Self.options(1, to: uri), from: "alice", to: peer("10.0.0.2"))
    try Self.crashAndRestart("proxy", in: scenario.network)
    scenario.simulation.run(until: Self.at(seconds: 3))
    try scenario.send(Self.options(2, to: uri), from: "alice", to: peer("10.0.0.2"))
    scenario.simulation.runUntilIdle()
    // alice → proxy 10 ms, handshake to 30 ms, bob at 40 ms, 200 at the proxy at 50, alice 60.
    #expect(
      scenario.log.all == ["40 bob OPTIONS", "60 alice 200", "3040 bob OPTIONS", "3060 alice 200"])
    #expect(
      Self.connects(from: "10.0.0.2", in: scenario.network) == ["10.0.0.3:5060", "10.0.0.3:5060"])
    scenario.expectNothingLeftOver()
    let alive = scenario.simulation.inspect {
      proxy.assumeIsolated { [$0.liveContexts, $0.armedTimers] }
    }
    #expect(alive == [0, 0])
  }
  /// Bob rings over TCP, alice's host crashes and comes back, bob rejects. His 486 is written
  /// on the dead connection and lost (no 2xx retransmission carries it over a new one). Alice's
  /// INVITE client transaction, in Proceeding (no timer), waited for ever on a connection no
  /// send picks again (its idle check re-armed itself while the transaction lived); the idle
  /// check now drops the dead connection at 32 s with a transport error (a 503 to the UA).
  @Test func aCallRejectedAcrossTheCallersRestartEnds() throws {
    let phones = try Phones([
      ("alice", .answer()),
      (
        "bob",
        .custom { agent, call in
          agent.ring(call.callID)
          agent.after(.seconds(5)) { $0.reject(call.callID, status: 486) }
        }
      ),
    ])
    let target = try SIPURI("sip:bob@10.0.0.2;transport=tcp")
    _ = try phones.on("alice") { $0.call(target) }
    try Self.crashAndRestart("alice", in: phones.network)
    phones.simulation.run(for: .seconds(300))
    let record = try #require(try phones.history("alice").first)
    #expect(!record.wasAnswered)
    phones.expectNothingLeftOver()
  }
}

/// The last request a core kept to answer later.
final class HeldRequest: Sendable {
  let value = Mutex<[(SIPMessage, TransactionKey)]>([])

  /// Answers a kept request (the last one, or the one at `index`) with `status` now.
  func answer(
    _ status: Int, index: Int? = nil, on endpoint: SIPEndpoint, in simulation: Simulation,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let kept = value.withLock { $0 }
    let position = index ?? kept.count - 1
    let (request, key) = try #require(
      kept.indices.contains(position) ? kept[position] : nil, sourceLocation: sourceLocation)
    simulation.inspect {
      endpoint.assumeIsolated { $0.respond(request.response(status: status, toTag: "h1"), in: key) }
    }
  }
}
