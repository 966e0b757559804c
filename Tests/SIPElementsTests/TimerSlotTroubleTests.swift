import SIPCore
import SIPTransaction
import SIPTransport
import Simulation
import Testing

@testable import SIPElements

/// The endpoint checks the layer's slot numbers against the timers it holds: a cancel of a
/// timer its slot does not hold, a cancel finding its slot empty, a start over another timer
/// and a timer the layer refused are each logged as trouble (`SIPEndpoint.timerSlotTrouble`),
/// which every scenario's "nothing left over" reports; a cancel of the right timer is not.
@Test func timerSlotTroubleIsLogged() throws {
  let scenario = try Scenario()
  let alice = try scenario.endpoint("alice")
  let key = try #require(TransactionKey.client(for: makeRequest("OPTIONS"), branch: "z9hG4bKx"))
  let other = try #require(
    TransactionKey.client(for: makeRequest("OPTIONS"), branch: "z9hG4bKy"))
  let cancelled = scenario.simulation.inspect {
    alice.assumeIsolated { endpoint -> [Bool] in
      endpoint.arm(.e, of: key, after: .seconds(1), slot: 0)
      let wrongTimer = endpoint.cancelTimer(.f, of: key, in: 0)
      let empty = endpoint.cancelTimer(.e, of: key, in: 1)
      let right = endpoint.cancelTimer(.e, of: key, in: 0)
      endpoint.arm(.e, of: key, after: .seconds(1), slot: 0)
      endpoint.arm(.f, of: other, after: .seconds(1), slot: 0)
      let replaced = endpoint.cancelTimer(.f, of: other, in: 0)
      endpoint.perform([.timerRefused(key, .k)])
      return [wrongTimer, empty, right, replaced]
    }
  }
  #expect(cancelled == [false, false, true, true])
  let trouble = scenario.network.trace.events(named: "log").compactMap { event -> String? in
    guard case .string(let text) = event.field("text"),
      text.hasPrefix(SIPEndpoint.timerSlotTrouble)
    else { return nil }
    return String(text.dropFirst(SIPEndpoint.timerSlotTrouble.count + 1))
  }
  #expect(
    trouble == [
      "slot 0 holds Timer E of z9hG4bKx/OPTIONS/c, not Timer F of z9hG4bKx/OPTIONS/c",
      "slot 1 is empty, not holding Timer E of z9hG4bKx/OPTIONS/c",
      "slot 0 holds Timer E of z9hG4bKx/OPTIONS/c, not Timer F of z9hG4bKy/OPTIONS/c",
      "could not arm Timer K of z9hG4bKx/OPTIONS/c: more timers at once than the layer holds",
    ])
  scenario.simulation.runUntilIdle()
  #expect(scenario.network.leftovers.isEmpty)
}

/// An idle agent keeps no action array, the one for nested events included: a basic call
/// leaves both endpoints with no transaction and both rooms given back. (Found untested by
/// review: not giving the nested room back failed nothing.)
@Test func idleAgentsKeepNoActionRooms() throws {
  let phones = try Phones([("alice", .answer()), ("bob", .ring(for: .seconds(1)))])
  let bob = try phones.uri("bob")
  _ = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(2)) }
  phones.simulation.run(for: .seconds(60))
  for name in ["alice", "bob"] {
    let rooms = try phones.on(name) { agent in
      agent.endpoint.assumeIsolated {
        [$0.liveTransactions.count, $0.actionRoom.capacity, $0.nestedActionRoom.capacity]
      }
    }
    #expect(rooms == [0, 0, 0], "\(name)")
  }
}
