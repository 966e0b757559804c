import SIPCore
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
}
