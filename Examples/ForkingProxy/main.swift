// ForkingProxy: one address of record, two phones (RFC 3261 §16.6, §16.7).
// Both phones REGISTER as sip:bob@biloxi.example.com. The proxy forks the INVITE to both in
// parallel; the mobile answers first. The proxy forwards that 200 at once and CANCELs the desk
// phone's branch (§16.7 step 10); the desk answers 487, which the proxy keeps to itself.
// Run: swift run ForkingProxy
import Foundation
import SIPSim

let topology = Topology(
  name: "forking",
  hosts: [
    .ua("alice", "sip:alice@atlanta.example.com", proxy: "biloxi.example.com"),
    .proxy("proxy", domain: "biloxi.example.com"),
    .ua("desk", "sip:bob@biloxi.example.com", behaviour: .ring(for: .seconds(10))),
    .ua("mobile", "sip:bob@biloxi.example.com", behaviour: .ring(for: .seconds(2))),
  ],
  scenario: [
    .register(at: 0, "desk"), .register(at: 0, "mobile"),
    .call(at: 1, from: "alice", to: "sip:bob@biloxi.example.com", hangUpAfter: .seconds(3)),
  ],
  expect: Expectations(calls: [.init(call: "c1", answered: true, status: 200)]))

do {
  exit(try TopologyRun(topology).run().printLadder())
} catch {
  print("error: \(error)")
  exit(2)
}
