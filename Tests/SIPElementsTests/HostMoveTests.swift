import SIPCore
import SIPElements
import SIPServers
import SIPTransaction
import Simulation
import Testing

/// What an agent does when its host moves (`NetworkChange.move`, RFC 3665 §3.7) at awkward
/// moments: a call it is hanging up, a registration kept over TCP, a move to IPv6.
@Suite struct HostMoveTests {
  static func text(_ event: TraceEvent) -> String {
    String(decoding: event.payload ?? [], as: UTF8.self)
  }

  /// Start lines of the SIP messages `host` sent at or after `since` (µs).
  static func sent(_ network: Network, by address: IPAddress, since: Int64) -> [String] {
    network.trace.events(named: "send").compactMap { event in
      guard event.time >= since, event.from?.address == address else { return nil }
      return event.field("summary")?.description
    }
  }

  /// §15.1.1: once the BYE is handed to its transaction the session is over. Alice's host
  /// moves while her BYE is in flight: she must not re-INVITE the call she is ending (bob,
  /// who already ended it, would answer 481).
  @Test func aCallBeingHungUpIsNotReinvitedWhenTheHostMoves() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    phones.simulation.run(for: .seconds(1))
    try phones.on("alice") { $0.hangUp(callID) }
    let new = try #require(IPAddress("192.0.2.9"))
    let movedAt = phones.simulation.now.microseconds + 1_000
    try phones.network.schedule(.move("alice", to: new), at: SimInstant(microseconds: movedAt))
    phones.simulation.run(for: .seconds(40))
    let sent = Self.sent(phones.network, by: new, since: movedAt)
    #expect(!sent.contains { $0.hasPrefix("INVITE") }, "\(sent)")
    #expect(!phones.events.all.contains { $0.contains("481") }, "\(phones.events.all)")
    // Bob's 200 to the BYE went to the old address: the BYE times out, and the call is over.
    #expect(try phones.history("alice").first?.callID == callID)
    phones.expectNothingLeftOver()
  }

  /// Bob registers over TCP; his host moves within the connection's idle time. The move
  /// closed the connection (the network closes every stream of a moved host), so the
  /// REGISTER that binds the new contact must go on a new one: the endpoint kept the dead
  /// connection and sent on it, the send failed at once, and the registration ended in 503
  /// with the old contact still bound.
  @Test func aRegistrationKeptOverTCPIsRefreshedFromTheNewAddress() throws {
    let lab = Lab()
    let location = lab.location()
    try lab.registrar("registrar", domains: ["example.com"], location: location)
    try lab.agent("bob", aor: "sip:bob@example.com")
    let registrar = try SIPURI("sip:example.com;transport=tcp")
    try lab.on("bob") { $0.register(with: registrar) }
    lab.run(for: .seconds(5))
    #expect(try lab.on("bob") { $0.registration?.status } == 200)
    let new = try #require(IPAddress("192.0.2.9"))
    let movedAt = lab.now
    try lab.network.schedule(.move("bob", to: new), at: SimInstant(microseconds: movedAt))
    lab.run(for: .seconds(1))
    #expect(try lab.on("bob") { $0.registration?.status } == 200)
    let register = lab.network.trace.events(named: "deliver").filter {
      $0.time >= movedAt && $0.field("summary")?.description.hasPrefix("REGISTER") == true
    }
    #expect(register.count == 1 && register.first?.transport == .tcp)
    #expect(register.first.map(Self.text)?.contains("Contact: <sip:bob@192.0.2.9:5060>") == true)
    let aor = try SIPURI("sip:bob@example.com")
    let contacts = lab.simulation.inspect {
      location.assumeIsolated { $0.lookup(aor).map(\.contact.uri.host) }
    }
    // The new contact bound, the old one removed in the same REGISTER (`expires=0`).
    #expect(contacts == ["192.0.2.9"], "\(contacts)")
    try lab.on("bob") { $0.unregister(all: true) }
    lab.run(for: .seconds(200))  // the connections idle out, their last idle checks run
    lab.expectNothingLeftOver()
  }

  /// Alice's host moves while her INVITE rings: its responses follow the INVITE's Via to the
  /// old address, and a CANCEL would have to carry that Via (§9.1; with the new one it matched
  /// nothing at bob, who answered 481 and rang on). She sends a BYE on the early dialog (§15),
  /// which bob answers 200 (to her new address), answering his INVITE 487 (lost, to the old
  /// one); her call ends at once. Before, it stayed Early for ever, its INVITE client
  /// transaction in Proceeding.
  @Test func aCallerMovingWhileItsInviteRingsEndsTheCallWithABye() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .ring(for: .seconds(60)))])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    phones.simulation.run(for: .seconds(1))
    let new = try #require(IPAddress("192.0.2.9"))
    let movedAt = phones.simulation.now.microseconds
    try phones.network.schedule(.move("alice", to: new), at: SimInstant(microseconds: movedAt))
    phones.simulation.run(for: .seconds(120))
    #expect(
      phones.ladder() == [
        "?>bob INVITE", "bob>? 180", "alice>bob BYE", "bob>alice 200",
      ], "\(phones.ladder())")
    // Bob's 487 to the INVITE went to the old address, where no host is.
    let drops = phones.network.trace.events(named: "drop").filter {
      $0.field("summary")?.description == "SIP/2.0 487 Request Terminated"
    }
    #expect(!drops.isEmpty && drops.allSatisfy { $0.field("reason")?.description == "no-route" })
    let alice = try #require(try phones.history("alice").first)
    #expect(alice.callID == callID && alice.status == 487 && !alice.wasAnswered)
    #expect(alice.ending == "moved while ringing")
    #expect(try phones.history("bob").first?.ending == "BYE received")
    phones.expectNothingLeftOver()
  }

  /// Bob's host moves to an IPv6 address mid-call. A Via's sent-by and a SIP URI's host
  /// write an IPv6 address as an IPv6reference, in brackets (§25.1); SDP's `c=` and `o=` write
  /// it bare, with `IP6`. Unbracketed, `2001:db8::7:5060` read as a port-less address (or
  /// none at all), and alice's answers to the re-INVITE never reached bob.
  @Test func aMoveToIPv6WritesBracketedViaAndContact() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(3)) }
    phones.simulation.run(for: .seconds(1))
    let new = try #require(IPAddress("2001:db8::7"))
    let movedAt = phones.simulation.now.microseconds
    try phones.network.schedule(.move("bob", to: new), at: SimInstant(microseconds: movedAt))
    phones.simulation.run(for: .seconds(40))
    let sends = phones.network.trace.events(named: "send")
    let reinvite = try #require(
      sends.first {
        $0.time >= movedAt && $0.field("summary")?.description.hasPrefix("INVITE") == true
      })
    let text = Self.text(reinvite)
    #expect(text.contains("Via: SIP/2.0/UDP [2001:db8::7]:5060;"), "\(text)")
    #expect(text.contains("Contact: <sip:bob@[2001:db8::7]:5060>"), "\(text)")
    #expect(text.contains("c=IN IP6 2001:db8::7\r\n") && text.contains(" IN IP6 2001:db8::7\r\ns="))
    // Answered once (no retransmission for want of a 200), and alice's BYE reaches bob there.
    #expect(
      sends.filter { $0.field("summary")?.description.hasPrefix("INVITE") == true }.count == 2)
    let bye = try #require(
      sends.first { $0.field("summary")?.description.hasPrefix("BYE") == true })
    #expect(bye.to?.address == new)
    #expect(try phones.history("bob").first?.ending == "BYE received")
    #expect(try phones.history("alice").first?.callID == callID)
    phones.expectNothingLeftOver()
  }

  /// Alice's INVITE got only bob's 100 Trying (Proceeding: no Timer B) when her host moves.
  /// Its responses follow the Via to the old address and she has no early dialog to BYE: the
  /// call ends and its INVITE client transaction is let go. Before, it stayed in Proceeding for
  /// ever.
  @Test func aCallerMovedWithOnly100TryingEnds() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer(after: .seconds(5)))])
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob) }
    let new = try #require(IPAddress("192.0.2.9"))
    try phones.network.schedule(.move("alice", to: new), at: SimInstant(microseconds: 1_000_000))
    phones.simulation.run(for: .seconds(300))
    #expect(try phones.history("alice").first?.ending == "moved while ringing")
    phones.expectNothingLeftOver()
  }
}
