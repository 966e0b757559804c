import SIPCore
import SIPDialog
import SIPElements
import SIPServers
import Simulation
import Testing

/// Alice calls bob@example.com through one proxy that forks to bob1, bob2, … (static
/// bindings with the given q values).
func forkLab(
  _ behaviours: [UABehaviour], qs: [Double]? = nil, mode: ForkingMode = .parallel,
  branchTimeout: Duration? = nil, unreachableQ: Double? = nil
) throws -> Lab {
  let lab = Lab()
  let location = lab.location()
  try lab.proxy(
    "proxy", domains: ["example.com"], location: location,
    configuration: ProxyConfiguration(
      domains: ["example.com"], forking: mode, branchTimeout: branchTimeout))
  try lab.agent(
    "alice", aor: "sip:alice@example.com",
    configuration: UAConfiguration(outboundProxy: SIPURI(host: "example.com")))
  for (index, behaviour) in behaviours.enumerated() {
    let name = "bob\(index + 1)"
    try lab.agent(name, aor: "sip:bob@example.com", behaviour: behaviour)
    let address = try lab.network.host(named: name).addresses[0].description
    let q = qs?[index] ?? 1
    lab.simulation.inspect {
      location.assumeIsolated {
        $0.add(
          aor: SIPURI(user: "bob", host: "example.com"),
          contact: SIPURI(user: "bob", host: address), q: q)
      }
    }
  }
  if let unreachableQ {
    // A contact whose host has no address: the proxy cannot send to it.
    lab.simulation.inspect {
      location.assumeIsolated {
        $0.add(
          aor: SIPURI(user: "bob", host: "example.com"),
          contact: SIPURI(user: "bob", host: "nowhere.invalid"), q: unreachableQ)
      }
    }
  }
  return lab
}

func challenging(_ header: String, status: Int) -> UABehaviour {
  .custom { agent, call in
    agent.reject(
      call.callID, status: status,
      headers: [SIPParameter(header, "Digest realm=\"\(header)\", nonce=\"n\", qop=\"auth\"")])
  }
}

/// §16.7 best-response rules with 2 and 3 contacts: what the caller gets.
@Suite struct ForkingTests {
  static let rows: [(String, [UABehaviour], Int)] = [
    ("a 2xx beats a 486", [.busy, .answer(after: .milliseconds(300))], 200),
    ("a 2xx cancels the ringing", [.noAnswer, .ring(for: .seconds(1)), .noAnswer], 200),
    ("4xx beats 5xx", [.reject(status: 503), .busy], 486),
    ("503 becomes 500", [.reject(status: 503), .reject(status: 503)], 500),
    ("a 6xx cancels the others and wins", [.noAnswer, .reject(status: 603), .noAnswer], 603),
    (
      "401 and 407 are preferred and merged",
      [
        .reject(status: 404), challenging("WWW-Authenticate", status: 401),
        challenging("Proxy-Authenticate", status: 407),
      ], 401
    ),
    ("lowest class: 3xx over 4xx", [.reject(status: 480), .reject(status: 302)], 302),
  ]

  @Test(arguments: rows.indices)
  func bestResponse(row: Int) throws {
    let (name, behaviours, expected) = Self.rows[row]
    let lab = try forkLab(behaviours)
    let callID = try lab.on("alice") {
      $0.call(SIPURI(user: "bob", host: "example.com"), hangUpAfter: .seconds(5))
    }
    lab.run(for: .seconds(120))
    let record = try lab.on("alice") { $0.record(of: callID) }
    #expect(record?.status == expected, "\(name): \(lab.ladder(callID: callID))")
    let callees = behaviours.indices.map { "bob\($0 + 1)" }
    if expected == 200 || expected == 603 {
      // The branches still ringing were cancelled.
      for (index, behaviour) in behaviours.enumerated() {
        if case .noAnswer = behaviour {
          let history = try lab.on(callees[index]) { $0.history.map(\.ending) }
          #expect(history == ["CANCEL"], "\(name): \(callees[index])")
        }
      }
    }
    if expected == 401 {
      let challenge = lab.network.trace.events(named: "deliver").first { event in
        event.field("summary")?.description.hasPrefix("SIP/2.0 401") == true
          && event.to?.address == (try? lab.network.host(named: "alice").addresses[0])
      }
      let text = String(decoding: challenge?.payload ?? [], as: UTF8.self)
      #expect(text.contains("WWW-Authenticate:") && text.contains("Proxy-Authenticate:"))
    }
    lab.expectNothingLeftOver()
  }

