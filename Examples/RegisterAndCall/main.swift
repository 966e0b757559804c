// RegisterAndCall: the RFC 3261 §4 trapezoid. Bob REGISTERs with biloxi.com (§10.2); Alice's
// INVITE goes to her outbound proxy (§8.1.2), which finds biloxi.com's proxy by DNS; that
// proxy looks Bob up in the location service the registrar filled (§16.5) and forwards.
// Both proxies Record-Route (§16.6 step 4), so the ACK and BYE go through them too.
// Run: swift run RegisterAndCall
import Foundation
import SIPSim

let topology = Topology(
  name: "register-and-call",
  links: LinksSpec(default: LinkSpec(latency: TimeSpan(.milliseconds(20)))),
  hosts: [
    .ua("alice", "sip:alice@atlanta.com", proxy: "sip:atlanta.com;lr"),
    .proxy("atlanta", domain: "atlanta.com"),
    .proxy("biloxi", domain: "biloxi.com"),  // also biloxi.com's registrar
    .ua("bob", "sip:bob@biloxi.com", behaviour: .ring(for: .seconds(1))),
  ],
  scenario: [
    .register(at: 0, "bob"),
    .call(at: 1, from: "alice", to: "sip:bob@biloxi.com", hangUpAfter: .seconds(3)),
  ],
  expect: Expectations(
    calls: [.init(call: "c1", answered: true, status: 200)],
    registrations: [.init(name: "bob", status: 200)]))

do {
  exit(try TopologyRun(topology).run().printLadder())
} catch {
  print("error: \(error)")
  exit(2)
}
