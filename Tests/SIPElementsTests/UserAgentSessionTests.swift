import SIPCore
import SIPDialog
import SIPElements
import Simulation
import Testing

/// Drops or passes datagrams whose first line starts with `prefix`, counting them.
final class MessageFault: Sendable {
  let prefix: String
  let dropFirst: Int
  let seen = CoreLog()
  init(dropping prefix: String, first count: Int = .max) {
    self.prefix = prefix
    dropFirst = count
  }
  func verdict(_ datagram: Datagram) -> PacketFault {
    guard String(decoding: datagram.payload.prefix(prefix.utf8.count), as: UTF8.self) == prefix
    else { return .pass }
    seen.append(prefix)
    return seen.all.count <= dropFirst ? .drop : .pass
  }
}

@Suite struct UserAgentSessionTests {
  /// The first ACK is lost: bob retransmits the 200 at T1 and alice ACKs it again (§13.2.2.4,
  /// §13.3.1.4).
  @Test func lostAckRecoveredBySuccessRetransmission() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let fault = MessageFault(dropping: "ACK", first: 1)
    phones.network.datagramFault = { fault.verdict($0) }
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(5)) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 200", "bob>alice 200", "alice>bob ACK", "alice>bob BYE",
        "bob>alice 200",
      ])
    let drops = phones.network.trace.events(named: "drop").map { "\($0.field("reason")!)" }
    #expect(drops == ["fault"])
    #expect(try phones.history("bob").first?.ending == "BYE received")
    phones.expectNothingLeftOver()
  }

  /// No ACK ever arrives: the 200 goes at 0, T1, 3·T1, 7·T1, then every T2 until 64·T1, and
  /// the callee ends the session with BYE (§13.3.1.4).
  @Test func noAckEndsTheCallAtSixtyFourT1() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    phones.network.datagramFault = MessageFault(dropping: "ACK").verdict
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob) }
    phones.simulation.runUntilIdle()
    let address = try phones.network.host(named: "bob").addresses[0]
    let sends = phones.network.trace.events(named: "send").filter {
      $0.from?.address == address && "\($0.field("summary")!)" == "SIP/2.0 200 OK"
        && "\($0.field("cseq")!)" == "1 INVITE"
    }.map { $0.time / 1000 - 10 }
    let expected = SessionRules.successSchedule(t1: .milliseconds(500), t2: .seconds(4)).map {
      $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000
    }
    #expect(sends == expected)
    #expect(sends == [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500])
    let bye = phones.network.trace.events(named: "send").first {
      $0.from?.address == address && "\($0.field("summary")!)".hasPrefix("BYE")
    }
    #expect(bye?.time == 32_010_000)
    #expect(try phones.history("bob").first?.ending == "no ACK")
    #expect(try phones.history("alice").first?.ending == "BYE received")
    phones.expectNothingLeftOver()
  }

  /// CANCEL racing a 200 OK: the 200 wins, the CANCEL gets 200 but no 487, and the caller ends
  /// the now confirmed call with BYE (§9.1, §9.2).
  @Test func cancelRacingTheSuccessResponse() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .ring(for: .seconds(1)))])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    // bob answers at 1010 ms; the 200 reaches alice at 1020 ms. alice cancels at 1012 ms.
    phones.simulation.run(until: SimInstant(microseconds: 1_012_000))
    try phones.on("alice") { $0.cancel(callID) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 180", "bob>alice 200", "alice>bob CANCEL", "alice>bob ACK",
        "alice>bob BYE", "bob>alice 200", "bob>alice 200",
      ])
    let cseqs = phones.network.trace.events(named: "deliver").compactMap { $0.field("cseq") }
    #expect(cseqs.map { "\($0)" }.suffix(2) == ["1 CANCEL", "2 BYE"], "200 to CANCEL, not 487")
    let alice = try #require(try phones.history("alice").first)
    #expect(alice.wasAnswered && alice.status == 200 && alice.ending == "BYE sent")
    #expect(try phones.history("bob").first?.ending == "BYE received")
    phones.expectNothingLeftOver()
  }

  /// CANCEL before any provisional response waits for one (§9.1).
  @Test func cancelWaitsForAProvisionalResponse() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .noAnswer)])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    try phones.on("alice") { $0.cancel(callID) }
    phones.simulation.runUntilIdle()
    let cancel = phones.network.trace.events(named: "send").first {
      "\($0.field("summary")!)".hasPrefix("CANCEL")
    }
    #expect(cancel?.time == 20_000, "sent when the 180 arrived, not at 0")
    #expect(try phones.history("alice").first?.status == 487)
    phones.expectNothingLeftOver()
  }

  /// Hold and resume by re-INVITE (RFC 3264 §8.4): sendonly offered, recvonly answered, then
  /// sendrecv again; each offer's version one higher.
  @Test func holdAndResume() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    phones.simulation.run(for: .seconds(1))
    try phones.on("alice") { $0.reinvite(callID, hold: true) }
    phones.simulation.run(for: .seconds(1))
    let held = try phones.on("bob") { $0.record(of: callID) }
    #expect(held?.remoteSDP?.media.first?.direction == .sendonly)
    #expect(held?.localSDP?.media.first?.direction == .recvonly)
    #expect(held?.remoteSDP?.origin.sessionVersion == 2)
    try phones.on("alice") { $0.reinvite(callID, hold: false) }
    phones.simulation.run(for: .seconds(1))
    let resumed = try phones.on("bob") { $0.record(of: callID) }
    #expect(resumed?.remoteSDP?.media.first?.direction == .sendrecv)
    #expect(resumed?.remoteSDP?.origin.sessionVersion == 3)
    try phones.on("alice") { $0.hangUp(callID) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder().filter { $0.hasSuffix("INVITE") || $0.hasSuffix("ACK") } == [
        "alice>bob INVITE", "alice>bob ACK", "alice>bob INVITE", "alice>bob ACK",
        "alice>bob INVITE", "alice>bob ACK",
      ])
    phones.expectNothingLeftOver()
  }

  /// Both ends re-INVITE at once: both get 491 and retry after the §14.1 back-off (2.1–4 s for
  /// alice, who owns the Call-ID; 0–2 s for bob), so bob's retry goes first and both succeed.
  /// The same seed resolves it the same way every run.
  @Test(arguments: 1...10 as ClosedRange<UInt64>)
  func glare(seed: UInt64) throws {
    func run() throws -> (trace: String, retries: [Int64]) {
      let phones = try Phones(seed: seed, [("alice", .answer()), ("bob", .answer())])
      let bob = try phones.uri("bob")
      let callID = try phones.on("alice") { $0.call(bob) }
      phones.simulation.run(until: SimInstant(microseconds: 1_000_000))
      try phones.on("alice") { $0.reinvite(callID, hold: true) }
      try phones.on("bob") { $0.reinvite(callID, hold: true) }
      phones.simulation.run(for: .seconds(10))
      let ladder = phones.ladder()
      #expect(ladder.filter { $0.hasSuffix("491") }.count == 2)
      let invites = phones.network.trace.events(named: "send").filter {
        "\($0.field("summary")!)".hasPrefix("INVITE")
      }
      let retries = invites.dropFirst(3).map { $0.time - 1_010_000 }
      #expect(retries.count == 2)
      // bob (not the owner) retries within 0–2 s of the 491; alice within 2.1–4 s.
      if retries.count == 2 {
        #expect(retries[0] >= 0 && retries[0] <= 2_000_000)
        #expect(retries[1] >= 2_100_000 && retries[1] <= 4_000_000)
      }
      let aliceView = try phones.on("alice") { $0.record(of: callID) }
      let bobView = try phones.on("bob") { $0.record(of: callID) }
      // bob's hold went first (alice answered recvonly); alice's retry then holds a held call:
      // inactive both ways (RFC 3264 §8.4).
      #expect(aliceView?.localSDP?.media.first?.direction == .inactive)
      #expect(bobView?.localSDP?.media.first?.direction == .inactive)
      try phones.on("alice") { $0.hangUp(callID) }
      phones.simulation.runUntilIdle()
      phones.expectNothingLeftOver()
      return (phones.network.trace.jsonLines(), retries)
    }
    let first = try run()
    let second = try run()
    #expect(first.trace == second.trace)
  }

  /// OPTIONS (§11): 200 with Allow, Accept, Accept-Encoding, Accept-Language and Supported.
  @Test func optionsAnswer() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.options(bob) }
    phones.simulation.runUntilIdle()
    #expect(phones.ladder() == ["alice>bob OPTIONS", "bob>alice 200"])
    #expect(phones.events.all.contains("20 alice \(callID) 200 to OPTIONS"))
    let answer = try #require(
      phones.network.trace.events(named: "deliver").compactMap(\.payloadText).last)
    for header in [
      "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS", "Accept: application/sdp",
      "Accept-Encoding: identity", "Accept-Language: en", "Supported: ",
    ] {
      #expect(answer.contains(header), "\(header)")
    }
    phones.expectNothingLeftOver()
  }
}