  /// Every 2xx goes up (§16.7 step 5): the caller ACKs both and ends the extra dialog.
  @Test func everySuccessIsForwarded() throws {
    let lab = try forkLab([.answer(), .answer()])
    let callID = try lab.on("alice") {
      $0.call(SIPURI(user: "bob", host: "example.com"), hangUpAfter: .seconds(5))
    }
    lab.run(for: .seconds(120))
    let ladder = lab.ladder(callID: callID)
    #expect(ladder.filter { $0 == "proxy>alice 200" }.count >= 3, "\(ladder)")  // 2 INVITE + BYE
    #expect(ladder.filter { $0.hasPrefix("alice>proxy BYE") }.count == 2)
    for callee in ["bob1", "bob2"] {
      #expect(try lab.on(callee) { $0.history.first?.wasAnswered } == true)
    }
    lab.expectNothingLeftOver()
  }

  /// Sequential forking: the q = 1 group first, the next group only after it failed; a
  /// target that rings too long is cancelled for the next.
  @Test func sequentialForkingFollowsQ() throws {
    let lab = try forkLab(
      [.noAnswer, .busy, .answer()], qs: [1.0, 0.7, 0.4], mode: .sequential,
      branchTimeout: .seconds(4))
    let callID = try lab.on("alice") {
      $0.call(SIPURI(user: "bob", host: "example.com"), hangUpAfter: .seconds(5))
    }
    lab.run(for: .seconds(120))
    let invites = lab.ladder(callID: callID).filter {
      $0.hasPrefix("proxy>bob") && $0.hasSuffix("INVITE")
    }
    #expect(invites == ["proxy>bob1 INVITE", "proxy>bob2 INVITE", "proxy>bob3 INVITE"])
    #expect(try lab.on("bob1") { $0.history.map(\.ending) } == ["CANCEL"])
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    lab.expectNothingLeftOver()
  }

