import SIPCore
import SIPElements
import SIPServers
import SIPTransport
import Simulation
import Testing

/// RFC 3263 at a stateful proxy: proxy1 forwards alice's INVITE for biloxi.example.com, whose
/// SRV records list proxy2a (priority 10) before proxy2b (priority 20). When proxy2a fails
/// (Timer B, a transport error, a 503), proxy1 sends the same forwarded request with a new
/// branch to proxy2b in the same branch of its response context (§4.3; RFC 3261 §16.7).
@Suite struct ProxyFailOverTests {
  static let bob = SIPURI(user: "bob", host: "biloxi.example.com")

  /// How proxy2a is built: a proxy (crashed by the test when it wants), or an agent answering
  /// 503 (with Retry-After when given).
  enum Second {
    case proxy
    case busy(retryAfter: Int?)
  }

  /// alice (10.0.0.1, outbound proxy proxy1) → proxy1 (10.0.0.2) → proxy2a (10.0.0.3) or
  /// proxy2b (10.0.0.4), found by SRV (`transport` names the SRV records: `_sip._udp` or,
  /// behind a NAPTR record, `_sip._tcp`) → bob (10.0.0.5), bound at both proxies.
  static func lab(
    proxy2a: Second = .proxy, transport: SIPTransportProtocol = .udp,
    bobBehaviour: UABehaviour = .answer()
  ) throws -> Lab {
    let lab = Lab()
    let location = lab.location()
    try lab.agent(
      "alice", aor: "sip:alice@atlanta.example.com",
      configuration: UAConfiguration(outboundProxy: SIPURI(host: "10.0.0.2")))
    try lab.proxy("proxy1", domains: [], configuration: ProxyConfiguration(domains: []))
    let biloxi = ProxyConfiguration(domains: ["biloxi.example.com"])
    switch proxy2a {
    case .proxy:
      try lab.proxy(
        "proxy2a", domains: ["p2a.biloxi.example.com"], location: location, configuration: biloxi)
    case .busy(let retryAfter):
      try lab.agent(
        "proxy2a", aor: "sip:proxy2a@biloxi.example.com",
        behaviour: .custom { agent, call in
          agent.reject(
            call.callID, status: 503,
            headers: retryAfter.map { [SIPParameter("Retry-After", "\($0)")] } ?? [])
        }, domains: ["p2a.biloxi.example.com"])
    }
    try lab.proxy(
      "proxy2b", domains: ["p2b.biloxi.example.com"], location: location, configuration: biloxi)
    try lab.agent("bob", aor: bob.description, behaviour: bobBehaviour)
    lab.simulation.inspect {
      location.assumeIsolated { $0.add(aor: bob, contact: SIPURI(user: "bob", host: "10.0.0.5")) }
    }
    let name: String
    if transport == .tcp {
      name = "_sip._tcp.biloxi.example.com"
      lab.network.addNamingAuthorityRecord(
        NamingAuthorityRecord(
          name: "biloxi.example.com", order: 10, preference: 10, flags: "s", service: "SIP+D2T",
          replacement: name))
    } else {
      name = "_sip._udp.biloxi.example.com"
    }
    lab.network.addServiceRecord(
      ServiceRecord(name: name, priority: 10, port: 5060, target: "p2a.biloxi.example.com"))
    lab.network.addServiceRecord(
      ServiceRecord(name: name, priority: 20, port: 5060, target: "p2b.biloxi.example.com"))
    return lab
  }

  /// A trace event's fields but its element, as `name=value` joined by spaces, for `element`.
  static func events(_ lab: Lab, _ name: String, at element: String = "proxy1") -> [String] {
    lab.network.trace.events(named: name).filter {
      $0.field("element")?.description == element
    }.map { event in
      event.fields.filter { $0.0 != "element" }.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }
  }

  /// Requests proxy1 sent: (method, destination, branch).
  static func sentByProxy1(_ lab: Lab, _ method: String) -> [(to: String, branch: String)] {
    lab.network.trace.events(named: "send").compactMap { event in
      guard event.field("summary")?.description.hasPrefix("\(method) ") == true,
        event.from?.address.description == "10.0.0.2"
      else { return nil }
      return (event.to?.description ?? "", event.field("branch")?.description ?? "")
    }
  }

