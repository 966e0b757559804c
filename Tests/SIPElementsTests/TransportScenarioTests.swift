import SIPCore
import SIPElements
import SIPTransaction
import SIPTransport
import Simulation
import Testing

@Suite struct TransportScenarioTests {
  /// `sendRequest` consumes its request: a caller that keeps its copy still has it as it was
  /// (no Via), and one that hands it over (`consume`) sends the same bytes.
  @Test func aSentRequestLeavesTheCallersCopyAlone() throws {
    let scenario = try Scenario()
    try scenario.core("bob", answer: { [$0.response(status: 200)] })
    let endpoint = try scenario.endpoint("alice")
    let kept = makeRequest("OPTIONS")
    scenario.simulation.inspect {
      endpoint.assumeIsolated { endpoint in
        _ = endpoint.sendRequest(kept, to: peer("10.0.0.2"))
        var other = makeRequest("OPTIONS")
        other.set("Call-ID", "handed-over@10.0.0.1")
        _ = endpoint.sendRequest(consume other, to: peer("10.0.0.2"))
      }
    }
    #expect(kept.vias.isEmpty && kept == makeRequest("OPTIONS"))
    scenario.simulation.runUntilIdle()
    let sent = scenario.network.trace.events(named: "send").compactMap { event in
      event.payload.flatMap { try? SIPMessage.parse($0) }
    }.filter { $0.method == "OPTIONS" }
    #expect(sent.count == 2 && sent.allSatisfy { $0.vias.count == 1 })
    scenario.expectNothingLeftOver()
  }