  /// A target the proxy cannot send to (no address for its host) fails its branch with a 503
  /// at the same instant (§16.7 step 3 after §17.1.1.2's transport error), after the branch's
  /// client transaction is known to the proxy, and sequential forking goes on to the next
  /// target at once: no Timer B or C waited out for it.
  @Test func aTargetThatCannotBeReachedFailsItsBranchAtOnce() throws {
    let lab = try forkLab([.answer()], qs: [0.5], mode: .sequential, unreachableQ: 1)
    let callID = try lab.on("alice") {
      $0.call(SIPURI(user: "bob", host: "example.com"), hangUpAfter: .seconds(5))
    }
    lab.run(for: .seconds(60))
    // Alice's INVITE at 0, then the proxy's to bob1 as it arrives 10 ms later (the first
    // branch never left the proxy).
    let invites = lab.sent(callID: callID).filter { $0.token == "INVITE" }
    #expect(invites.map(\.time) == [0, 10_000])
    #expect(
      lab.ladder(callID: callID).filter { $0.hasSuffix("INVITE") } == [
        "alice>proxy INVITE", "proxy>bob1 INVITE",
      ])
    #expect(try lab.on("alice") { $0.record(of: callID)?.status } == 200)
    lab.expectNothingLeftOver()
  }

  /// §16.8: a branch ended before any response (here by the sequential ring timer; Timer C
  /// does the same) behaves as if its transaction got a 408, so its client transaction ends
  /// with it. Bob1 is cut off until 5 s: kept, the transaction went on retransmitting the INVITE
  /// (7.5 s) after bob2 answered, bob1 rang for ever, and no CANCEL could reach a branch the
  /// response context had already counted as ended.
  @Test func aBranchEndedBeforeAnyResponseEndsItsClientTransaction() throws {
    let lab = try forkLab(
      [.noAnswer, .answer()], qs: [1.0, 0.5], mode: .sequential, branchTimeout: .seconds(4))
    try lab.simulation.inspect { try lab.network.apply(.partition("proxy", "bob1")) }
    let callID = try lab.on("alice") {
      $0.call(SIPURI(user: "bob", host: "example.com"), hangUpAfter: .seconds(5))
    }
    lab.run(for: .seconds(5))
    try lab.simulation.inspect { try lab.network.apply(.repair("proxy", "bob1")) }
    lab.run(for: .seconds(120))
    let toBob1 = lab.ladder(callID: callID).filter { $0 == "proxy>bob1 INVITE" }
    // Sent at 10 ms, 0.51, 1.51 and 3.51 s, all lost; none after the ring timer at 4.01 s.
    #expect(toBob1.count == 4, "\(lab.ladder(callID: callID))")
    #expect(try lab.on("bob1") { $0.history.isEmpty })
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    lab.expectNothingLeftOver()
  }

  /// RFC 3261 §16.7: a response that matches a client transaction is handed to it, and only
  /// one that matches none is processed as a stateless proxy would. The 200 that answers the
  /// proxy's own CANCEL (§16.10, §16.7 step 10) matches its CANCEL client transaction and ends
  /// there; the proxy took it for a late 2xx and tried to forward it statelessly (it failed
  /// only because the CANCEL's one Via, §9.1, is the proxy's own: "no destination").
  @Test func theAnswerToTheProxysOwnCancelIsNotForwarded() throws {
    let lab = try forkLab([.ring(for: .seconds(1)), .noAnswer])
    let callID = try lab.on("alice") {
      $0.call(SIPURI(user: "bob", host: "example.com"), hangUpAfter: .seconds(2))
    }
    lab.run(for: .seconds(60))
    let ladder = lab.ladder(callID: callID)
    #expect(ladder.contains("proxy>bob2 CANCEL") && ladder.contains("bob2>proxy 200"), "\(ladder)")
    let proxyLog = lab.network.trace.events(named: "log").filter {
      $0.field("element") == .string("proxy")
    }.map { $0.field("text")?.description ?? "" }
    #expect(
      !proxyLog.contains { $0.contains("stray") || $0.hasPrefix("no destination") }, "\(proxyLog)")
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    lab.expectNothingLeftOver()
  }

  /// RFC 3261 §9.1 at a proxy: its CANCEL to a callee that answers the CANCEL but never sends
  /// the 487 leaves the branch pending; 64·T1 after that CANCEL the proxy gives the branch up
  /// (its client transaction destroyed, the branch ended as by a 487), and the response
  /// context ends. The callee's 200 long after is forwarded statelessly, and the caller ACKs
  /// and BYEs it. (Timer C does nothing for a branch already cancelled: the context, the
  /// branch's INVITE transaction and the caller's INVITE server transaction lived until the
  /// callee answered, or for ever.)
  @Test func aProxyGivesUpACancelledBranchAfter64T1() throws {
    let lab = try forkLab([.ignoreCancel(ringing: .seconds(300))])
    let proxy = try #require(lab.proxies["proxy"])
    let callID = try lab.on("alice") { $0.call(SIPURI(user: "bob", host: "example.com")) }
    lab.run(for: .seconds(2))
    try lab.on("alice") { $0.cancel(callID) }
    lab.run(for: .seconds(60))
    let cancels = lab.sent(callID: callID).filter { $0.token == "CANCEL" }.map(\.time)
    #expect(cancels.count == 2)
    let fired = lab.network.trace.events(named: "timer-fired").filter {
      $0.field("timer")?.description == "cancel-wait" && $0.field("element") == .string("proxy")
    }
    // The proxy's own CANCEL (the second) plus 64·T1.
    #expect(fired.map(\.time) == cancels.dropFirst().map { $0 + 32_000_000 })
    #expect(lab.simulation.inspect { proxy.assumeIsolated { $0.liveContexts } } == 0)
    #expect(try lab.on("alice") { $0.record(of: callID)?.status } == 487)
    lab.run(for: .seconds(300))
    let late = lab.sent(callID: callID, since: 290_000_000).map(\.token)
    #expect(late.contains("ACK") && late.contains("BYE"), "\(late)")
    lab.expectNothingLeftOver()
  }

  /// RFC 3261 §16.5: a proxy that is not responsible for the Request-URI (here an address,
  /// not its domain) must not add targets, so it does not recurse on a 3xx even when asked to
  /// recurse: the caller gets the 302 and carol no INVITE from the proxy. For its own domain it
  /// does recurse (the control row).
  @Test(arguments: [false, true])
  func aProxyRecursesOnlyForItsOwnRequestURIs(ownDomain: Bool) throws {
    let lab = Lab()
    let location = lab.location()
    try lab.proxy(
      "proxy", domains: ["example.com"], location: location,
      configuration: ProxyConfiguration(domains: ["example.com"], recursesOnRedirect: true))
    // Alice follows no redirect herself: what she gets is what the proxy did with the 302.
    var aliceConfiguration = UAConfiguration(outboundProxy: SIPURI(host: "example.com"))
    aliceConfiguration.maxRedirects = 0
    try lab.agent("alice", aor: "sip:alice@example.com", configuration: aliceConfiguration)
    try lab.agent("carol", aor: "sip:carol@example.com")
    let carol = try lab.network.host(named: "carol").addresses[0].description
    try lab.agent(
      "bob", aor: "sip:bob@example.com",
      behaviour: .custom { agent, call in
        agent.reject(
          call.callID, status: 302, headers: [SIPParameter("Contact", "<sip:carol@\(carol)>")])
      })
    let bob = try lab.network.host(named: "bob").addresses[0].description
    lab.simulation.inspect {
      location.assumeIsolated {
        $0.add(
          aor: SIPURI(user: "bob", host: "example.com"), contact: SIPURI(user: "bob", host: bob))
      }
    }
    let target =
      ownDomain ? SIPURI(user: "bob", host: "example.com") : SIPURI(user: "bob", host: bob)
    let callID = try lab.on("alice") { $0.call(target, hangUpAfter: .seconds(1)) }
    lab.run(for: .seconds(60))
    let toCarol = lab.ladder(callID: callID).filter { $0 == "proxy>carol INVITE" }
    #expect(toCarol.count == (ownDomain ? 1 : 0))
    #expect(try lab.on("alice") { $0.record(of: callID)?.status } == (ownDomain ? 200 : 302))
    lab.expectNothingLeftOver()
  }

  /// The proxy's own timers are traced as a transaction's are, naming the branch: Timer C
  /// armed with the INVITE it forwards (§16.6 step 11), armed again by the 180 (§16.8: a
  /// provisional restarts it), cancelled by the final response.
  @Test func theProxysTimerCIsTracedArmedRestartedAndCancelled() throws {
    let lab = try forkLab([.ring(for: .seconds(1))])
    let callID = try lab.on("alice") {
      $0.call(SIPURI(user: "bob", host: "example.com"), hangUpAfter: .seconds(1))
    }
    lab.run(for: .seconds(60))
    let forwarded = lab.sent(callID: callID).filter { $0.token == "INVITE" }.map(\.time)
    let allTimerC = lab.network.trace.events.filter {
      $0.event.hasPrefix("timer-") && $0.field("timer")?.description == "C"
    }
    let timerC = allTimerC.filter { $0.field("element") == .string("proxy") }
    #expect(
      timerC.map { "\($0.event) \($0.field("branch")?.description ?? "")" } == [
        "timer-armed 0", "timer-armed 0", "timer-cancelled 0",
      ])
    // Alice's own Timer C (the UAC's last resort) goes the same way: armed by the 100 Trying,
    // again by the 180, cancelled by the 200; it names her INVITE client transaction.
    let alices = allTimerC.filter { $0.field("element") == .string("alice") }
    #expect(alices.map(\.event) == ["timer-armed", "timer-armed", "timer-cancelled"])
    #expect(alices.first?.field("duration") == .integer(240_000_000))
    #expect(
      alices.allSatisfy { $0.field("transaction")?.description.hasSuffix("/INVITE/c") == true })
    // Armed as the proxy's INVITE leaves (the second INVITE sent), for the configured 181 s.
    #expect(timerC.first?.time == forwarded.dropFirst().first)
    #expect(timerC.first?.field("duration") == .integer(181_000_000))
    #expect(timerC.allSatisfy { $0.field("element") == .string("proxy") })
    // Each names the response context too: the proxy's INVITE server transaction.
    let contexts = Set(timerC.compactMap { $0.field("context")?.description })
    #expect(contexts.count == 1 && contexts.first?.hasSuffix("/INVITE/s") == true, "\(contexts)")
    lab.expectNothingLeftOver()
  }

  /// A caller's call that ends with early dialogs still open (here: bob1's 2xx never reaches
  /// alice, and bob1's BYE after §13.3.1.4's give-up ends her call on his early dialog) must not
  /// remember the *other* forks' early dialogs as ended: bob2, who ignores the proxy's CANCEL,
  /// answers at 40 s, the proxy forwards his 2xx (§16.7 step 10), and alice, whose call is gone,
  /// ACKs it and ends it with BYE (§13.2.2.4). Remembered as ended, it was ACKed only, and bob2's
  /// call stayed up for good.
  @Test func aLate2xxOnAnotherForksEarlyDialogIsByedAfterTheCallEnded() throws {
    let lab = try forkLab([.ring(for: .seconds(1)), .ignoreCancel(ringing: .seconds(40))])
    let alice = try lab.network.host(named: "alice").addresses[0]
    let bob1 = try lab.network.host(named: "bob1").addresses[0].description
    lab.network.datagramFault = { datagram in
      let text = String(decoding: datagram.payload, as: UTF8.self)
      let isBob1s2xx =
        text.hasPrefix("SIP/2.0 200") && text.contains(" INVITE\r\n")
        && text.contains("@\(bob1)")
      return datagram.to.address == alice && isBob1s2xx ? .drop : .pass
    }
    let callID = try lab.on("alice") { $0.call(SIPURI(user: "bob", host: "example.com")) }
    lab.run(for: .seconds(200))
    let byes = lab.sent(callID: callID).filter { $0.token == "BYE" }
    // Bob1's BYE at his give-up, and alice's to bob2 after his late 2xx.
    #expect(byes.count >= 2, "\(lab.ladder(callID: callID))")
    #expect(lab.ladder(callID: callID).contains("alice>proxy BYE"), "\(lab.ladder(callID: callID))")
    lab.expectNothingLeftOver()
  }

  /// A dialog the callee ended with BYE is one it knows ended: a late copy of its 2xx (here
  /// bob1's first, delayed until after his BYE; the rest lost) is ACKed only (§13.2.2.4), not
  /// answered with a BYE that bob1, whose call is gone, can only answer 481. With his 180s lost
  /// too, alice has no early dialog with him and his BYE matches none (§15.1.2, 481): the same.
  @Test(arguments: [false, true])
  func aLate2xxOnTheDialogTheCalleeByedIsOnlyAcked(ringingLost: Bool) throws {
    let lab = try forkLab([.ring(for: .seconds(1)), .noAnswer])
    let alice = try lab.network.host(named: "alice").addresses[0]
    let bob1 = try lab.network.host(named: "bob1").addresses[0].description
    let first = DropCounter()
    lab.network.datagramFault = { datagram in
      let text = String(decoding: datagram.payload, as: UTF8.self)
      let isBob1s2xx =
        text.hasPrefix("SIP/2.0 200") && text.contains(" INVITE\r\n")
        && text.contains("@\(bob1)")
      let isBob1s180 = text.hasPrefix("SIP/2.0 180") && text.contains("@\(bob1)")
      if ringingLost, datagram.to.address == alice, isBob1s180 { return .drop }
      guard datagram.to.address == alice, isBob1s2xx else { return .pass }
      return first.take() ? .delay(.seconds(60)) : .drop
    }
    let callID = try lab.on("alice") { $0.call(SIPURI(user: "bob", host: "example.com")) }
    lab.run(for: .seconds(200))
    let ladder = lab.ladder(callID: callID)
    #expect(ladder.contains("alice>proxy ACK"), "\(ladder)")
    #expect(!ladder.contains("alice>proxy BYE"), "\(ladder)")
    lab.expectNothingLeftOver()
  }

  /// Timer C (§16.8): a target that rings past it is cancelled; the caller gets 487.
  @Test func timerCCancelsABranchThatRingsTooLong() throws {
    let lab = try forkLab([.noAnswer])
    let callID = try lab.on("alice") { $0.call(SIPURI(user: "bob", host: "example.com")) }
    lab.run(for: .seconds(400))
    #expect(try lab.on("alice") { $0.record(of: callID)?.status } == 487)
    let fired = lab.network.trace.events(named: "timer-fired").filter {
      $0.field("timer")?.description == "C"
    }
    // The proxy's; alice's own (4 minutes) is cancelled by the 487 it brings.
    #expect(fired.count == 1 && fired.first?.field("element") == .string("proxy"))
    #expect(fired.first.map { $0.time - 1_000_000 } ?? 0 >= 180_000_000)
    lab.expectNothingLeftOver()
  }
}

