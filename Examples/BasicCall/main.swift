// BasicCall: two user agents, no servers: RFC 3665 §3.1 (RFC 3261 §13, §15).
// Alice INVITEs Bob; Bob rings (180), answers (200); Alice ACKs (§13.2.2.4: the ACK for a 2xx
// is the UAC core's job, not the transaction's); 5 s later she hangs up with BYE (§15.1.1).
// Run: swift run BasicCall
import Foundation
import SIPSim

let topology = Topology(
  name: "basic-call",
  hosts: [
    .ua("alice", "sip:alice@atlanta.example.com"),  // 10.0.0.1
    .ua("bob", "sip:bob@biloxi.example.com", behaviour: .ring(for: .seconds(2))),  // 10.0.0.2
  ],
  // No proxy: Alice calls Bob's address directly (the Request-URI is where it goes, §8.1.1.1).
  scenario: [.call(at: 0, from: "alice", to: "sip:bob@10.0.0.2", hangUpAfter: .seconds(5))],
  expect: Expectations(calls: [.init(call: "c1", answered: true, status: 200)]))

do {
  exit(try TopologyRun(topology).run().printLadder())
} catch {
  print("error: \(error)")
  exit(2)
}