  /// Under 30% loss, over 200 seeds, every transaction ends in its RFC outcome: the server's
  /// core sees the request at most once (retransmissions absorbed), the client's core sees at
  /// most one final response (duplicates absorbed) or else a timeout, and nothing is left over.
  @Test(arguments: ["OPTIONS", "INVITE"])
  func lossyTransactionsEndInTheirOutcome(method: String) throws {
    var outcomes: [String: Int] = [:]
    for seed in UInt64(1)...200 {
      let link = LinkConditions(
        latency: .milliseconds(10), jitter: .uniform(max: .milliseconds(5)),
        lossProbability: 0.3, duplicateProbability: 0.05)
      let scenario = try Scenario(seed: seed, link: link)
      try scenario.core("alice")
      let status = method == "INVITE" ? 486 : 200
      try scenario.core("bob") { request in [request.response(status: status, toTag: "b1")] }
      try scenario.send(makeRequest(method), from: "alice", to: peer("10.0.0.2"))
      scenario.simulation.runUntilIdle()
      let log = scenario.log.all
      let requests = log.filter { $0.hasSuffix("bob \(method)") }.count
      let finals = log.filter { $0.hasSuffix("alice \(status)") }.count
      let timeouts = log.filter { $0.contains("alice timeout") }.count
      #expect(requests <= 1, "seed \(seed): \(log)")
      #expect(finals + timeouts == 1, "seed \(seed): \(log)")
      #expect(log.filter { $0.contains("stray") }.isEmpty, "seed \(seed): \(log)")
      if finals == 1 { #expect(requests == 1, "seed \(seed)") }
      outcomes[finals == 1 ? "answered" : "timed out", default: 0] += 1
      if try scenario.sendTimes(from: "alice", method).count > 1 {
        outcomes["retransmitted", default: 0] += 1
      }
      scenario.expectNothingLeftOver()
    }
    // With 11 (or 7) tries each way at 30% loss, a timeout is rare but possible.
    #expect((outcomes["answered"] ?? 0) >= 190, "\(outcomes.sorted { $0.key < $1.key })")
    // The loss really exercised the retransmission paths.
    #expect((outcomes["retransmitted"] ?? 0) >= 50, "\(outcomes.sorted { $0.key < $1.key })")
  }

  /// RFC 3581: the request leaves from a port other than its Via's; the server stamps
  /// `received` and `rport` and answers to the source port.
  @Test func rportSendsTheResponseToTheSourcePort() throws {
    let scenario = try Scenario()
    try scenario.core("bob") { request in [request.response(status: 200, toTag: "b1")] }
    let got = CoreLog()
    let socket = try scenario.network.bindDatagram(host: "alice", port: 40000) { datagram in
      if let response = try? SIPMessage.parse(datagram.payload), let via = response.topVia {
        got.append(
          "\(datagram.to) \(response.status ?? 0) received=\(via.received ?? "-") rport=\((via.rport ?? nil) ?? "-")"
        )
      }
    }
    var options = makeRequest("OPTIONS")
    options.prepend("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKrport1;rport")
    try socket.send(
      options.serialized(), to: SocketAddress(try #require(IPAddress("10.0.0.2")), 5060))
    scenario.simulation.runUntilIdle()
    #expect(got.all == ["10.0.0.1:40000 200 received=10.0.0.1 rport=40000"])
    socket.close()
    scenario.expectNothingLeftOver()
  }

  /// §18.1.1: a request within 200 bytes of the path MTU goes over TCP; the response comes back
  /// on the same connection, which closes once idle.
  @Test func largeRequestSwitchesToTCP() throws {
    let scenario = try Scenario()
    try scenario.core("alice")
    let viaTransports = CoreLog()
    try scenario.core("bob") { request in
      viaTransports.append(request.topVia?.transport ?? "?")
      return [request.response(status: 200, toTag: "b1")]
    }
    let body = String(repeating: "x", count: 1200)
    try scenario.send(makeRequest("MESSAGE", body: body), from: "alice", to: peer("10.0.0.2"))
    scenario.simulation.runUntilIdle()
    let sends = scenario.network.trace.events(named: "send")
    #expect(sends.allSatisfy { $0.transport == .tcp })
    #expect(
      scenario.log.all.map { $0.split(separator: " ").dropFirst().joined(separator: " ") }
        == ["bob MESSAGE", "alice 200"])
    #expect(viaTransports.all == ["TCP"])
    #expect(scenario.network.trace.events(named: "connect").count == 1)
    scenario.expectNothingLeftOver()
  }

  /// A connection closes the idle timeout (32 s) after its last message, not later: traffic at
  /// 0 and 10 s on one TCP connection closes it at 42 s (the last response's arrival plus 32
  /// s), though its first idle check, armed at 0, ran at 32 s and found it busy then.
  @Test func anIdleConnectionClosesTheIdleTimeoutAfterItsLastMessage() throws {
    let scenario = try Scenario()
    try scenario.core("alice")
    try scenario.core("bob") { request in [request.response(status: 200, toTag: "b1")] }
    try scenario.send(makeRequest("OPTIONS"), from: "alice", to: peer("10.0.0.2", .tcp))
    scenario.simulation.run(for: .seconds(10))
    var second = makeRequest("OPTIONS")
    second.set("Call-ID", "second@10.0.0.1")
    try scenario.send(second, from: "alice", to: peer("10.0.0.2", .tcp))
    scenario.simulation.runUntilIdle()
    #expect(scenario.network.trace.events(named: "connect").count == 1)
    let closes = scenario.network.trace.events(named: "log").filter {
      $0.field("text")?.description.hasPrefix("closed idle") ?? false
    }.map { "\($0.field("element")?.description ?? "?") \($0.time / 1000)" }
    // Alice's last message is bob's second 200, arriving at 10.020 s; bob's, that 200 sent at
    // 10.010 s. Timer K and J are zero over TCP, so nothing keeps either side busy past them.
    #expect(closes.sorted() == ["alice 42020", "bob 42010"])
    scenario.expectNothingLeftOver()
  }

  /// §18.1.1 with the peer named by a domain: the name is resolved to find the link's MTU, so a
  /// 750-byte request over a 900-byte-MTU link goes over TCP (under 1300 bytes, it would have
  /// stayed on UDP had the MTU been unknown).
  @Test func pathMTUOfANamedPeer() throws {
    let scenario = try Scenario()
    try scenario.core("alice")
    try scenario.core("bob") { request in [request.response(status: 200, toTag: "b1")] }
    let bob = try scenario.network.host(named: "bob")
    scenario.network.addAddressRecord("biloxi.example.com", bob.addresses)
    try scenario.network.setLink(LinkConditions(mtu: 900), from: "alice", to: "bob")
    let body = String(repeating: "x", count: 550)
    let request = makeRequest("MESSAGE", body: body)
    #expect(request.serializedCount > 700 && request.serializedCount < 1300)
    try scenario.send(request, from: "alice", to: peer("biloxi.example.com"))
    scenario.simulation.runUntilIdle()
    #expect(scenario.network.trace.events(named: "connect").count == 1)
    #expect(scenario.network.trace.events(named: "send").allSatisfy { $0.transport == .tcp })
    scenario.expectNothingLeftOver()
  }

  /// A refused TCP connection is a transport error at once, not a Timer F timeout.
  @Test func refusedConnectionIsReportedAtOnce() throws {
    let scenario = try Scenario(silent: ["bob"])
    try scenario.core("alice")
    try scenario.send(makeRequest("OPTIONS"), from: "alice", to: peer("10.0.0.2", .tcp))
    scenario.simulation.runUntilIdle()
    // The SYN reaches bob at 10 ms; the refusal is back at 20 ms.
    #expect(scenario.log.all == ["20 alice transport error"])
    scenario.expectNothingLeftOver()
  }

  /// Packet events carry the SIP keys; transaction events carry the element and the key.
  @Test func traceCarriesSIPFields() throws {
    let scenario = try Scenario()
    try scenario.core("alice")
    try scenario.core("bob") { request in [request.response(status: 200, toTag: "b1")] }
    let key = try #require(
      try scenario.send(makeRequest("OPTIONS"), from: "alice", to: peer("10.0.0.2")))
    scenario.simulation.runUntilIdle()
    let first = try #require(scenario.network.trace.events(named: "send").first)
    #expect(first.field("summary") == .string("OPTIONS sip:bob@10.0.0.2 SIP/2.0"))
    #expect(first.field("callId") == .string("a84b4c76e66710@10.0.0.1"))
    #expect(first.field("cseq") == .string("1 OPTIONS"))
    #expect(first.field("branch").map { "\($0)".hasPrefix("z9hG4bK") } == true)
    let created = try #require(scenario.network.trace.events(named: "transaction-created").first)
    #expect(created.field("element") == .string("alice"))
    #expect(created.field("transaction") == .string(key.description))
    #expect(first.jsonLine.contains(#""summary":"OPTIONS sip:bob@10.0.0.2 SIP/2.0""#))
  }

  /// A trace without payloads still carries the SIP keys (annotators run before the payload is
  /// dropped).
  @Test func sipFieldsWithoutPayloads() throws {
    let scenario = try Scenario()
    scenario.network.trace.keepsPayloads = false
    try scenario.core("bob") { request in [request.response(status: 200, toTag: "b1")] }
    try scenario.send(makeRequest("OPTIONS"), from: "alice", to: peer("10.0.0.2"))
    scenario.simulation.runUntilIdle()
    let sends = scenario.network.trace.events(named: "send")
    #expect(
      sends.map { $0.field("summary") } == [
        .string("OPTIONS sip:bob@10.0.0.2 SIP/2.0"), .string("SIP/2.0 200 OK"),
      ])
    #expect(sends.allSatisfy { $0.payload == nil })
  }

  /// The same seed gives the same trace, byte for byte.
  @Test func sameSeedSameTrace() throws {
    func run() throws -> String {
      let link = LinkConditions(latency: .milliseconds(10), lossProbability: 0.3)
      let scenario = try Scenario(seed: 42, link: link)
      try scenario.core("alice")
      try scenario.core("bob") { request in [request.response(status: 486, toTag: "b1")] }
      try scenario.send(makeRequest("INVITE"), from: "alice", to: peer("10.0.0.2"))
      scenario.simulation.runUntilIdle()
      return scenario.network.trace.jsonLines()
    }
    let first = try run()
    #expect(try run() == first)
    #expect(first.contains("timer-armed"))
  }
}