@Suite struct OtherServerTests {
  /// §16.11: a stateless proxy relays a call; when its forwarded INVITE is lost, the caller's
  /// retransmission goes out on the same branch.
  @Test func statelessProxyRelaysACallWithStableBranches() throws {
    let lab = Lab()
    let location = lab.location()
    try lab.host("relay", domains: ["example.com"])
    let relay = try StatelessProxy(
      network: lab.network, host: "relay", location: location, domains: ["example.com"])
    lab.endpoints["relay"] = relay.endpoint
    try lab.agent(
      "alice", aor: "sip:alice@example.com",
      configuration: UAConfiguration(outboundProxy: SIPURI(host: "example.com")))
    try lab.agent("bob", aor: "sip:bob@example.com", behaviour: .ring(for: .seconds(1)))
    let bob = try lab.network.host(named: "bob").addresses[0]
    let relayAddress = try lab.network.host(named: "relay").addresses[0]
    lab.simulation.inspect {
      location.assumeIsolated {
        $0.add(
          aor: SIPURI(user: "bob", host: "example.com"),
          contact: SIPURI(user: "bob", host: bob.description))
      }
    }
    let dropped = CoreLog()
    lab.network.datagramFault = { datagram in
      let text = String(decoding: datagram.payload.prefix(6), as: UTF8.self)
      guard datagram.from.address == relayAddress, datagram.to.address == bob, text == "INVITE",
        dropped.all.isEmpty
      else { return .pass }
      dropped.append("INVITE")
      return .drop
    }
    let callID = try lab.on("alice") {
      $0.call(SIPURI(user: "bob", host: "example.com"), hangUpAfter: .seconds(2))
    }
    lab.run(for: .seconds(120))
    #expect(try lab.on("alice") { $0.record(of: callID)?.wasAnswered } == true)
    let branches = lab.network.trace.events(named: "send").filter {
      $0.from?.address == relayAddress
        && $0.field("summary")?.description.hasPrefix("INVITE") == true
    }.compactMap { $0.field("branch")?.description }
    #expect(
      branches.count == 2 && Set(branches).count == 1,
      "\(branches) \(lab.ladder(callID: callID)) \(lab.network.trace.events(named: "log").map { $0.field("text")?.description ?? "" })"
    )
    lab.expectNothingLeftOver()
  }

  /// A call through a B2BUA: two dialogs with their own Call-IDs; ringing, answer and hang-up
  /// cross from one leg to the other; a failure on the far leg is the caller's.
  @Test func callThroughB2BUA() throws {
    let lab = Lab()
    let bob = try lab.host("bob-host")
    try lab.host("pbx")
    let callee = try UserAgent(
      network: lab.network, host: "bob-host", aor: SIPURI(user: "bob", host: "example.com"),
      behaviour: .ring(for: .seconds(2)))
    lab.agents["bob"] = callee
    lab.endpoints["bob"] = callee.endpoint
    let target = SIPURI(user: "bob", host: bob.description)
    let pbx = try B2BUA(
      network: lab.network, host: "pbx", aor: SIPURI(user: "pbx", host: "example.com")
    ) { _ in target }
    lab.watch(pbx)
    try lab.agent("alice", aor: "sip:alice@example.com")
    let pbxAddress = try lab.network.host(named: "pbx").addresses[0].description
    let callID = try lab.on("alice") {
      $0.call(SIPURI(user: "bob", host: pbxAddress), hangUpAfter: .seconds(5))
    }
    lab.run(for: .seconds(1))
    let legs = lab.simulation.inspect {
      pbx.assumeIsolated { $0.bridges.map { [$0.inbound, $0.outbound] } }
    }
    #expect(legs.count == 1 && legs.first?[0] == callID && legs.first?[1] != callID)
    lab.run(for: .seconds(120))
    let alice = try lab.on("alice") { $0.record(of: callID) }
    let far = try lab.on("bob") { $0.history.first }
    #expect(alice?.wasAnswered == true && alice?.ending == "BYE sent")
    #expect(far?.wasAnswered == true && far?.ending == "BYE received" && far?.callID != callID)
    #expect(lab.sent(callID: callID).map(\.token).contains("180"))
    #expect(lab.simulation.inspect { pbx.assumeIsolated { $0.bridges.count } } == 0)

    // The far end is busy: the caller hears 486.
    try lab.on("bob") { $0.setBehaviour(.busy) }
    let second = try lab.on("alice") { $0.call(SIPURI(user: "bob", host: pbxAddress)) }
    lab.run(for: .seconds(60))
    #expect(try lab.on("alice") { $0.record(of: second)?.status } == 486)
    lab.expectNothingLeftOver()
  }

  /// The far leg's INVITE cannot be sent (no address for the target): the outbound agent ends
  /// that call with a 503 (§8.1.3.1), and the caller hears it and no bridge is left. (When the
  /// 503 came inside `call`, before the B2BUA knew the leg, its end went unheard: the bridge
  /// stayed, and the caller's INVITE waited in Proceeding for ever.) Also with an outbound
  /// agent that keeps no history (`historyLimit: 0`): the leg's status comes as its event.
  @Test(arguments: [nil, 0] as [Int?])
  func aFarLegThatFailsAtOnceFailsTheCaller(historyLimit: Int?) throws {
    let lab = Lab()
    try lab.host("pbx")
    var configuration = UAConfiguration()
    if let historyLimit { configuration.historyLimit = historyLimit }
    let pbx = try B2BUA(
      network: lab.network, host: "pbx", aor: SIPURI(user: "pbx", host: "example.com"),
      configuration: configuration
    ) { _ in SIPURI(user: "bob", host: "nowhere.invalid") }
    lab.watch(pbx)
    try lab.agent("alice", aor: "sip:alice@example.com")
    let pbxAddress = try lab.network.host(named: "pbx").addresses[0].description
    let callID = try lab.on("alice") { $0.call(SIPURI(user: "bob", host: pbxAddress)) }
    lab.run(for: .seconds(60))
    #expect(try lab.on("alice") { $0.record(of: callID)?.status } == 503)
    #expect(lab.simulation.inspect { pbx.assumeIsolated { $0.bridges.count } } == 0)
    lab.expectNothingLeftOver()
  }
}

