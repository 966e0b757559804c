import SIPCore
import SIPDialog
import SIPElements
import SIPTransaction
import SIPTransport
import Simulation
import Testing

/// The UAS core's answers to requests it must refuse (§8.2, §12.2.2, §15.1.2), sent by a bare
/// endpoint so nothing on the client side tidies them up.
@Suite struct UserAgentServerTests {
  struct Row: Sendable, CustomStringConvertible {
    var name: String
    var request: SIPMessage
    var status: Int
    var header: String?
    var description: String { name }
  }

  static func request(
    _ method: String, tag: String? = nil, edit: (inout SIPMessage) -> Void = { _ in }
  ) -> SIPMessage {
    var request = makeRequest(method)
    if let tag { request.set("To", "Bob <sip:bob@10.0.0.2>;tag=\(tag)") }
    request.set("Contact", "<sip:alice@10.0.0.1>")
    edit(&request)
    return request
  }

  static let rows: [Row] = [
    Row(name: "unknown method", request: request("FOO"), status: 501),
    Row(
      name: "known, not allowed", request: request("REGISTER"), status: 405,
      header: "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS"),
    Row(
      name: "unsupported Require",
      request: request("OPTIONS") { $0.set("Require", "foo, bar") }, status: 420,
      header: "Unsupported: foo, bar"),
    Row(
      name: "body type", request: makeRequest("INVITE", body: "hello"), status: 415,
      header: "Accept: application/sdp"),
    Row(
      name: "no Max-Forwards", request: request("OPTIONS") { $0.remove("Max-Forwards") },
      status: 400, header: "Missing or malformed Max-Forwards header"),
    Row(
      name: "CSeq method", request: request("OPTIONS") { $0.set("CSeq", "1 INVITE") },
      status: 400, header: "CSeq method INVITE does not match OPTIONS"),
    Row(
      name: "tel URI",
      request: request("OPTIONS") {
        $0.startLine = .request(method: "OPTIONS", uri: "tel:+15551234", version: "SIP/2.0")
      }, status: 416),
    Row(name: "BYE outside a dialog", request: request("BYE"), status: 481),
    Row(name: "BYE in an unknown dialog", request: request("BYE", tag: "nope"), status: 481),
    Row(
      name: "bad SDP",
      request: makeRequest("INVITE", body: "v=0\r\nbogus\r\n").with {
        $0.set("Content-Type", "application/sdp")
        $0.set("Contact", "<sip:alice@10.0.0.1>")
      }, status: 400, header: "SDP"),
  ]

  @Test(arguments: rows)
  func refused(_ row: Row) throws {
    let scenario = try Scenario(hosts: ["alice", "bob"], silent: ["bob"])
    let bob = try UserAgent(
      network: scenario.network, host: "bob", aor: SIPURI(user: "bob", host: "10.0.0.2"))
    try scenario.core("alice")
    try scenario.send(row.request, from: "alice", to: peer("10.0.0.2"))
    scenario.simulation.runUntilIdle()
    let response = try #require(
      scenario.network.trace.events(named: "deliver").compactMap(\.payloadText).last {
        $0.hasPrefix("SIP/2.0")
      })
    #expect(response.hasPrefix("SIP/2.0 \(row.status) "), "\(response)")
    if let header = row.header { #expect(response.contains(header), "\(response)") }
    #expect(scenario.network.leftovers.isEmpty)
    _ = bob
  }

  /// The same INVITE reaching the UAS twice on different branches (a forking proxy upstream):
  /// the second copy gets 482 (§8.2.2.2).
  @Test func mergedRequest() throws {
    let scenario = try Scenario(hosts: ["alice", "bob"], silent: ["bob"])
    let bob = try UserAgent(
      network: scenario.network, host: "bob", aor: SIPURI(user: "bob", host: "10.0.0.2"),
      behaviour: .noAnswer)
    try scenario.core("alice")
    var invite = makeRequest("INVITE")
    invite.set("Contact", "<sip:alice@10.0.0.1>")
    try scenario.send(invite, from: "alice", to: peer("10.0.0.2"))
    try scenario.send(invite, from: "alice", to: peer("10.0.0.2"))
    scenario.simulation.run(for: .seconds(1))
    let statuses = scenario.network.trace.events(named: "deliver").compactMap(\.payloadText)
      .filter { $0.hasPrefix("SIP/2.0") }.map { $0.prefix(11) }
    #expect(statuses == ["SIP/2.0 180", "SIP/2.0 482"])
    _ = bob
  }

