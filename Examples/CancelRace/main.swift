// CancelRace: CANCEL and 200 OK cross on the wire (RFC 3261 §9).
// Bob answers at 2.01 s; Alice's CANCEL leaves at the same instant. Bob's INVITE transaction
// already has its final response, so the CANCEL gets 200 but changes nothing (§9.2). Alice
// receives a 200 for the INVITE she tried to cancel: she must ACK it and send BYE (§9.1).
// Run: swift run CancelRace
import Foundation
import SIPSim

let topology = Topology(
  name: "cancel-race",
  links: LinksSpec(default: LinkSpec(latency: TimeSpan(.milliseconds(10)))),
  hosts: [
    .ua("alice", "sip:alice@atlanta.example.com"),
    .ua("bob", "sip:bob@biloxi.example.com", behaviour: .ring(for: .seconds(2))),
  ],
  scenario: [
    .call(at: 0, from: "alice", to: "sip:bob@10.0.0.2"),
    .at(2.01, .cancel(call: "c1")),
  ],
  expect: Expectations(
    calls: [.init(call: "c1", status: 200)],
    sequences: [
      .init(call: "c1", messages: ["INVITE", "180", "200", "CANCEL", "ACK", "200", "BYE", "200"])
    ]))

do {
  exit(try TopologyRun(topology).run().printLadder())
} catch {
  print("error: \(error)")
  exit(2)
}
