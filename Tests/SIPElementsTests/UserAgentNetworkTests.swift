import SIPCore
import SIPDialog
import SIPElements
import SIPTransaction
import SIPTransport
import Simulation
import Synchronization
import Testing

/// A minimal stateless forking relay for the forking test (the real proxies are the servers'
/// business): it forwards each request to every target with its own Via on top (the branch
/// derived from the incoming one, so retransmissions take the same branch, §16.11) and each
/// response to the next Via.
final class ForkingRelay: Sendable {
  let socket = Mutex<DatagramSocket?>(nil)
  let address: SocketAddress
  let targets: [SocketAddress]

  init(network: Network, host: String, targets: [SocketAddress]) throws {
    address = SocketAddress(try network.host(named: host).addresses[0], 5060)
    self.targets = targets
    let bound = try network.bindDatagram(host: host, port: 5060) { [weak self] datagram in
      self?.relay(datagram)
    }
    socket.withLock { $0 = bound }
  }

  func relay(_ datagram: Datagram) {
    guard var message = try? SIPMessage.parse(datagram.payload) else { return }
    socket.withLock { socket in
      guard let socket else { return }
      if message.isRequest {
        let incoming = message.topVia?.branch ?? ""
        for (index, target) in targets.enumerated() {
          var copy = message
          copy.prepend(
            "Via", "SIP/2.0/UDP \(address);branch=z9hG4bK-relay-\(incoming)-\(index)")
          try? socket.send(copy.serialized(), to: target)
        }
      } else {
        message.removeTopVia()
        guard let via = message.topVia, let ip = IPAddress(via.host) else { return }
        try? socket.send(message.serialized(), to: SocketAddress(ip, UInt16(via.port ?? 5060)))
      }
    }
  }

  func close() { socket.withLock { $0?.close() } }
}

