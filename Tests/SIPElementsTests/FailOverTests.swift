import SIPCore
import SIPElements
import SIPServers
import SIPTransport
import Simulation
import Testing

/// RFC 3263 end to end: a caller finds biloxi's proxies through SRV (or NAPTR) records and fails
/// over from one that does not answer (§4.3) to the next, with the same request under a new
/// branch; a 503 with Retry-After keeps later requests off that server (RFC 3261 §21.5.4).
@Suite struct FailOverTests {
  static let bob = SIPURI(user: "bob", host: "biloxi.example.com")

  /// alice (no outbound proxy) → biloxi's proxies, found by `records`; bob answers. `proxy1`
  /// is built as `first` says: a proxy, a host with no element, or an agent answering 503.
  static func lab(
    first: FirstServer = .proxy, records: (Network) -> Void, aliceProxy: SIPURI? = nil,
    fallback: [SIPURI] = [], inviteExpires: UInt32? = nil, bob behaviour: UABehaviour = .answer()
  ) throws -> Lab {
    let lab = Lab()
    let location = lab.location()
    let configuration = ProxyConfiguration(domains: ["biloxi.example.com"])
    switch first {
    case .proxy:
      try lab.proxy(
        "proxy1", domains: [], location: location, configuration: configuration)
    case .none:
      try lab.host("proxy1")
    case .busy(let retryAfter):
      try lab.agent(
        "proxy1", aor: "sip:proxy1@biloxi.example.com",
        behaviour: .custom { agent, call in
          agent.reject(
            call.callID, status: 503,
            headers: retryAfter.map { [SIPParameter("Retry-After", "\($0)")] } ?? [])
        })
    }
    try lab.proxy("proxy2", domains: [], location: location, configuration: configuration)
    try lab.agent(
      "alice", aor: "sip:alice@atlanta.example.com",
      configuration: UAConfiguration(
        outboundProxy: aliceProxy, fallbackProxies: fallback, inviteExpires: inviteExpires))
    try lab.agent("bob", aor: bob.description, behaviour: behaviour)
    let bobAddress = try lab.network.host(named: "bob").addresses[0]
    lab.simulation.inspect {
      location.assumeIsolated {
        $0.add(aor: bob, contact: SIPURI(user: "bob", host: "\(bobAddress)"))
      }
    }
    records(lab.network)
    return lab
  }

  enum FirstServer {
    case proxy
    case none
    case busy(retryAfter: Int?)
  }

  static func srv(_ network: Network, _ name: String = "_sip._udp.biloxi.example.com") {
    network.addServiceRecord(ServiceRecord(name: name, priority: 10, port: 5060, target: "proxy1"))
    network.addServiceRecord(ServiceRecord(name: name, priority: 20, port: 5060, target: "proxy2"))
  }

  func events(_ lab: Lab, _ name: String) -> [String] {
    lab.network.trace.events(named: name).map { event in
      event.fields.filter { $0.0 != "element" }.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }
  }

  /// The INVITEs alice sent: (destination, CSeq, branch).
  func invites(_ lab: Lab) -> [(to: String, cseq: String, branch: String)] {
    lab.network.trace.events(named: "send").compactMap { event in
      guard event.field("summary")?.description.hasPrefix("INVITE ") == true,
        event.from?.address == (try? lab.network.host(named: "alice").addresses[0])
      else { return nil }
      return (
        event.to?.description ?? "", event.field("cseq")?.description ?? "",
        event.field("branch")?.description ?? ""
      )
    }
  }

