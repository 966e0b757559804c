// RedirectServer: a server that answers "try there instead" (RFC 3261 §8.3, §21.3).
// The redirect server answers 302 with Bob's current contact; Alice's transaction ACKs the
// 302 (§17.1.1.3) and her core sends a fresh INVITE to the contact (§8.1.3.4).
// Run: swift run RedirectServer
import Foundation
import SIPSim

let topology = Topology(
  name: "redirect",
  hosts: [
    .ua("alice", "sip:alice@atlanta.example.com"),
    HostSpec(
      name: "redirect", domains: ["biloxi.example.com"],
      role: .redirect(
        RedirectSpec(
          status: 302,
          bindings: [BindingSpec(aor: "sip:bob@biloxi.example.com", contact: "sip:bob@10.0.0.3")]
        ))),
    .ua("bob", "sip:bob@biloxi.example.com", behaviour: .ring(for: .seconds(1))),
  ],
  scenario: [
    .call(at: 0, from: "alice", to: "sip:bob@biloxi.example.com", hangUpAfter: .seconds(2))
  ],
  expect: Expectations(
    calls: [.init(call: "c1", answered: true, status: 200)],
    sequences: [
      .init(
        call: "c1", messages: ["INVITE", "302", "ACK", "INVITE", "180", "200", "ACK", "BYE", "200"])
    ]))

do {
  exit(try TopologyRun(topology).run().printLadder())
} catch {
  print("error: \(error)")
  exit(2)
}
