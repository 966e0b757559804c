import SIPCore
import SIPDialog
import SIPElements
import SIPServers
import Simulation
import Testing

let bobAOR = SIPURI(user: "bob", host: "biloxi.example.com")
let users = ["alice": "wonderland", "bob": "zanzibar"]

/// The RFC 3665 cast: alice@atlanta behind proxy1 (atlanta.example.com), bob@biloxi registered
/// with proxy2 (biloxi.example.com, also its registrar). Bob registers first, without refresh.
func trapezoid(
  seed: UInt64 = 1, proxy1Auth: Bool = false, proxy2Auth: Bool = false,
  proxy2: (inout ProxyConfiguration) -> Void = { _ in }, bob: UABehaviour,
  fallbackToProxy2: Bool = false
) throws -> Lab {
  let lab = Lab(seed: seed)
  var atlanta = ProxyConfiguration(
    domains: ["atlanta.example.com"], registrar: RegistrarPolicy(domains: ["atlanta.example.com"]))
  if proxy1Auth {
    atlanta.authentication = DigestServer(realm: "atlanta.example.com", users: users)
  }
  try lab.proxy(
    "proxy1", domains: ["atlanta.example.com"], location: lab.location(), configuration: atlanta)
  var biloxi = ProxyConfiguration(
    domains: ["biloxi.example.com"], registrar: RegistrarPolicy(domains: ["biloxi.example.com"]))
  if proxy2Auth { biloxi.authentication = DigestServer(realm: "biloxi.example.com", users: users) }
  proxy2(&biloxi)
  try lab.proxy(
    "proxy2", domains: ["biloxi.example.com"], location: lab.location(), configuration: biloxi)
  try lab.agent(
    "alice", aor: "sip:alice@atlanta.example.com",
    configuration: UAConfiguration(
      outboundProxy: SIPURI(host: "atlanta.example.com"),
      fallbackProxies: fallbackToProxy2 ? [SIPURI(host: "biloxi.example.com")] : [],
      credentials: CredentialStore(accounts: [.init(username: "alice", password: "wonderland")])))
  try lab.agent(
    "bob", aor: "sip:bob@biloxi.example.com", behaviour: bob,
    configuration: UAConfiguration(
      credentials: CredentialStore(accounts: [.init(username: "bob", password: "zanzibar")])))
  try lab.on("bob") { $0.register(with: SIPURI(host: "biloxi.example.com"), refresh: false) }
  lab.run(for: .seconds(1))
  return lab
}