  /// §4.3: proxy1 is down (crashed): the INVITE times out (Timer B) and the same INVITE, with
  /// a new branch, goes to proxy2, the next SRV target; the call completes.
  @Test func timerBFailsOverToTheNextSRVTarget() throws {
    let lab = try Self.lab(records: { Self.srv($0) })
    try lab.network.apply(.crash("proxy1"))
    let callID = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(120))
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    #expect(
      events(lab, "server-location").first
        == "uri=sip:bob@biloxi.example.com rule=SRV transport=UDP "
        + "queries=SRV _sip._udp.biloxi.example.com: proxy1:5060 proxy2:5060 "
        + "targets=10.0.0.1:5060/UDP 10.0.0.2:5060/UDP")
    #expect(
      events(lab, "fail-over")
        == [
          "method=INVITE from=10.0.0.1:5060/UDP to=10.0.0.2:5060/UDP reason=Timer B callId=\(callID)"
        ])
    let sent = invites(lab)
    let toProxy1 = sent.filter { $0.to == "10.0.0.1:5060" }
    let toProxy2 = sent.filter { $0.to == "10.0.0.2:5060" }
    #expect(toProxy1.count == 7 && toProxy2.count == 1, "\(sent)")
    // The same request (CSeq too), a new branch: a new transaction.
    #expect(toProxy2.first?.cseq == toProxy1.first?.cseq)
    #expect(toProxy2.first?.branch != toProxy1.first?.branch)
    lab.expectNothingLeftOver()
  }

  /// An INVITE failed over is an invitation of its own, as a retry or a redirect is: its
  /// Expires (§13.2.1) is measured from its own sending. proxy1 is down; alice's INVITE (Expires:
  /// 40) fails over to proxy2 at 32 s (Timer B), and her `expires` timer is armed again then,
  /// so bob, who only rings, is CANCELled at 72 s, not 8 s after the fail-over.
  @Test func aFailedOverInviteArmsItsOwnExpiry() throws {
    let lab = try Self.lab(records: { Self.srv($0) }, inviteExpires: 40, bob: .noAnswer)
    try lab.network.apply(.crash("proxy1"))
    let callID = try lab.on("alice") { $0.call(Self.bob) }
    lab.run(for: .seconds(180))
    let alice = lab.network.trace.events.filter {
      $0.event.hasPrefix("timer-") && $0.field("timer")?.description == "expires"
        && $0.field("element") == .string("alice")
    }.map { "\($0.time / 1000) \($0.event)" }
    #expect(
      alice == [
        "0 timer-armed", "32000 timer-cancelled", "32000 timer-armed", "72000 timer-fired",
      ])
    let cancels = lab.sent(callID: callID).filter { $0.token == "CANCEL" }.map(\.time)
    #expect(cancels.first == 72_000_000)
    #expect(try lab.on("alice") { $0.record(of: callID)?.status } == 487)
    lab.expectNothingLeftOver()
  }

  /// §4.1 NAPTR → SIP+D2T → TCP targets; proxy1's host is down, so the connection fails at
  /// once (a transport error) and alice fails over without waiting for a timer.
  @Test func aTransportErrorFailsOverAtOnce() throws {
    let lab = try Self.lab(records: { network in
      network.addNamingAuthorityRecord(
        NamingAuthorityRecord(
          name: "biloxi.example.com", order: 10, preference: 10, flags: "s", service: "SIP+D2T",
          replacement: "_sip._tcp.biloxi.example.com"))
      Self.srv(network, "_sip._tcp.biloxi.example.com")
    })
    try lab.network.apply(.crash("proxy1"))
    let start = lab.now
    let callID = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(120))
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    let location = try #require(events(lab, "server-location").first)
    #expect(location.contains("rule=NAPTR transport=TCP"), "\(location)")
    #expect(location.contains("NAPTR biloxi.example.com: SIP+D2T"), "\(location)")
    let failOver = lab.network.trace.events(named: "fail-over")
    #expect(failOver.count == 1)
    #expect(failOver.first?.field("reason")?.description == "transport error")
    #expect(failOver.first?.field("to")?.description == "10.0.0.2:5060/TCP")
    #expect((failOver.first?.time ?? .max) - start < 1_000_000)
    lab.expectNothingLeftOver()
  }

  /// A 503 with Retry-After fails over, and keeps the next call off that server while the
  /// time runs (RFC 3261 §21.5.4): its INVITE goes straight to proxy2.
  @Test func a503WithRetryAfterFailsOverAndKeepsLaterRequestsAway() throws {
    let lab = try Self.lab(first: .busy(retryAfter: 30), records: { Self.srv($0) })
    let first = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(5))
    #expect(try lab.on("alice") { $0.record(of: first)?.wasAnswered } == true)
    #expect(events(lab, "fail-over").first?.contains("reason=503") == true)
    let second = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(5))
    #expect(try lab.on("alice") { $0.record(of: second)?.wasAnswered } == true)
    #expect(events(lab, "fail-over").count == 1)
    #expect(events(lab, "server-location").last?.hasSuffix("targets=10.0.0.2:5060/UDP") == true)
    // 30 s on, proxy1 is tried again (and fails over again).
    lab.run(for: .seconds(30))
    let third = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(60))
    #expect(try lab.on("alice") { $0.record(of: third)?.wasAnswered } == true)
    #expect(events(lab, "fail-over").count == 2)
    lab.expectNothingLeftOver()
  }

  /// OPTIONS outside a dialog fails over too (Timer F here: proxy1 is a host with nothing on
  /// it); proxy2, responsible for biloxi.example.com, answers it.
  @Test func optionsFailOverOnTimerF() throws {
    let lab = try Self.lab(first: .none, records: { Self.srv($0) })
    let callID = try lab.on("alice") {
      $0.options(SIPURI(host: "biloxi.example.com"))
    }
    // Timer F (32 s), then proxy2's Timer J (32 s more).
    lab.run(for: .seconds(70))
    let answers = lab.events.all.filter { $0.contains(callID) }
    #expect(answers.count == 1 && answers.first?.contains("200") == true, "\(answers)")
    #expect(events(lab, "fail-over").first?.contains("method=OPTIONS") == true)
    #expect(events(lab, "fail-over").first?.contains("reason=Timer F") == true)
    lab.expectNothingLeftOver()
  }

  /// A final response to an OPTIONS transaction it failed over from (proxy1's 503, delayed
  /// past Timer F, comes as a stray) is not the request's answer: it neither fails the request
  /// over again nor puts proxy2, the server the request is on now, out of use (RFC 3263 §4.3,
  /// RFC 3261 §21.5.4). Proxy2's 200, later still, is the answer.
  @Test func aStray503ToAnOptionsFailedOverFromIsIgnored() throws {
    let lab = try Self.lab(first: .none, records: { Self.srv($0) })
    let busy = try SIPEndpoint(network: lab.network, host: "proxy1", timers: .rfc3261)
    lab.endpoints["proxy1"] = busy
    lab.simulation.inspect {
      busy.assumeIsolated { endpoint in
        endpoint.setCore { endpoint, event in
          guard case .request(let request, let key) = event, let key else { return }
          var response = request.response(status: 503, toTag: "busy")
          response.insertBeforeLength("Retry-After", "300")
          endpoint.respond(response, in: key)
        }
      }
    }
    let alice = try lab.network.host(named: "alice").addresses[0]
    lab.network.datagramFault = { datagram in
      // Both answers reach alice late: proxy1's after her Timer F, proxy2's after that.
      guard datagram.to.address == alice else { return .pass }
      let text = String(decoding: datagram.payload, as: UTF8.self)
      if text.hasPrefix("SIP/2.0 503") { return .delay(.seconds(40)) }
      if text.hasPrefix("SIP/2.0 200") { return .delay(.seconds(20)) }
      return .pass
    }
    let callID = try lab.on("alice") { $0.options(SIPURI(host: "biloxi.example.com")) }
    lab.run(for: .seconds(120))
    let answers = lab.events.all.filter { $0.contains(callID) }
    #expect(answers.count == 1 && answers.first?.contains("200") == true, "\(answers)")
    #expect(events(lab, "fail-over").count == 1, "\(events(lab, "fail-over"))")
    lab.expectNothingLeftOver()
  }

  /// With no SRV or NAPTR record at all, a name with two addresses fails over from the first
  /// to the second: the rest are looked up only when the first fails, and the failed server is
  /// traced as the address the name was sent to (the one a 503's Retry-After would put out of
  /// use).
  @Test func addressRecordsFailOverWithoutServiceRecords() throws {
    let lab = try Self.lab(
      first: .none,
      records: { network in
        let addresses = ["proxy1", "proxy2"].compactMap {
          try? network.host(named: $0).addresses[0]
        }
        network.addAddressRecord("biloxi.example.com", addresses)
      })
    #expect(!lab.network.hasServiceRecords)
    let callID = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(120))
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    #expect(events(lab, "server-location").isEmpty)
    #expect(
      events(lab, "fail-over")
        == [
          "method=INVITE from=10.0.0.1:5060/UDP to=10.0.0.2:5060/UDP reason=Timer B callId=\(callID)"
        ])
    lab.expectNothingLeftOver()
  }

  /// The outbound proxy's own targets first (RFC 3263 §4.3), then the configured fallback
  /// proxy (a new request, CSeq + 1), whose name is resolved in turn.
  @Test func theProxysTargetsComeBeforeTheFallbackProxies() throws {
    let lab = try Self.lab(
      first: .none,
      records: { network in
        network.addServiceRecord(
          ServiceRecord(
            name: "_sip._udp.atlanta.example.com", priority: 10, port: 5060, target: "proxy1"))
        network.addServiceRecord(
          ServiceRecord(
            name: "_sip._udp.atlanta.example.com", priority: 20, port: 5070, target: "proxy1"))
        Self.srv(network)
      }, aliceProxy: SIPURI(host: "atlanta.example.com"),
      fallback: [SIPURI(host: "biloxi.example.com")])
    let callID = try lab.on("alice") { $0.call(Self.bob, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(200))
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    let hops = lab.network.trace.events(named: "fail-over").map {
      "\($0.field("to")?.description ?? "") \($0.field("proxy")?.description ?? "-")"
    }
    #expect(
      hops == [
        "10.0.0.1:5070/UDP -", "10.0.0.1:5060/UDP sip:biloxi.example.com;lr",
        "10.0.0.2:5060/UDP -",
      ])
    let cseqs = invites(lab).map(\.cseq)
    #expect(Set(cseqs) == ["1 INVITE", "2 INVITE"], "\(cseqs)")
    lab.expectNothingLeftOver()
  }
}
