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
}
