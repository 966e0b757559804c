import SIPCore
import SIPDialog
import SIPElements
import SIPServers
import Simulation
import Testing

/// Bob and a registrar for biloxi.example.com that authenticates with Digest.
func registrarLab(password: String = "zanzibar", nonceLifetime: Duration = .seconds(300))
  throws -> (Lab, LocationService)
{
  let lab = Lab()
  let location = lab.location()
  try lab.registrar(
    "server", domains: ["biloxi.example.com"], location: location,
    authentication: DigestServer(
      realm: "biloxi.example.com", users: ["bob": "zanzibar"], nonceLifetime: nonceLifetime))
  try lab.agent(
    "bob", aor: "sip:bob@biloxi.example.com",
    configuration: UAConfiguration(
      credentials: CredentialStore(accounts: [.init(username: "bob", password: password)])))
  return (lab, location)
}

let biloxiRegistrar = SIPURI(host: "biloxi.example.com")

/// RFC 3665 §2: the registration flows, each with the RFC's sequence.
@Suite struct RFC3665RegistrationFlowTests {
  func expect(
    _ lab: Lab, _ section: String, since: Int64, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let callID = try #require(try lab.on("bob") { $0.registration?.callID })
    let observed = lab.sent(callID: callID, since: since)
    let expected = RFC3665.sequences[section] ?? []
    #expect(
      RFC3665.matches(observed, expected) && !expected.isEmpty,
      "§\(section): expected \(expected), sent \(observed.map(\.token))",
      sourceLocation: sourceLocation)
  }

  /// Contacts registered with the agent's own (`extraContacts`, RFC 3665 §2.2's second device)
  /// are the agent's to keep: a refresh carries them too, so they do not lapse at the first
  /// grant, and `unregister()` removes them with its own. Before, only the first REGISTER
  /// carried them.
  @Test func extraContactsAreRefreshedAndRemovedWithTheAgentsOwn() throws {
    let (lab, location) = try registrarLab()
    let mobile = try SIPURI("sip:bob@192.0.2.44")
    try lab.on("bob") {
      $0.register(with: biloxiRegistrar, expires: 60, refresh: true, extraContacts: [mobile])
    }
    lab.run(for: .seconds(200))
    #expect(bindings(location, lab) == ["sip:bob@10.0.0.2:5060", "sip:bob@192.0.2.44"])
    let events = lab.network.trace.events(named: "binding")
    #expect(
      !events.contains { $0.field("action")?.description == "expired" }, "\(events.count)")
    try lab.on("bob") { $0.unregister() }
    lab.run(for: .seconds(40))
    #expect(bindings(location, lab).isEmpty)
    lab.expectNothingLeftOver(allowingBindings: false)
  }

  func bindings(_ location: LocationService, _ lab: Lab) -> [String] {
    lab.simulation.inspect {
      location.assumeIsolated { $0.lookup(bobAOR).map(\.contact.uri.description) }
    }
  }

  /// §2.1 to §2.4 in one life: register (challenged), add a contact (pre-emptive
  /// credentials, same Call-ID, next CSeq), ask for the list, remove everything.
  @Test func registrationLifecycle() throws {
    let (lab, location) = try registrarLab()
    try lab.on("bob") { $0.register(with: biloxiRegistrar, refresh: false) }
    lab.run(for: .seconds(1))
    try expect(lab, "2.1", since: 0)
    #expect(bindings(location, lab) == ["sip:bob@10.0.0.2:5060"])

    var since = lab.now
    let mobile = SIPURI(user: "bob", host: "192.0.2.44")
    try lab.on("bob") {
      $0.register(with: biloxiRegistrar, refresh: false, extraContacts: [mobile])
    }
    lab.run(for: .seconds(1))
    try expect(lab, "2.2", since: since)
    #expect(bindings(location, lab) == ["sip:bob@10.0.0.2:5060", "sip:bob@192.0.2.44"])

    since = lab.now
    try lab.on("bob") { $0.queryRegistrations() }
    lab.run(for: .seconds(1))
    try expect(lab, "2.3", since: since)
    let listed = try lab.on("bob") { $0.registration?.bindings ?? [] }
    #expect(listed.count == 2 && listed.allSatisfy { $0.contains(";expires=") })

    since = lab.now
    try lab.on("bob") { $0.unregister(all: true) }
    lab.run(for: .seconds(1))
    try expect(lab, "2.4", since: since)
    #expect(bindings(location, lab).isEmpty)
    lab.run(for: .seconds(60))
    lab.expectNothingLeftOver(allowingBindings: false)
  }

  @Test func unsuccessfulRegistration() throws {  // §2.5
    let (lab, location) = try registrarLab(password: "wrong")
    try lab.on("bob") { $0.register(with: biloxiRegistrar) }
    lab.run(for: .seconds(60))
    try expect(lab, "2.5", since: 0)
    #expect(try lab.on("bob") { $0.registration?.status } == 401)
    #expect(bindings(location, lab).isEmpty)
    lab.expectNothingLeftOver(allowingBindings: false)
  }
}

