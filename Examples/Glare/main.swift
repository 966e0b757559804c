// Glare: both ends re-INVITE at once (RFC 3261 §14.1, §14.2).
// Each side receives a re-INVITE while its own is pending and answers 491 Request Pending.
// Each then waits a random time — 2.1 to 4 s for the side that owns the Call-ID, 0 to 2 s for
// the other, in 10 ms units — and tries again; the seed decides who goes first.
// Run: swift run Glare [seed]
import Foundation
import SIPSim

let seed = CommandLine.arguments.dropFirst().first.flatMap { UInt64($0) } ?? 1
let topology = Topology(
  name: "glare",
  seed: seed,
  hosts: [
    .ua("alice", "sip:alice@atlanta.example.com"),
    .ua("bob", "sip:bob@biloxi.example.com"),
  ],
  scenario: [
    .call(at: 0, from: "alice", to: "sip:bob@10.0.0.2"),
    .at(2, .reinvite(call: "c1", by: "alice", hold: true)),
    .at(2, .reinvite(call: "c1", by: "bob", hold: true)),
    .at(12, .hangUp(call: "c1", by: nil)),
  ],
  expect: Expectations(calls: [.init(call: "c1", answered: true)]))

do {
  let outcome = try TopologyRun(topology).run()
  let pending = outcome.trace.filter {
    $0.event == "send" && $0.field("summary")?.description == "SIP/2.0 491 Request Pending"
  }
  let code = outcome.printLadder()
  print("491 responses: \(pending.count)")
  exit(code)
} catch {
  print("error: \(error)")
  exit(2)
}
