// CustomElement: prototype a new SIP element in a few lines.
// An element is a core that gets TransactionEvents from a SIPEndpoint (the transport and
// transaction layers, RFC 3261 §17, §18) and answers through it. This "echo" server answers
// OPTIONS (§11.2) with 200 and a header naming who asked, and refuses every other method with
// 405 Method Not Allowed and an Allow header (§8.2.1). The transaction layer does the rest:
// it absorbs retransmitted requests and retransmits nothing for you to forget.
// Run: swift run CustomElement
import Foundation
import SIPCore
import SIPElements
import SIPSim
import SIPTransaction

let topology = Topology(
  name: "custom-element",
  hosts: [
    .ua("alice", "sip:alice@atlanta.example.com"),
    // Role "none": the topology gives the host an address and a lane; we add the element.
    HostSpec(name: "echo", domains: ["echo.example.com"], role: .none),
  ],
  scenario: [
    .at(0, .options(from: "alice", to: "sip:echo.example.com", request: "ping")),
    .call(at: 1, from: "alice", to: "sip:echo.example.com", call: "refused"),
  ],
  expect: Expectations(
    calls: [.init(call: "refused", answered: false, status: 405)],
    requests: [.init(name: "ping", status: 200)]))

do {
  let run = try TopologyRun(topology)
  // The element: an endpoint on host "echo" and a core closure, isolated to the endpoint.
  let echo = try SIPEndpoint(network: run.network, host: "echo")
  run.simulation.inspect {
    echo.assumeIsolated { endpoint in
      endpoint.setCore { endpoint, event in
        // New requests arrive with their server transaction; ACKs for our 405 never reach
        // us (the INVITE server transaction absorbs them, §17.2.1).
        guard case .request(let request, let transaction?) = event else { return }
        var response: SIPMessage
        if request.method == "OPTIONS" {
          response = request.response(status: 200, toTag: "echo")
          response.insertBeforeLength("X-Echo", request.from?.uri.description ?? "?")
        } else {
          response = request.response(status: 405, toTag: "echo")
          response.insertBeforeLength("Allow", "OPTIONS")
        }
        endpoint.respond(response, in: transaction)
      }
    }
  }
  exit(run.run().printLadder())
} catch {
  print("error: \(error)")
  exit(2)
}