/// RFC 3665 §3: each session flow, run in a simulation, sends the methods and status codes of
/// the RFC's sequence (retransmissions included), and leaves nothing behind.
@Suite struct RFC3665SessionFlowTests {
  func check(
    _ lab: Lab, _ callID: String, _ section: String, until: Int64 = .max,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let expected = RFC3665.sequences[section] ?? []
    #expect(!expected.isEmpty, "no sequence for \(section)", sourceLocation: sourceLocation)
    let observed = lab.sent(callID: callID, until: until)
    #expect(
      RFC3665.matches(observed, expected),
      "§\(section): expected \(expected), sent \(lab.ladder(callID: callID))",
      sourceLocation: sourceLocation)
  }

  @Test func successfulSessionEstablishment() throws {  // §3.1
    let lab = Lab()
    try lab.agent("alice", aor: "sip:alice@atlanta.example.com")
    let bob = try lab.host("bob")
    let agent = try UserAgent(
      network: lab.network, host: "bob", aor: bobAOR,
      behaviour: .answerThenHangUp(ringing: .seconds(2), talk: .seconds(10)))
    lab.agents["bob"] = agent
    lab.endpoints["bob"] = agent.endpoint
    let callID = try lab.on("alice") { $0.call(SIPURI(user: "bob", host: bob.description)) }
    lab.run(for: .seconds(120))
    check(lab, callID, "3.1")
    #expect(try lab.on("alice") { $0.record(of: callID)?.ending } == "BYE received")
    lab.expectNothingLeftOver()
  }

  @Test func sessionThroughTwoProxies() throws {  // §3.2
    let lab = try trapezoid(
      proxy1Auth: true, bob: .answerThenHangUp(ringing: .seconds(2), talk: .seconds(10)))
    let callID = try lab.on("alice") { $0.call(bobAOR) }
    lab.run(for: .seconds(120))
    check(lab, callID, "3.2")
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    lab.expectNothingLeftOver()
  }

  @Test func sessionWithMultipleProxyAuthentication() throws {  // §3.3
    let lab = try trapezoid(proxy1Auth: true, proxy2Auth: true, bob: .answer())
    let start = lab.simulation.now.microseconds
    let callID = try lab.on("alice") { $0.call(bobAOR, hangUpAfter: .seconds(30)) }
    lab.run(for: .seconds(120))
    // The RFC's flow stops at the ACK; our caller hangs up 30 s later.
    check(lab, callID, "3.3", until: start + 30_000_000)
    lab.expectNothingLeftOver()
  }

  @Test func sessionWithProxyFailure() throws {  // §3.4
    let lab = try trapezoid(
      proxy2Auth: true, bob: .answerThenHangUp(ringing: .seconds(2), talk: .seconds(10)),
      fallbackToProxy2: true)
    // Proxy 1 is down: everything sent to it is lost.
    let dead = try lab.network.host(named: "proxy1").addresses[0]
    lab.network.datagramFault = { $0.to.address == dead ? .drop : .pass }
    let callID = try lab.on("alice") { $0.call(bobAOR) }
    lab.run(for: .seconds(150))
    check(lab, callID, "3.4")
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    lab.expectNothingLeftOver()
  }

  /// An outbound proxy with no address fails the INVITE at once (a transport error at the same
  /// instant), and the caller fails over to the next proxy; the call keeps the new INVITE's
  /// transaction, so a CANCEL matches it and the call ends 487. (When the error came inside the
  /// send, the failover ran inside it too, and the dead INVITE's key, returned by the outer
  /// send after the failover had set the new one, overwrote it: the CANCEL took the dead
  /// branch, got 481, and the INVITE went on ringing.)
  @Test func aFailoverToTheNextProxyKeepsTheNewInvitesTransaction() throws {
    let lab = Lab()
    try lab.proxy(
      "proxy2", domains: ["biloxi.example.com"], location: lab.location(),
      configuration: ProxyConfiguration(
        domains: ["biloxi.example.com"],
        registrar: RegistrarPolicy(domains: ["biloxi.example.com"])))
    try lab.agent(
      "alice", aor: "sip:alice@atlanta.example.com",
      configuration: UAConfiguration(
        outboundProxy: SIPURI(host: "nowhere.invalid"),
        fallbackProxies: [SIPURI(host: "biloxi.example.com")]))
    try lab.agent("bob", aor: "sip:bob@biloxi.example.com", behaviour: .noAnswer)
    try lab.on("bob") { $0.register(with: SIPURI(host: "biloxi.example.com"), refresh: false) }
    lab.run(for: .seconds(1))
    let callID = try lab.on("alice") { $0.call(bobAOR) }
    lab.run(for: .seconds(1))
    try lab.on("alice") { $0.cancel(callID) }
    lab.run(for: .seconds(60))
    #expect(try lab.on("alice") { $0.record(of: callID)?.status } == 487)
    lab.expectNothingLeftOver()
  }

  @Test func sessionViaRedirectAndProxyWithSDPInACK() throws {  // §3.6
    let lab = Lab()
    let chicago = lab.location()
    try lab.proxy(
      "proxy3", domains: ["chicago.example.com"], location: chicago,
      configuration: ProxyConfiguration(domains: ["chicago.example.com"]))
    try lab.host("redirect", domains: ["biloxi.example.com"])
    let biloxi = lab.location()
    let redirect = try RedirectServer(network: lab.network, host: "redirect", location: biloxi)
    lab.endpoints["redirect"] = redirect.endpoint
    try lab.agent("alice", aor: "sip:alice@atlanta.example.com")
    try lab.agent(
      "bob", aor: "sip:bob@chicago.example.com",
      behaviour: .answerThenHangUp(ringing: .seconds(2), talk: .seconds(10)))
    let bobContact = SIPURI(
      user: "bob", host: try lab.network.host(named: "bob").addresses[0].description)
    lab.simulation.inspect {
      biloxi.assumeIsolated {
        $0.add(aor: bobAOR, contact: SIPURI(user: "bob", host: "chicago.example.com"))
      }
      chicago.assumeIsolated {
        $0.add(aor: SIPURI(user: "bob", host: "chicago.example.com"), contact: bobContact)
      }
    }
    // No offer in the INVITE: Bob offers in his 200, Alice answers in the ACK.
    let callID = try lab.on("alice") { $0.call(bobAOR, offer: false) }
    lab.run(for: .seconds(120))
    check(lab, callID, "3.6")
    let record = try lab.on("alice") { $0.record(of: callID) }
    #expect(record?.wasAnswered == true && record?.localSDP != nil && record?.remoteSDP != nil)
    lab.expectNothingLeftOver()
  }

  /// §3.7: bob's host moves mid-call (`NetworkChange.move`) and his agent re-INVITEs alice
  /// from the new address, its Contact and SDP naming it; alice's 200 refreshes her dialog's
  /// remote target (§12.2), so her BYE goes to the new address. The proxy does not
  /// Record-Route, so the two talk directly once the call is up, as in the RFC's ladder. Bob
  /// registers his new contact at the same instant.
  @Test func sessionWithReInviteAfterAnAddressChange() throws {  // §3.7
    let lab = Lab()
    try lab.proxy(
      "proxy2", domains: ["biloxi.example.com"], location: lab.location(),
      configuration: ProxyConfiguration(
        domains: ["biloxi.example.com"], recordRoute: false,
        registrar: RegistrarPolicy(domains: ["biloxi.example.com"])))
    try lab.agent(
      "alice", aor: "sip:alice@atlanta.example.com",
      configuration: UAConfiguration(outboundProxy: SIPURI(host: "biloxi.example.com")))
    try lab.agent("bob", aor: "sip:bob@biloxi.example.com", behaviour: .ring(for: .seconds(1)))
    try lab.on("bob") { $0.register(with: SIPURI(host: "biloxi.example.com")) }
    lab.run(for: .seconds(1))
    let callID = try lab.on("alice") { $0.call(bobAOR, hangUpAfter: .seconds(14)) }
    let old = try lab.network.host(named: "bob").addresses[0]
    let new = try #require(IPAddress("192.0.2.33"))
    let movedAt = lab.simulation.now.microseconds + 6_000_000
    try lab.network.schedule(.move("bob", to: new), at: SimInstant(microseconds: movedAt))
    lab.run(for: .seconds(60))
    check(lab, callID, "3.7")
    let sends = lab.network.trace.events(named: "send")
    func text(_ event: TraceEvent) -> String {
      String(decoding: event.payload ?? [], as: UTF8.self)
    }
    let reinvite = try #require(
      sends.first {
        $0.time >= movedAt && $0.field("summary")?.description.hasPrefix("INVITE") == true
      })
    #expect(reinvite.time == movedAt && reinvite.from?.address == new)
    #expect(text(reinvite).contains("Contact: <sip:bob@192.0.2.33:5060>"), "\(text(reinvite))")
    #expect(text(reinvite).contains("o=bob ") && text(reinvite).contains("IN IP4 192.0.2.33\r\n"))
    #expect(!text(reinvite).contains(old.description), "\(text(reinvite))")
    let bye = try #require(
      sends.first { $0.field("summary")?.description.hasPrefix("BYE") == true })
    #expect(bye.to?.address == new && bye.field("callId")?.description == callID)
    let register = sends.filter {
      $0.time == movedAt && $0.field("summary")?.description.hasPrefix("REGISTER") == true
    }
    #expect(register.count == 1 && text(register[0]).contains("Contact: <sip:bob@192.0.2.33:5060>"))
    // The same REGISTER removes the old contact (§10.2.2), so no call forks to it any more.
    #expect(text(register[0]).contains("<sip:bob@\(old):5060>;expires=0"), "\(text(register[0]))")
    let bindings = lab.network.trace.events(named: "binding").filter { $0.time > movedAt }
    #expect(bindings.compactMap { $0.field("action")?.description } == ["added", "removed"])
    #expect(try lab.on("alice") { $0.record(of: callID)?.ending } == "BYE sent")
    try lab.on("bob") { $0.stopRefreshing() }
    lab.expectNothingLeftOver()
  }

  @Test func unsuccessfulNoAnswer() throws {  // §3.8
    let lab = try trapezoid(bob: .noAnswer)
    let callID = try lab.on("alice") { $0.call(bobAOR, cancelAfter: .seconds(5)) }
    lab.run(for: .seconds(120))
    check(lab, callID, "3.8")
    #expect(try lab.on("alice") { $0.record(of: callID)?.status } == 487)
    lab.expectNothingLeftOver()
  }

  @Test func unsuccessfulBusy() throws {  // §3.9
    let lab = try trapezoid(bob: .busy)
    let callID = try lab.on("alice") { $0.call(bobAOR) }
    lab.run(for: .seconds(120))
    check(lab, callID, "3.9")
    #expect(try lab.on("alice") { $0.record(of: callID)?.status } == 486)
    lab.expectNothingLeftOver()
  }

  @Test func unsuccessfulNoResponseFromUserAgent() throws {  // §3.10
    let lab = try trapezoid(
      proxy2: {
        $0.noResponseStatus = 480; $0.noResponseReason = "No Response"
      }, bob: .answer())
    let silent = try lab.network.host(named: "bob").addresses[0]
    lab.network.datagramFault = { $0.to.address == silent ? .drop : .pass }
    let callID = try lab.on("alice") { $0.call(bobAOR) }
    lab.run(for: .seconds(120))
    check(lab, callID, "3.10")
    #expect(try lab.on("alice") { $0.record(of: callID)?.status } == 480)
    lab.expectNothingLeftOver()
  }

  @Test func unsuccessfulTemporarilyUnavailable() throws {  // §3.11
    let lab = try trapezoid(
      bob: .custom { agent, call in
        agent.ring(call.callID)
        agent.after(.seconds(5)) { $0.reject(call.callID, status: 480) }
      })
    let callID = try lab.on("alice") { $0.call(bobAOR) }
    lab.run(for: .seconds(120))
    check(lab, callID, "3.11")
    #expect(try lab.on("alice") { $0.record(of: callID)?.status } == 480)
    lab.expectNothingLeftOver()
  }
}