@Suite struct UserAgentNetworkTests {
  /// A basic call completes across 200 seeds at 20% loss (both ways, every message): the
  /// retransmissions of INVITE, 2xx (§13.3.1.4), ACK on each 2xx, and BYE carry it through,
  /// and nothing is left over.
  @Test func basicCallUnderLoss() throws {
    var retransmitted = 0
    for seed in 1...200 as ClosedRange<UInt64> {
      let phones = try Phones(
        seed: seed,
        link: LinkConditions(
          latency: .milliseconds(20), jitter: .uniform(max: .milliseconds(10)), lossProbability: 0.2
        ),
        [("alice", .answer()), ("bob", .ring(for: .seconds(2)))])
      let bob = try phones.uri("bob")
      _ = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(10)) }
      phones.simulation.runUntilIdle()
      let alice = try phones.history("alice")
      let callee = try phones.history("bob")
      #expect(alice.count == 1 && alice.first?.wasAnswered == true, "seed \(seed)")
      #expect(alice.first?.ending == "BYE sent", "seed \(seed)")
      #expect(callee.first?.wasAnswered == true, "seed \(seed)")
      phones.expectNothingLeftOver()
      retransmitted += phones.network.trace.events(named: "drop").count
    }
    #expect(retransmitted > 200, "loss happened")
  }

  /// Forking seen at the UAC (§13.2.2.4, §12.1.2): two UASs behind a forking relay both ring
  /// (two early dialogs) and both answer; alice ACKs both 2xx, keeps the first and ends the
  /// second with BYE.
  @Test func forkingWithTwoAnswers() throws {
    let phones = try Phones(
      [
        ("alice", .answer()), ("bob1", .ring(for: .seconds(1))),
        ("bob2", .ring(for: .milliseconds(1500))),
      ], extraHosts: ["relay"])
    let relay = try ForkingRelay(
      network: phones.network, host: "relay",
      targets: [
        SocketAddress(try phones.network.host(named: "bob1").addresses[0], 5060),
        SocketAddress(try phones.network.host(named: "bob2").addresses[0], 5060),
      ])
    defer { relay.close() }
    let target = try SIPURI("sip:bob@\(relay.address.address)")
    let callID = try phones.on("alice") { $0.call(target, hangUpAfter: .seconds(5)) }
    phones.simulation.run(for: .milliseconds(500))
    let early = phones.network.trace.events(named: "dialog-state").filter {
      "\($0.field("element")!)" == "alice" && "\($0.field("state")!)" == "Early"
    }
    #expect(early.count == 2, "two early dialogs")
    phones.simulation.runUntilIdle()
    let ladder = phones.ladder().filter { !$0.contains("relay") }
    #expect(ladder.filter { $0 == "alice>bob1 ACK" || $0 == "alice>bob2 ACK" }.count == 2)
    #expect(ladder.contains("alice>bob2 BYE"), "the second answer is ended at once")
    #expect(ladder.contains("alice>bob1 BYE"), "the kept call is ended after 5 s")
    let record = try #require(try phones.history("alice").first)
    #expect(record.callID == callID && record.wasAnswered && record.dialogs.count == 1)
    #expect(try phones.history("bob1").first?.ending == "BYE received")
    #expect(try phones.history("bob2").first?.ending == "BYE received")
    phones.expectNothingLeftOver()
  }

  /// 3xx recursion (§8.1.3.4): carol redirects to bob, who answers; a redirect loop between
  /// carol and dave ends when the target set is exhausted.
  @Test func redirectRecursion() throws {
    let redirect: @Sendable (String) -> UABehaviour = { target in
      .custom { agent, call in
        agent.reject(
          call.callID, status: 302, headers: [SIPParameter("Contact", "<\(target)>")])
      }
    }
    let phones = try Phones([
      ("alice", .answer()), ("bob", .answer()), ("carol", redirect("sip:bob@10.0.0.2")),
      ("dave", redirect("sip:carol@10.0.0.3")),
    ])
    let carol = try phones.uri("carol")
    _ = try phones.on("alice") { $0.call(carol, hangUpAfter: .seconds(1)) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == [
        "alice>carol INVITE", "carol>alice 302", "alice>carol ACK", "alice>bob INVITE",
        "bob>alice 200", "alice>bob ACK", "alice>bob BYE", "bob>alice 200",
      ])
    #expect(try phones.history("alice").first?.status == 200)

    try phones.on("carol") { $0.setBehaviour(redirect("sip:dave@10.0.0.4")) }
    let dave = try phones.uri("dave")
    _ = try phones.on("alice") { $0.call(dave) }
    phones.simulation.runUntilIdle()
    let second = try #require(try phones.history("alice").last)
    #expect(second.status == 302, "dave → carol → dave: a loop, tried once each")
    #expect(phones.ladder().filter { $0.hasSuffix("INVITE") }.count == 2 + 2)
    phones.expectNothingLeftOver()
  }

  /// The 401/407 hook (§22.2): a challenge is answered by the authenticator and the INVITE
  /// resent with the next CSeq.
  @Test func challengeAnsweredThroughTheHook() throws {
    let phones = try Phones([
      ("alice", .answer()),
      (
        "bob",
        .custom { agent, call in
          if call.invite.authorization.isEmpty {
            agent.reject(
              call.callID, status: 401,
              headers: [SIPParameter("WWW-Authenticate", "Digest realm=\"biloxi\", nonce=\"n1\"")])
          } else {
            agent.answer(call.callID)
          }
        }
      ),
    ])
    try phones.on("alice") { agent in
      agent.setAuthenticator { request, challenge in
        var retry = request
        let realm = challenge.wwwAuthenticate.first?.parameter("realm") ?? ""
        retry.prepend("Authorization", "Digest username=\"alice\", realm=\"\(realm)\"")
        return retry
      }
    }
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(1)) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 401", "alice>bob ACK", "alice>bob INVITE",
        "bob>alice 200", "alice>bob ACK", "alice>bob BYE", "bob>alice 200",
      ])
    let cseqs = phones.network.trace.events(named: "deliver").compactMap { $0.field("cseq") }
      .map { "\($0)" }
    #expect(cseqs.contains("2 INVITE") && cseqs.contains("3 BYE"))
    phones.expectNothingLeftOver()
  }
}