@Suite struct UserAgentFailureTests {
  /// A refused TCP connection is a transport error, which the UAC core treats as 503 at once
  /// (§8.1.3.1).
  @Test func transportErrorIsA503() throws {
    let phones = try Phones([("alice", .answer())], extraHosts: ["bob"])
    let target = try SIPURI("sip:bob@10.0.0.2;transport=tcp")
    let callID = try phones.on("alice") { $0.call(target) }
    phones.simulation.runUntilIdle()
    #expect(try phones.history("alice").first?.status == 503)
    #expect(phones.events.all.contains("20 alice \(callID) 503 to INVITE"))
    phones.expectNothingLeftOver()
  }

  /// 416 for a `tel:` Request-URI: retried as `sip:<number>@<our domain>;user=phone` (§19.1.6),
  /// through the outbound proxy (here bob's agent stands in for it).
  @Test func unsupportedSchemeRetriedAsSIP() throws {
    let phones = try Phones(
      [("alice", .answer()), ("bob", .answer())],
      configuration: UAConfiguration(outboundProxy: try SIPURI("sip:10.0.0.2")))
    let number = try SIPURI("tel:+15551234")
    _ = try phones.on("alice") { $0.call(number, hangUpAfter: .seconds(1)) }
    phones.simulation.runUntilIdle()
    let starts = phones.network.trace.events(named: "deliver").compactMap { $0.field("summary") }
      .map { "\($0)" }.filter { $0.hasPrefix("INVITE") }
    #expect(
      starts == [
        "INVITE tel:+15551234 SIP/2.0", "INVITE sip:+15551234@10.0.0.1;user=phone SIP/2.0",
      ])
    #expect(try phones.history("alice").first?.status == 200)
    phones.expectNothingLeftOver()
  }

  /// A re-INVITE arriving while the UAS has not yet seen the ACK of the previous one gets 500
  /// with a Retry-After of 0–10 s (§14.2).
  @Test func overlappingReinviteGets500() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let dropped = CoreLog()
    phones.network.datagramFault = { datagram in
      let text = String(decoding: datagram.payload, as: UTF8.self)
      guard text.hasPrefix("ACK"), text.contains("CSeq: 2 ACK"), dropped.all.isEmpty else {
        return .pass
      }
      dropped.append("ACK")
      return .drop
    }
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    phones.simulation.run(until: SimInstant(microseconds: 1_000_000))
    try phones.on("alice") { $0.reinvite(callID, hold: true) }
    phones.simulation.run(until: SimInstant(microseconds: 1_100_000))
    try phones.on("alice") { $0.reinvite(callID, hold: false) }
    phones.simulation.run(for: .seconds(2))
    #expect(phones.events.all.contains("1110 bob \(callID) refused INVITE with 500"))
    let refusal = try #require(
      phones.network.trace.events(named: "deliver").compactMap(\.payloadText).first {
        $0.hasPrefix("SIP/2.0 500")
      })
    let retryAfter = refusal.split(separator: "\r\n").first { $0.hasPrefix("Retry-After: ") }
      .flatMap { Int($0.dropFirst(13)) }
    #expect(retryAfter.map { (0...10).contains($0) } == true)
    try phones.on("alice") { $0.hangUp(callID) }
    phones.simulation.runUntilIdle()
    phones.expectNothingLeftOver()
  }
}