  /// §9.2: a CANCEL matching the INVITE's server transaction gets 200, with the To tag of the
  /// INVITE's final response, even once that response (a 486 at 10 ms) has ended the call: the
  /// transaction lives on, in Completed and, after the ACK, in Confirmed for T4. Once it has
  /// ended (T4 after the ACK, at 5.03 s) the CANCEL matches nothing and gets 481.
  @Test(arguments: [(Duration.seconds(1), 200), (.seconds(6), 481)])
  func aCancelAfterTheInvitesRejection(after: Duration, status: Int) throws {
    let scenario = try Scenario(hosts: ["alice", "bob"], silent: ["bob"])
    let bob = try UserAgent(
      network: scenario.network, host: "bob", aor: SIPURI(user: "bob", host: "10.0.0.2"),
      behaviour: .busy)
    try scenario.core("alice")
    var invite = makeRequest("INVITE")
    invite.set("Contact", "<sip:alice@10.0.0.1>")
    let key = try #require(try scenario.send(invite, from: "alice", to: peer("10.0.0.2")))
    scenario.simulation.run(for: after)
    let alice = try scenario.endpoint("alice")
    scenario.simulation.inspect {
      alice.assumeIsolated {
        _ = $0.sendRequest(invite.cancelRequest(), to: peer("10.0.0.2"), branch: key.branch)
      }
    }
    scenario.simulation.runUntilIdle()
    let responses = try scenario.network.trace.events(named: "deliver").compactMap(\.payloadText)
      .filter { $0.hasPrefix("SIP/2.0") }.map { try SIPMessage.parse($0) }
    #expect(
      responses.map { "\($0.status ?? 0) \($0.cseq?.method ?? "")" } == [
        "486 INVITE", "\(status) CANCEL",
      ])
    if status == 200 { #expect(responses.last?.toTag == responses.first?.toTag) }
    #expect(scenario.network.leftovers.isEmpty)
    _ = bob
  }

  /// A request with a CSeq lower than the dialog's remote sequence: 500 (§12.2.2).
  @Test func outOfOrderCSeq() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    phones.simulation.run(for: .seconds(1))
    // alice's INVITE was CSeq 1; an OPTIONS in the dialog with CSeq 0 is out of order.
    let tags = try phones.on("alice") { agent in
      agent.record(of: callID)?.dialogs.first.map { ($0.localTag, $0.remoteTag) }
    }
    let (local, remote) = try #require(tags)
    var options = SIPMessage.request(method: "OPTIONS", uri: "sip:bob@10.0.0.2")
    options.append("Max-Forwards", "70")
    options.append("To", "<sip:bob@10.0.0.2>;tag=\(remote)")
    options.append("From", "<sip:alice@10.0.0.1>;tag=\(local)")
    options.append("Call-ID", callID)
    options.append("CSeq", "0 OPTIONS")
    options.append("Content-Length", "0")
    let alice = try phones.agent("alice")
    phones.simulation.inspect {
      alice.assumeIsolated { agent in
        _ = agent.endpoint.assumeIsolated { $0.sendRequest(options, to: peer("10.0.0.2")) }
      }
    }
    phones.simulation.run(for: .seconds(1))
    #expect(phones.events.all.contains("1020 alice \(callID) 500 to OPTIONS"))
    try phones.on("alice") { $0.hangUp(callID) }
    phones.simulation.runUntilIdle()
    phones.expectNothingLeftOver()
  }

  /// The caller may end an early dialog with BYE (§15); the callee answers 200 and ends the
  /// INVITE with 487 (§15.1.2).
  @Test func byeOnAnEarlyDialog() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .noAnswer)])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    phones.simulation.run(for: .seconds(1))
    try phones.on("alice") { $0.byeEarly(callID) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 180", "alice>bob BYE", "bob>alice 200", "bob>alice 487",
        "alice>bob ACK",
      ])
    #expect(try phones.history("alice").first?.status == 487)
    phones.expectNothingLeftOver()
  }

  /// The callee may not BYE an early dialog (§15): hanging up before answering declines.
  @Test func calleeHangUpBeforeAnswerDeclines() throws {
    let phones = try Phones([
      ("alice", .answer()),
      (
        "bob",
        .custom { agent, call in
          agent.ring(call.callID)
          agent.after(.seconds(1)) { $0.hangUp(call.callID) }
        }
      ),
    ])
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == ["alice>bob INVITE", "bob>alice 180", "bob>alice 603", "alice>bob ACK"])
    phones.expectNothingLeftOver()
  }
}

extension SIPMessage {
  func with(_ edit: (inout SIPMessage) -> Void) -> SIPMessage {
    var copy = self
    edit(&copy)
    return copy
  }
}
