import SIPCore
import SIPDialog
import SIPElements
import Simulation
import Testing

@Suite struct UserAgentCallTests {
  /// RFC 3665 §3.1 without proxies: INVITE, 180, 200, ACK, talk, BYE, 200.
  @Test func basicCall() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .ring(for: .seconds(1)))])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(5)) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 180", "bob>alice 200", "alice>bob ACK", "alice>bob BYE",
        "bob>alice 200",
      ])
    let alice = try #require(try phones.history("alice").first)
    #expect(alice.callID == callID)
    #expect(alice.isCaller && alice.wasAnswered && alice.status == 200)
    #expect(alice.ending == "BYE sent")
    let callee = try #require(try phones.history("bob").first)
    #expect(!callee.isCaller && callee.wasAnswered && callee.ending == "BYE received")
    // RFC 3264: bob answered alice's PCMU/PCMA offer with both, in the offer's order.
    #expect(callee.remoteSDP == alice.localSDP)
    #expect(alice.remoteSDP?.media.first?.formats == ["0", "8"])
    phones.expectNothingLeftOver()
  }
}