  /// The statuses of the responses to alice's INVITE in `callID`, from her event log.
  static func finals(_ lab: Lab, _ callID: String) -> [String] {
    lab.events.all.filter { $0.contains("\(callID) ") && $0.hasSuffix(" to INVITE") }.map {
      String($0.dropLast(" to INVITE".count).suffix(3))
    }
  }

  /// §4.3: proxy2a is down; proxy1's INVITE to it times out (Timer B, 32 s) and the same
  /// INVITE, on a new branch, goes to proxy2b: the call completes, and alice never knows.
  @Test func timerBFailsTheBranchOverToTheNextServer() throws {
    let lab = try Self.lab()
    try lab.network.apply(.crash("proxy2a"))
    let callID = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(120))
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    #expect(
      Self.events(lab, "server-location")
        == [
          "uri=sip:bob@biloxi.example.com rule=SRV transport=UDP "
            + "queries=SRV _sip._udp.biloxi.example.com: p2a.biloxi.example.com:5060 "
            + "p2b.biloxi.example.com:5060 targets=10.0.0.3:5060/UDP 10.0.0.4:5060/UDP"
        ])
    #expect(
      Self.events(lab, "fail-over")
        == [
          "method=INVITE from=10.0.0.3:5060/UDP to=10.0.0.4:5060/UDP reason=Timer B callId=\(callID)"
        ])
    let invites = Self.sentByProxy1(lab, "INVITE")
    let toA = invites.filter { $0.to == "10.0.0.3:5060" }
    let toB = invites.filter { $0.to == "10.0.0.4:5060" }
    #expect(toA.count == 7 && toB.count == 1, "\(invites)")
    #expect(Set(toA.map(\.branch)).count == 1)
    #expect(toB.first?.branch != toA.first?.branch)
    // Neither a 408 nor a 503 went up.
    #expect(
      !lab.network.trace.events(named: "send").contains {
        $0.field("summary")?.description.hasPrefix("SIP/2.0 408") == true
      })
    lab.expectNothingLeftOver()
  }

  /// §4.1: NAPTR chooses TCP; proxy2a's host is down, the connection fails at once, and
  /// proxy1 fails the branch over without waiting for a timer (RFC 3261 §16.9).
  @Test func aTransportErrorOverTCPFailsOverAtOnce() throws {
    let lab = try Self.lab(transport: .tcp)
    try lab.network.apply(.crash("proxy2a"))
    let start = lab.now
    let callID = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(120))
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    let location = try #require(Self.events(lab, "server-location").first)
    #expect(location.contains("rule=NAPTR transport=TCP"), "\(location)")
    let failOver = lab.network.trace.events(named: "fail-over")
    #expect(failOver.count == 1)
    #expect(failOver.first?.field("element")?.description == "proxy1")
    #expect(failOver.first?.field("reason")?.description == "transport error")
    #expect(failOver.first?.field("to")?.description == "10.0.0.4:5060/TCP")
    #expect((failOver.first?.time ?? .max) - start < 1_000_000)
    lab.expectNothingLeftOver()
  }

  /// A 503 from proxy2a is not kept for the choice of §16.7 but failed over (RFC 3261
  /// §21.5.4, RFC 3263 §4.3); its Retry-After keeps proxy1's next INVITE off proxy2a while it
  /// runs.
  @Test func a503FailsOverAndItsRetryAfterKeepsTheServerOutOfUse() throws {
    let lab = try Self.lab(proxy2a: .busy(retryAfter: 30))
    let first = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(5))
    #expect(try lab.on("alice") { $0.record(of: first)?.wasAnswered } == true)
    #expect(
      Self.events(lab, "fail-over")
        == ["method=INVITE from=10.0.0.3:5060/UDP to=10.0.0.4:5060/UDP reason=503 callId=\(first)"])
    // proxy2a's 503 was ACKed by proxy1's transaction and went no further.
    #expect(Self.finals(lab, first) == ["200"], "\(Self.finals(lab, first))")
    let second = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(5))
    #expect(try lab.on("alice") { $0.record(of: second)?.wasAnswered } == true)
    #expect(Self.events(lab, "fail-over").count == 1)
    #expect(
      Self.events(lab, "server-location").last?.hasSuffix("targets=10.0.0.4:5060/UDP") == true)
    // 30 s on, proxy2a is tried again (and fails over again).
    lab.run(for: .seconds(30))
    let third = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(60))
    #expect(try lab.on("alice") { $0.record(of: third)?.wasAnswered } == true)
    #expect(Self.events(lab, "fail-over").count == 2)
    lab.expectNothingLeftOver()
  }

  /// alice (through proxy1 at 10.0.0.2, or calling herself), proxy2a and proxy2b both named by
  /// biloxi.example.com's address records (no SRV), proxy2a answering every INVITE 503 with
  /// Retry-After: 30, proxy2b a proxy that knows bob; after a first call, answered, 5 s on.
  static func retryAfterLab(throughProxy1: Bool) throws -> (Lab, String) {
    let lab = Lab()
    let location = lab.location()
    try lab.agent(
      "alice", aor: "sip:alice@atlanta.example.com",
      configuration: UAConfiguration(
        outboundProxy: throughProxy1 ? SIPURI(host: "10.0.0.2") : nil))
    if throughProxy1 {
      try lab.proxy("proxy1", domains: [], configuration: ProxyConfiguration(domains: []))
    }
    try lab.agent(
      "proxy2a", aor: "sip:proxy2a@biloxi.example.com",
      behaviour: .custom { agent, call in
        agent.reject(call.callID, status: 503, headers: [SIPParameter("Retry-After", "30")])
      }, domains: ["biloxi.example.com"])
    try lab.proxy(
      "proxy2b", domains: ["biloxi.example.com"], location: location,
      configuration: ProxyConfiguration(domains: ["biloxi.example.com"]))
    try lab.agent("bob", aor: bob.description)
    let bobHost = try lab.network.host(named: "bob").addresses[0].description
    lab.simulation.inspect {
      location.assumeIsolated { $0.add(aor: bob, contact: SIPURI(user: "bob", host: bobHost)) }
    }
    let first = try lab.on("alice") { $0.call(bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(5))
    #expect(try lab.on("alice") { $0.record(of: first)?.wasAnswered } == true)
    return (lab, first)
  }

  /// No SRV or NAPTR record: biloxi.example.com's address records name proxy2a (10.0.0.3,
  /// answering 503 with Retry-After: 30) and proxy2b (10.0.0.4). proxy1 sends the first INVITE
  /// to the name's first address (RFC 3263 §4.2) and fails over to the second on the 503
  /// (§4.3). The server the Retry-After puts out of use is that address, 10.0.0.3 (RFC 3261
  /// §21.5.4: no other request goes "to that server" meanwhile): a second call 5 s later goes
  /// straight to 10.0.0.4. (Marked by the name it was sent to, the address itself stayed in
  /// use, and the second call went to proxy2a again.)
  @Test func aRetryAfterFromANamesFirstAddressKeepsThatAddressOutOfUse() throws {
    let (lab, first) = try Self.retryAfterLab(throughProxy1: true)
    #expect(
      Self.events(lab, "fail-over")
        == ["method=INVITE from=10.0.0.3:5060/UDP to=10.0.0.4:5060/UDP reason=503 callId=\(first)"])
    let second = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(5))
    #expect(try lab.on("alice") { $0.record(of: second)?.wasAnswered } == true)
    #expect(Self.events(lab, "fail-over").count == 1)
    #expect(
      Self.sentByProxy1(lab, "INVITE").map(\.to)
        == ["10.0.0.3:5060", "10.0.0.4:5060", "10.0.0.4:5060"])
    lab.run(for: .seconds(60))
    lab.expectNothingLeftOver()
  }

  /// The same for a user agent: alice calls bob@biloxi.example.com herself (no outbound
  /// proxy); the name has two address records and no SRV record; its first address answers 503
  /// with Retry-After. She fails over to the second, and her next call, 5 s later, goes
  /// straight there. (Marked by the name, the address stayed in use: the second call went to
  /// proxy2a again and failed over again.)
  @Test func aUserAgentKeepsTheAddressThatSent503OutOfUseNotTheName() throws {
    let (lab, first) = try Self.retryAfterLab(throughProxy1: false)
    let second = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(5))
    #expect(try lab.on("alice") { $0.record(of: second)?.wasAnswered } == true)
    #expect(
      Self.events(lab, "fail-over", at: "alice")
        == ["method=INVITE from=10.0.0.2:5060/UDP to=10.0.0.3:5060/UDP reason=503 callId=\(first)"])
    let invites = lab.network.trace.events(named: "send").filter {
      $0.field("summary")?.description.hasPrefix("INVITE ") == true
        && $0.from?.address.description == "10.0.0.1"
    }.compactMap { $0.to?.description }
    #expect(invites == ["10.0.0.2:5060", "10.0.0.3:5060", "10.0.0.3:5060"])
    lab.run(for: .seconds(60))
    lab.expectNothingLeftOver()
  }

  /// An ACK that matches proxy1's INVITE server transaction in Accepted (RFC 6026 §8.7
  /// passes it up: the ACK of a non-2xx the caller got by another path, here a stale response
  /// a failed-over server sent, which proxy1 forwarded statelessly as §16.7 step 1 has it) is
  /// an ACK without a transaction of its own: forwarded statelessly like the ACK for a 2xx
  /// (§16.11 for it), not made a request with a response context, which nothing ever
  /// completed (no response comes to an ACK) and which took the INVITE's context's place.
  @Test func anACKMatchingAnAcceptedInviteServerTransactionMakesNoResponseContext() throws {
    let lab = try Self.lab()
    let callID = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .milliseconds(500))
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    let invite = try #require(
      lab.network.trace.events(named: "send").first {
        $0.from?.address.description == "10.0.0.1"
          && $0.field("summary")?.description.hasPrefix("INVITE ") == true
      })
    let branch = try #require(invite.field("branch")?.description)
    var ack = SIPMessage.request(method: "ACK", uri: Self.bob.description)
    ack.append("Max-Forwards", "70")
    ack.append("To", "<\(Self.bob)>;tag=stale")
    ack.append("From", "<sip:alice@atlanta.example.com>;tag=stale")
    ack.append("Call-ID", callID)
    ack.append("CSeq", "1 ACK")
    ack.append("Content-Length", "0")
    let alice = try #require(lab.endpoints["alice"])
    lab.simulation.inspect {
      alice.assumeIsolated {
        $0.forwardStateless(
          ack, to: SIPPeer(host: "10.0.0.2", port: 5060, transport: .udp), branch: branch)
      }
    }
    lab.run(for: .milliseconds(100))
    let proxy1 = try #require(lab.proxies["proxy1"])
    // The INVITE's context ended with its 200; the ACK made none.
    #expect(lab.simulation.inspect { proxy1.assumeIsolated { $0.liveContexts } } == 0)
    lab.run(for: .seconds(60))
    lab.expectNothingLeftOver()
  }

  /// A CANCEL after the fail-over goes to the live transaction: to proxy2b, on the second
  /// INVITE's branch (§9.1: the CANCEL's Via branch is the INVITE's it cancels), and the
  /// call ends with bob's 487.
  @Test func aCancelAfterTheFailOverReachesTheLiveBranch() throws {
    let lab = try Self.lab(bobBehaviour: .noAnswer)
    try lab.network.apply(.crash("proxy2a"))
    let callID = try lab.on("alice") { $0.call(Self.bob) }
    lab.run(for: .seconds(40))
    #expect(Self.events(lab, "fail-over").count == 1)
    try lab.on("alice") { $0.cancel(callID) }
    lab.run(for: .seconds(60))
    let invites = Self.sentByProxy1(lab, "INVITE")
    let cancels = Self.sentByProxy1(lab, "CANCEL")
    #expect(cancels.count == 1, "\(cancels)")
    #expect(cancels.first?.to == "10.0.0.4:5060")
    #expect(cancels.first?.branch == invites.last?.branch)
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == false)
    #expect(Self.finals(lab, callID).last == "487", "\(Self.finals(lab, callID))")
    lab.expectNothingLeftOver()
  }

  /// Every server fails: Timer B on proxy2a, then on proxy2b; only then does the branch end
  /// with the 408 proxy1 makes up (§16.7 step 1), which goes up to alice.
  @Test func whenEveryServerFailsThe408GoesUp() throws {
    let lab = try Self.lab()
    try lab.network.apply(.crash("proxy2a"))
    try lab.network.apply(.crash("proxy2b"))
    let callID = try lab.on("alice") { $0.call(Self.bob) }
    lab.run(for: .seconds(120))
    #expect(Self.events(lab, "fail-over").count == 1)
    let invites = Self.sentByProxy1(lab, "INVITE")
    #expect(invites.filter { $0.to == "10.0.0.4:5060" }.count == 7, "\(invites)")
    #expect(Self.finals(lab, callID) == ["408"], "\(Self.finals(lab, callID))")
    // The 408 went up at the second Timer B: 2 × 32 s after proxy1 forwarded the INVITE.
    let up = lab.network.trace.events(named: "send").first {
      $0.field("summary")?.description.hasPrefix("SIP/2.0 408") == true
    }
    #expect(up.map { $0.time / 1_000_000 } == 64)
    lab.expectNothingLeftOver()
  }

  /// A forking proxy: bob is bound at a desk phone found by SRV (desk-a, crashed, before
  /// desk-b) and at a mobile reached directly. Only the desk branch fails over; the mobile
  /// branch rings on in the same response context until desk-b's 200 cancels it.
  @Test func aForkingProxyFailsOverOnlyTheBranchThatFailed() throws {
    let lab = Lab()
    let location = lab.location()
    try lab.agent(
      "alice", aor: "sip:alice@atlanta.example.com",
      configuration: UAConfiguration(outboundProxy: SIPURI(host: "10.0.0.2")))
    try lab.proxy(
      "proxy1", domains: [], location: location,
      configuration: ProxyConfiguration(domains: ["biloxi.example.com"]))
    try lab.agent("desk-a", aor: Self.bob.description, domains: ["a.desk.example.com"])
    try lab.agent(
      "desk-b", aor: Self.bob.description, behaviour: .ring(for: .seconds(1)),
      domains: ["b.desk.example.com"])
    try lab.agent("mobile", aor: Self.bob.description, behaviour: .noAnswer)
    let desk = "_sip._udp.desk.example.com"
    lab.network.addServiceRecord(
      ServiceRecord(name: desk, priority: 10, port: 5060, target: "a.desk.example.com"))
    lab.network.addServiceRecord(
      ServiceRecord(name: desk, priority: 20, port: 5060, target: "b.desk.example.com"))
    lab.simulation.inspect {
      location.assumeIsolated {
        $0.add(aor: Self.bob, contact: SIPURI(user: "bob", host: "desk.example.com"))
        $0.add(aor: Self.bob, contact: SIPURI(user: "bob", host: "10.0.0.5"))
      }
    }
    try lab.network.apply(.crash("desk-a"))
    let callID = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(120))
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    #expect(
      Self.events(lab, "fail-over")
        == [
          "method=INVITE from=10.0.0.3:5060/UDP to=10.0.0.4:5060/UDP reason=Timer B callId=\(callID)"
        ])
    // The mobile branch got one INVITE (no fail-over) and, after desk-b's 200, a CANCEL.
    #expect(Self.sentByProxy1(lab, "INVITE").filter { $0.to == "10.0.0.5:5060" }.count == 1)
    #expect(Self.sentByProxy1(lab, "CANCEL").map(\.to) == ["10.0.0.5:5060"])
    lab.expectNothingLeftOver()
  }
}