@Suite struct RegistrarScenarioTests {
  /// A binding registered for 60 s without refresh disappears exactly 60 s after the
  /// registrar accepted it; a refreshing agent's binding never lapses.
  @Test func bindingsExpireExactlyOnTimeAndRefreshesKeepThem() throws {
    let (lab, location) = try registrarLab()
    try lab.agent(
      "carol", aor: "sip:bob@biloxi.example.com",
      configuration: UAConfiguration(
        credentials: CredentialStore(accounts: [.init(username: "bob", password: "zanzibar")])))
    try lab.on("bob") { $0.register(with: biloxiRegistrar, expires: 60, refresh: false) }
    try lab.on("carol") { $0.register(with: biloxiRegistrar, expires: 60, refresh: true) }
    lab.run(for: .seconds(200))
    let events = lab.network.trace.events(named: "binding")
    let added = try #require(
      events.first {
        $0.field("action")?.description == "added"
          && $0.field("contact")?.description == "sip:bob@10.0.0.2:5060"
      })
    let expired = try #require(events.first { $0.field("action")?.description == "expired" })
    #expect(expired.field("contact")?.description == "sip:bob@10.0.0.2:5060")
    #expect(expired.time == added.time + 60_000_000)
    // Carol refreshed at 30, 60, 90 … s: still there, and refreshed more than five times.
    #expect(bindings(location, lab) == ["sip:bob@10.0.0.3:5060"])
    #expect(events.filter { $0.field("action")?.description == "refreshed" }.count >= 5)
    try lab.on("carol") { $0.unregister() }
    lab.run(for: .seconds(40))
    #expect(bindings(location, lab).isEmpty)
    lab.expectNothingLeftOver(allowingBindings: false)
  }

  func bindings(_ location: LocationService, _ lab: Lab) -> [String] {
    lab.simulation.inspect {
      location.assumeIsolated { $0.lookup(bobAOR).map(\.contact.uri.description) }
    }
  }

  /// A captured REGISTER with valid credentials, replayed later from another host, is
  /// challenged again: its nonce count was already used (RFC 2617 §3.2.2, §22.4).
  @Test func aReplayedAuthorizationIsRejected() throws {
    let (lab, location) = try registrarLab()
    try lab.host("eve")
    try lab.on("bob") { $0.register(with: biloxiRegistrar, refresh: false) }
    lab.run(for: .seconds(1))
    let signed = try #require(
      lab.network.trace.events(named: "send").last { event in
        event.field("summary")?.description.hasPrefix("REGISTER") == true
          && event.payload.map { String(decoding: $0, as: UTF8.self).contains("Authorization:") }
            == true
      })
    let payload = try #require(signed.payload)
    let registrar = try #require(lab.network.resolve("biloxi.example.com").first)
    try lab.on("bob") { $0.unregister() }
    lab.run(for: .seconds(40))  // Past Timer J: the replay is a new transaction.
    let replies = CoreLog()
    let socket = try lab.network.bindDatagram(host: "eve") { datagram in
      replies.append(String(decoding: datagram.payload, as: UTF8.self))
    }
    try socket.send(payload, to: SocketAddress(registrar, 5060))
    lab.run(for: .seconds(1))
    #expect(replies.all.count == 1)
    #expect(replies.all.first?.hasPrefix("SIP/2.0 401") == true)
    #expect(bindings(location, lab).isEmpty)
    let log = lab.network.trace.events(named: "log").map { $0.field("text")?.description ?? "" }
    #expect(log.contains { $0.contains("replay") })
    socket.close()
    lab.run(for: .seconds(40))
    lab.expectNothingLeftOver(allowingBindings: false)
  }

  /// A registrar's Min-Expires: the agent asks again with the minimum (§10.2.8).
  @Test func intervalTooBriefIsRetriedWithTheMinimum() throws {
    let lab = Lab()
    let location = lab.location()
    try lab.registrar(
      "server", domains: ["biloxi.example.com"], location: location, minExpires: 300)
    try lab.agent("bob", aor: "sip:bob@biloxi.example.com")
    try lab.on("bob") { $0.register(with: biloxiRegistrar, expires: 30, refresh: false) }
    lab.run(for: .seconds(1))
    let callID = try #require(try lab.on("bob") { $0.registration?.callID })
    #expect(lab.sent(callID: callID).map(\.token) == ["REGISTER", "423", "REGISTER", "200"])
    #expect(try lab.on("bob") { $0.registration?.granted } == 300)
    // The retry is the first REGISTER (built again from its parts) with the next CSeq, the
    // minimum as Expires and a Via of its own: the same From tag, To, Contact and Call-ID.
    let registers = lab.network.trace.events(named: "send").compactMap { event in
      event.payload.flatMap { try? SIPMessage.parse($0) }
    }.filter { $0.method == "REGISTER" }
    try #require(registers.count == 2)
    let (first, retry) = (registers[0], registers[1])
    #expect(retry.cseq?.sequence == (first.cseq?.sequence ?? 0) + 1)
    #expect(first.values("expires") == ["30"] && retry.values("expires") == ["300"])
    #expect(first.topVia?.branch != retry.topVia?.branch)
    for name in ["from", "to", "call-id", "contact", "max-forwards", "content-length"] {
      #expect(retry.values(name) == first.values(name), "\(name)")
    }
    #expect(retry.headers.map(\.name) == first.headers.map(\.name))
    try lab.on("bob") { $0.unregister() }
    lab.run(for: .seconds(40))
    lab.expectNothingLeftOver(allowingBindings: false)
  }
}