@Suite struct ServerRobustnessTests {
  /// The RFC 3665 §3.2 trapezoid (407 at proxy1, registration at proxy2) under 10% loss and
  /// 5 ms jitter in each of 60 seeds: the call is answered and ends with BYE, and nothing is
  /// left over anywhere.
  @Test func callsThroughTwoProxiesSurviveLoss() throws {
    var unanswered: [UInt64] = []
    var drops = 0
    for seed in UInt64(1)...60 {
      let lab = try trapezoid(
        seed: seed, proxy1Auth: true,
        bob: .answerThenHangUp(ringing: .seconds(1), talk: .seconds(5)))
      try lab.network.apply(
        .defaultLink(
          LinkConditions(
            latency: .milliseconds(10), jitter: .uniform(max: .milliseconds(5)),
            lossProbability: 0.1)))
      // Bob registered over the lossless network first; now the call.
      let callID = try lab.on("alice") { $0.call(bobAOR) }
      lab.run(for: .seconds(200))
      let record = try lab.on("alice") { $0.record(of: callID) }
      if record?.wasAnswered != true || record?.ending != "BYE received" {
        unanswered.append(seed)
      }
      drops += lab.network.trace.events(named: "drop").count
      lab.expectNothingLeftOver()
    }
    #expect(unanswered.isEmpty, "seeds without an answered call: \(unanswered)")
    #expect(drops > 60 * 2, "the loss must really bite: \(drops) drops")
  }

  /// Same seed, same trace: the whole §3.2 run twice gives byte-identical JSON Lines.
  @Test func theSameSeedGivesTheSameTrace() throws {
    func run(_ seed: UInt64) throws -> String {
      let lab = try trapezoid(
        seed: seed, proxy1Auth: true,
        bob: .answerThenHangUp(ringing: .seconds(1), talk: .seconds(5)))
      _ = try lab.on("alice") { $0.call(bobAOR) }
      lab.run(for: .seconds(100))
      return lab.network.trace.jsonLines()
    }
    #expect(try run(7) == run(7))
    #expect(try run(7) != run(8))
  }
}