/// RFC 3263 §4.4 at a stateless proxy (RFC 3261 §16.11): biloxi's two proxies share one SRV
/// priority, so the order is a weighted draw; the stateless proxy, which cannot fail over, draws
/// it from a generator seeded by the transaction (its stateless branch), so every request of a
/// transaction goes to the same server while transactions spread over both.
@Suite struct StatelessProxyLocationTests {
  /// alice (10.0.0.1) → stateless proxy sp (10.0.0.2) → proxy2a (10.0.0.3) or proxy2b
  /// (10.0.0.4), both priority 10, weight 50 → bob (10.0.0.5), who rings for ever.
  static func lab() throws -> (Lab, StatelessProxy) {
    let lab = Lab()
    let location = lab.location()
    try lab.agent(
      "alice", aor: "sip:alice@atlanta.example.com",
      configuration: UAConfiguration(outboundProxy: SIPURI(host: "10.0.0.2")))
    try lab.host("sp")
    let stateless = try StatelessProxy(network: lab.network, host: "sp")
    lab.endpoints["sp"] = stateless.endpoint
    let biloxi = ProxyConfiguration(domains: ["biloxi.example.com"])
    for (name, domain) in [
      ("proxy2a", "p2a.biloxi.example.com"), ("proxy2b", "p2b.biloxi.example.com"),
    ] {
      try lab.proxy(name, domains: [domain], location: location, configuration: biloxi)
      lab.network.addServiceRecord(
        ServiceRecord(
          name: "_sip._udp.biloxi.example.com", priority: 10, weight: 50, port: 5060,
          target: domain))
    }
    try lab.agent("bob", aor: ProxyFailOverTests.bob.description, behaviour: .noAnswer)
    lab.simulation.inspect {
      location.assumeIsolated {
        $0.add(aor: ProxyFailOverTests.bob, contact: SIPURI(user: "bob", host: "10.0.0.5"))
      }
    }
    return (lab, stateless)
  }

