// LossyRetransmission: what the transaction layer does about loss (RFC 3261 §17.1.1.2).
// The first INVITE is dropped on purpose (a fault aimed at one message) and the link loses 25%
// of what remains. Timer A retransmits the INVITE at T1, 2·T1, 4·T1… until a provisional
// response stops it; the server transaction absorbs the copies (§17.2.1). The seed on the
// command line picks which packets are lost: swift run LossyRetransmission 42
import Foundation
import SIPSim

let seed = CommandLine.arguments.dropFirst().first.flatMap { UInt64($0) } ?? 7
let topology = Topology(
  name: "lossy",
  seed: seed,
  links: LinksSpec(default: LinkSpec(latency: TimeSpan(.milliseconds(30)), loss: 0.25)),
  hosts: [
    .ua("alice", "sip:alice@atlanta.example.com"),
    .ua("bob", "sip:bob@biloxi.example.com", behaviour: .ring(for: .seconds(1))),
  ],
  scenario: [.call(at: 0, from: "alice", to: "sip:bob@10.0.0.2", hangUpAfter: .seconds(2))],
  // Drop the 1st INVITE alice sends (retransmissions count as messages: nth 2 would be the
  // first retransmission).
  messageFaults: [MessageFault(.drop, method: "INVITE", from: "alice", nth: 1)],
  expect: Expectations(calls: [.init(call: "c1", answered: true)]))

do {
  let outcome = try TopologyRun(topology).run()
  let code = outcome.printLadder()
  print(Statistics(outcome.trace).report())
  exit(code)
} catch {
  print("error: \(error)")
  exit(2)
}
