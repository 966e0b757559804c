// DigestAuthentication: 401 from a registrar, 407 from a proxy (RFC 3261 §22, RFC 2617).
// Bob's REGISTER is challenged with WWW-Authenticate; he resends it with Authorization (same
// Call-ID, CSeq + 1, §10.2.4). Alice's INVITE is challenged by her proxy with
// Proxy-Authenticate; she ACKs the 407 and resends with Proxy-Authorization (§22.3).
// Run: swift run DigestAuthentication
import Foundation
import SIPSim

let topology = Topology(
  name: "digest",
  hosts: [
    .ua("alice", "sip:alice@example.com", proxy: "example.com"),
    .proxy("proxy", domain: "example.com", authenticate: true),
    .ua("bob", "sip:bob@example.com", proxy: "example.com"),
  ],
  // Subscribers of the realm: the proxy checks digests against them, and each agent whose
  // address of record matches answers challenges with its password.
  users: [
    UserSpec(user: "alice", domain: "example.com", password: "wonderland"),
    UserSpec(user: "bob", domain: "example.com", password: "zanzibar"),
  ],
  scenario: [
    .register(at: 0, "bob"),
    .call(at: 1, from: "alice", to: "sip:bob@example.com", hangUpAfter: .seconds(2)),
  ],
  expect: Expectations(
    calls: [.init(call: "c1", answered: true, status: 200)],
    sequences: [.init(registration: "bob", messages: ["REGISTER", "401", "REGISTER", "200"])]))

do {
  exit(try TopologyRun(topology).run().printLadder())
} catch {
  print("error: \(error)")
  exit(2)
}