  /// Where sp sent each request of `callID`: "METHOD destination".
  static func sent(_ lab: Lab, _ callID: String) -> [String] {
    lab.network.trace.events(named: "send").compactMap { event in
      guard event.field("callId")?.description == callID,
        event.from?.address.description == "10.0.0.2",
        let summary = event.field("summary")?.description, !summary.hasPrefix("SIP/2.0")
      else { return nil }
      return "\(summary.prefix { $0 != " " }) \(event.to?.description ?? "")"
    }
  }

  /// Six calls, each CANCELled while ringing: each call's INVITE, CANCEL and the ACK for its
  /// 487 go to one server; the calls use both.
  @Test func aTransactionStaysOnOneServerAndTransactionsSpread() throws {
    let (lab, stateless) = try Self.lab()
    var callIDs: [String] = []
    for _ in 0..<6 {
      callIDs.append(
        try lab.on("alice") { $0.call(ProxyFailOverTests.bob, cancelAfter: .seconds(2)) })
      lab.run(for: .seconds(1))
    }
    lab.run(for: .seconds(60))
    var servers: Set<String> = []
    for callID in callIDs {
      let sent = Self.sent(lab, callID)
      #expect(sent.map { $0.prefix { $0 != " " } } == ["INVITE", "CANCEL", "ACK"], "\(sent)")
      let destinations = Set(sent.map { $0.drop { $0 != " " } })
      #expect(destinations.count == 1, "\(sent)")
      servers.formUnion(destinations.map(String.init))
      #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == false)
    }
    #expect(servers == [" 10.0.0.3:5060", " 10.0.0.4:5060"])
    // A resolution per request, each traced; no fail-over.
    #expect(ProxyFailOverTests.events(lab, "server-location", at: "sp").count == 18)
    #expect(lab.network.trace.events(named: "fail-over").isEmpty)
    withExtendedLifetime(stateless) { lab.expectNothingLeftOver() }
  }

  /// Both servers down: alice's INVITE is retransmitted until her Timer B, and sp sends every
  /// copy to the same server (it cannot know the first failed).
  @Test func retransmissionsGoToTheSameServer() throws {
    let (lab, stateless) = try Self.lab()
    try lab.network.apply(.crash("proxy2a"))
    try lab.network.apply(.crash("proxy2b"))
    let callID = try lab.on("alice") { $0.call(ProxyFailOverTests.bob) }
    lab.run(for: .seconds(60))
    let sent = Self.sent(lab, callID)
    #expect(sent.count == 7, "\(sent)")
    #expect(Set(sent).count == 1, "\(sent)")
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == false)
    withExtendedLifetime(stateless) { lab.expectNothingLeftOver() }
  }
}
