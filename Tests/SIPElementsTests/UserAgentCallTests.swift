import SIPCore
import SIPDialog
import SIPElements
import SIPTransaction
import Simulation
import Testing

@Suite struct UserAgentCallTests {
  /// RFC 3665 §3.1 without proxies: INVITE, 180, 200, ACK, talk, BYE, 200.
  @Test func basicCall() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .ring(for: .seconds(1)))])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(5)) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 180", "bob>alice 200", "alice>bob ACK", "alice>bob BYE",
        "bob>alice 200",
      ])
    let alice = try #require(try phones.history("alice").first)
    #expect(alice.callID == callID)
    #expect(alice.isCaller && alice.wasAnswered && alice.status == 200)
    #expect(alice.ending == "BYE sent")
    let callee = try #require(try phones.history("bob").first)
    #expect(!callee.isCaller && callee.wasAnswered && callee.ending == "BYE received")
    // RFC 3264: bob answered alice's PCMU/PCMA offer with both, in the offer's order.
    #expect(callee.remoteSDP == alice.localSDP)
    #expect(alice.remoteSDP?.media.first?.formats == ["0", "8"])
    phones.expectNothingLeftOver()
  }

  /// The history keeps the last `historyLimit` calls; the trace keeps every call's end.
  @Test func historyIsBounded() throws {
    let phones = try Phones(
      [("alice", .answer()), ("bob", .answer())],
      configuration: UAConfiguration(historyLimit: 2))
    let bob = try phones.uri("bob")
    var callIDs: [String] = []
    for _ in 0..<3 {
      callIDs.append(try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(1)) })
      phones.simulation.runUntilIdle()
    }
    #expect(try phones.history("alice").map(\.callID) == Array(callIDs.suffix(2)))
    let first = callIDs[0]
    #expect(try phones.on("alice") { $0.record(of: first) } == nil)
    let ends = phones.network.trace.events(named: "call-ended").filter {
      $0.fields.contains { $0.0 == "element" && $0.1 == .string("alice") }
    }
    #expect(ends.count == 3)
    phones.expectNothingLeftOver()
  }
}

@Suite struct UserAgentBehaviourTests {
  /// One call from alice to a bob with `behaviour`; returns the ladder and both records.
  func call(
    _ behaviour: UABehaviour, offer: Bool = true, hangUpAfter: Duration? = .seconds(2),
    cancelAfter: Duration? = nil
  ) throws -> (ladder: [String], alice: CallRecord, bob: CallRecord, phones: Phones) {
    let phones = try Phones([("alice", .answer()), ("bob", behaviour)])
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") {
      $0.call(bob, offer: offer, hangUpAfter: hangUpAfter, cancelAfter: cancelAfter)
    }
    phones.simulation.runUntilIdle()
    let alice = try #require(try phones.history("alice").first)
    let callee = try #require(try phones.history("bob").first)
    phones.expectNothingLeftOver()
    return (phones.ladder(), alice, callee, phones)
  }

  @Test func busy() throws {
    let result = try call(.busy)
    #expect(result.ladder == ["alice>bob INVITE", "bob>alice 486", "alice>bob ACK"])
    #expect(result.alice.status == 486 && !result.alice.wasAnswered)
    #expect(result.bob.status == 486 && result.bob.ending == "486 sent")
  }

  @Test func unavailable() throws {
    let result = try call(.unavailable)
    #expect(result.ladder == ["alice>bob INVITE", "bob>alice 480", "alice>bob ACK"])
    #expect(result.alice.status == 480)
  }

  @Test func rejectWithACode() throws {
    let result = try call(.reject(status: 603))
    #expect(result.alice.status == 603 && result.alice.ending == "603 received")
  }

  /// The callee answers after 2 s without ringing: the INVITE server transaction sends 100
  /// Trying at 200 ms on its own (§17.2.1), the 200 goes at 2 s.
  @Test func answerAfterADelay() throws {
    let result = try call(.answer(after: .seconds(2)))
    #expect(
      result.ladder == [
        "alice>bob INVITE", "bob>alice 100", "bob>alice 200", "alice>bob ACK", "alice>bob BYE",
        "bob>alice 200",
      ])
    let okTimes = result.phones.network.trace.events(named: "send").filter {
      "\($0.field("summary") ?? .string(""))" == "SIP/2.0 200 OK"
        && $0.field("cseq").map { "\($0)" } == "1 INVITE"
    }.map { $0.time / 1000 }
    #expect(okTimes == [2010])
  }

  /// No answer: the caller gives up after 3 s with CANCEL (§9.1): 200 to the CANCEL, 487 to
  /// the INVITE, ACK for the 487.
  @Test func noAnswerThenCancel() throws {
    let result = try call(.noAnswer, cancelAfter: .seconds(3))
    #expect(
      result.ladder == [
        "alice>bob INVITE", "bob>alice 180", "alice>bob CANCEL", "bob>alice 200", "bob>alice 487",
        "alice>bob ACK",
      ])
    #expect(result.alice.status == 487 && result.alice.ending == "CANCEL")
    #expect(result.bob.status == 487 && result.bob.ending == "CANCEL")
  }

  /// `.ignoreCancel`, the broken callee of RFC 3261 §9.1: bob answers alice's CANCEL with 200
  /// but sends no 487, so alice's INVITE waits in Proceeding; exactly 64·T1 (32 s) after her
  /// CANCEL her cancel-wait timer fires and she considers the INVITE cancelled (the call ends
  /// with 487). Bob's 200 at 40 s finds no call at alice: she ACKs it and ends the dialog with
  /// BYE, and bob's side ends as a call hung up by the other end. Nothing is left over.
  @Test func ignoreCancelIsGivenUpAfter64T1AndItsLate2xxIsAckedAndByed() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .ignoreCancel(ringing: .seconds(40)))])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    phones.simulation.run(for: .seconds(1))
    try phones.on("alice") { $0.cancel(callID) }
    let cancelledAt = phones.simulation.now.microseconds
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 180", "alice>bob CANCEL", "bob>alice 200",
        "bob>alice 200", "alice>bob ACK", "alice>bob BYE", "bob>alice 200",
      ])
    let trace = phones.network.trace
    let fired = trace.events(named: "timer-fired").filter {
      $0.field("timer")?.description == "cancel-wait"
    }
    #expect(fired.map(\.time) == [cancelledAt + 32_000_000])
    #expect(fired.first?.field("element")?.description == "alice")
    // Armed with the CANCEL, for 64·T1, on the INVITE's client transaction; never cancelled.
    let armed = trace.events(named: "timer-armed").filter {
      $0.field("timer")?.description == "cancel-wait"
    }
    #expect(armed.map(\.time) == [cancelledAt])
    #expect(armed.first?.field("duration") == .integer(32_000_000))
    #expect(armed.first?.field("transaction")?.description.hasSuffix("/INVITE/c") == true)
    #expect(
      trace.events(named: "timer-cancelled").allSatisfy {
        $0.field("timer")?.description != "cancel-wait"
      })
    let inviteEnded = trace.events(named: "transaction-state").filter {
      $0.field("element")?.description == "alice"
        && $0.field("transaction")?.description.hasSuffix("/INVITE/c") == true
        && $0.field("toState")?.description == "Terminated"
    }
    #expect(inviteEnded.map(\.time) == [cancelledAt + 32_000_000])
    let alice = try #require(try phones.history("alice").first)
    #expect(alice.callID == callID && alice.status == 487 && !alice.wasAnswered)
    #expect(alice.ending == "CANCEL (no final response)")
    let callee = try #require(try phones.history("bob").first)
    #expect(callee.status == 200 && callee.wasAnswered && callee.ending == "BYE received")
    // The late 200 left bob after the give-up, and alice's ACK and BYE answered it.
    let late = trace.events(named: "send").filter {
      $0.field("summary")?.description == "SIP/2.0 200 OK"
        && $0.field("cseq")?.description == "1 INVITE"
    }
    #expect(late.map(\.time) == [40_010_000])
    #expect(
      phones.events.all.contains("40030 bob \(callID) got ACK")
        && phones.events.all.contains("40030 bob \(callID) got BYE"), "\(phones.events.all)")
    phones.expectNothingLeftOver()
  }

  /// The agent's own RFC timers are traced as its transactions' are: a CANCEL answered with
  /// 487 arms the §9.1 cancel-wait and the call's end cancels it, on alice's INVITE client
  /// transaction; the callee's §13.3.1.4 2xx timer is armed with the 200, fires when the first
  /// ACK is lost (the 200 goes again, the timer is armed for 2·T1), and the next ACK cancels
  /// it. Behaviour delays (ringing, hang-up) are the script's and are not traced.
  @Test func anAgentsOwnTimersAreTracedArmedFiredAndCancelled() throws {
    // A CANCEL answered as the RFC says.
    let cancelled = try call(.noAnswer, hangUpAfter: nil, cancelAfter: .seconds(1))
    let trace = cancelled.phones.network.trace
    // `ms element event duration method/role`.
    func timerEvents(_ trace: Trace, _ name: String) -> [String] {
      trace.events.filter {
        $0.event.hasPrefix("timer-") && $0.field("timer")?.description == name
      }.map { event in
        let key = event.field("transaction")?.description ?? ""
        let owner = key.split(separator: "/").suffix(2).joined(separator: "/")
        return "\(event.time / 1000) \(event.field("element")?.description ?? "") \(event.event)"
          + " \(event.field("duration")?.description ?? "") \(owner)"
      }
    }
    #expect(
      timerEvents(trace, "cancel-wait") == [
        "1000 alice timer-armed 32000000 INVITE/c", "1020 alice timer-cancelled  INVITE/c",
      ])
    #expect(timerEvents(trace, "answer").isEmpty && timerEvents(trace, "hang-up").isEmpty)

    // The 2xx retransmitted once: the first ACK is lost.
    let phones = try Phones([("alice", .answer()), ("bob", .ring(for: .seconds(1)))])
    let simulation = phones.simulation
    phones.network.datagramFault = { datagram in
      datagram.payload.starts(with: Array("ACK ".utf8)) && simulation.now.microseconds < 1_500_000
        ? .drop : .pass
    }
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(5)) }
    phones.simulation.runUntilIdle()
    #expect(
      timerEvents(phones.network.trace, "2xx") == [
        "1010 bob timer-armed 500000 INVITE/s", "1510 bob timer-fired  INVITE/s",
        "1510 bob timer-armed 1000000 INVITE/s", "1530 bob timer-cancelled  INVITE/s",
      ])
    phones.expectNothingLeftOver()
  }

  /// Bob's 200 never reaches alice (every copy lost), so after 64·T1 he ends the dialog with
  /// BYE (§13.3.1.4); for alice that BYE ends a call still in its early dialog, with her
  /// INVITE unanswered. She CANCELs the INVITE and lets its client transaction go: left in
  /// Proceeding, which has no timer, it lived for ever (nothing would ever answer it: bob's
  /// server transaction ended with his 2xx).
  @Test func aByeOnAnEarlyDialogLeavesNoInviteTransactionBehind() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .ring(for: .seconds(1)))])
    phones.network.datagramFault = { datagram in
      let text = String(decoding: datagram.payload.prefix(400), as: UTF8.self)
      return text.hasPrefix("SIP/2.0 200") && text.contains("CSeq: 1 INVITE") ? .drop : .pass
    }
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(5)) }
    phones.simulation.run(for: .seconds(120))
    let ladder = phones.ladder()
    #expect(ladder.prefix(2) == ["alice>bob INVITE", "bob>alice 180"], "\(ladder)")
    #expect(ladder.contains("bob>alice BYE") && ladder.contains("alice>bob CANCEL"), "\(ladder)")
    let alice = try #require(try phones.history("alice").first)
    #expect(alice.callID == callID && !alice.wasAnswered && alice.ending == "BYE received")
    phones.expectNothingLeftOver()
  }

  /// `.ignoreCancel` whose 200 comes before the give-up: the CANCEL crossed a 2xx as far as
  /// alice can tell, so she ACKs it and hangs up with BYE (§9.1); no cancel-wait fires.
  @Test func ignoreCancelAnsweringBeforeTheGiveUpIsAckedAndByed() throws {
    let result = try call(
      .ignoreCancel(ringing: .seconds(10)), hangUpAfter: nil, cancelAfter: .seconds(1))
    #expect(
      result.ladder == [
        "alice>bob INVITE", "bob>alice 180", "alice>bob CANCEL", "bob>alice 200",
        "bob>alice 200", "alice>bob ACK", "alice>bob BYE", "bob>alice 200",
      ])
    #expect(result.alice.status == 200 && result.alice.ending == "BYE sent")
    #expect(result.bob.status == 200 && result.bob.ending == "BYE received")
    #expect(
      result.phones.network.trace.events(named: "timer-fired").allSatisfy {
        $0.field("timer")?.description != "cancel-wait"
      })
    // Cancelled by the 2xx itself, the INVITE's final response, not later by the call's end
    // (a call kept up past 64·T1 showed the no-op give-up firing).
    let trace = result.phones.network.trace.events
    let cancelled = trace.first {
      $0.event == "timer-cancelled" && $0.field("timer")?.description == "cancel-wait"
    }
    let answered = trace.first {
      $0.event == "deliver" && $0.field("summary")?.description == "SIP/2.0 200 OK"
        && $0.field("cseq")?.description.hasSuffix("INVITE") == true
    }
    #expect(cancelled != nil && cancelled?.time == answered?.time)
  }

  /// RFC 3261 §9.2: a CANCEL that reaches the callee just after the INVITE's final response (a
  /// 486 sent 5 ms before it) still matches the INVITE's server transaction, alive in Completed:
  /// "as long as the CANCEL matched an existing transaction, the UAS answers the CANCEL request
  /// itself with a 200", with the To tag of the INVITE's response, and nothing else changes.
  /// (The 486 had ended the call, and a CANCEL finding no call got 481, the answer for one
  /// that matches no transaction.)
  @Test func aCancelCrossingTheFinalResponseGets200WithItsToTag() throws {
    let phones = try Phones([
      ("alice", .answer()),
      (
        "bob",
        .custom { agent, call in
          agent.ring(call.callID)
          agent.after(.seconds(2)) { agent in agent.reject(call.callID, status: 486) }
        }
      ),
    ])
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    phones.simulation.run(for: .milliseconds(2005))
    try phones.on("alice") { $0.cancel(callID) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 180", "alice>bob CANCEL", "bob>alice 486", "bob>alice 200",
        "alice>bob ACK",
      ])
    #expect(
      phones.events.all.contains("2015 bob \(callID) got CANCEL"), "\(phones.events.all)")
    let responses = try phones.network.trace.events(named: "deliver").compactMap(\.payloadText)
      .filter { $0.hasPrefix("SIP/2.0 ") }.map { try SIPMessage.parse($0) }
    let busy = try #require(responses.first { $0.status == 486 })
    let cancelled = try #require(responses.first { $0.cseq?.method == "CANCEL" })
    #expect(cancelled.status == 200 && cancelled.toTag != nil && cancelled.toTag == busy.toTag)
    #expect(try phones.history("alice").first?.status == 486)
    #expect(try phones.history("bob").first?.ending == "486 sent")
    phones.expectNothingLeftOver()
  }

  /// The callee answers, then hangs up itself after 1 s of talk.
  @Test func answerThenHangUp() throws {
    let result = try call(
      .answerThenHangUp(ringing: .milliseconds(500), talk: .seconds(1)),
      hangUpAfter: nil)
    #expect(
      result.ladder == [
        "alice>bob INVITE", "bob>alice 180", "bob>alice 200", "alice>bob ACK", "bob>alice BYE",
        "alice>bob 200",
      ])
    #expect(result.alice.ending == "BYE received" && result.bob.ending == "BYE sent")
  }

  /// The offer in the 2xx, the answer in the ACK (§13.2.1).
  @Test func offerInTheSuccessResponse() throws {
    let result = try call(.answer(), offer: false)
    #expect(result.alice.localSDP != nil && result.bob.remoteSDP == result.alice.localSDP)
    #expect(result.alice.remoteSDP == result.bob.localSDP)
    let ack = result.phones.network.trace.events(named: "deliver").first {
      "\($0.field("summary") ?? .string(""))".hasPrefix("ACK")
    }
    #expect(ack.map { $0.bytes > 300 } == true, "the ACK carries the SDP answer")
  }

  /// A behaviour written as a callback: ring, then reject with 404 after a second.
  @Test func customBehaviour() throws {
    let result = try call(
      .custom { agent, call in
        agent.ring(call.callID)
        agent.after(.seconds(1)) { agent in agent.reject(call.callID, status: 404) }
      })
    #expect(
      result.ladder == ["alice>bob INVITE", "bob>alice 180", "bob>alice 404", "alice>bob ACK"])
    #expect(result.alice.status == 404)
  }

  /// A callee that does not support SDP: 415 with Accept; the caller retries without an offer
  /// and gets the offer in the 2xx (§8.1.3.5).
  @Test func unsupportedMediaTypeRetriesWithoutABody() throws {
    let phones = try Phones([("alice", .answer())])
    try phones.network.addHost("bob")
    let picky = try UserAgent(
      network: phones.network, host: "bob", aor: try phones.uri("bob"),
      configuration: UAConfiguration(capabilities: UACapabilities(contentTypes: ["text/plain"])))
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(1)) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 415", "alice>bob ACK", "alice>bob INVITE", "bob>alice 200",
        "alice>bob ACK", "alice>bob BYE", "bob>alice 200",
      ])
    let accept = phones.network.trace.events(named: "deliver").compactMap(\.payloadText).first {
      $0.hasPrefix("SIP/2.0 415")
    }
    #expect(accept?.contains("Accept: text/plain") == true)
    let record = try #require(try phones.history("alice").first)
    #expect(record.status == 200)
    _ = picky
  }

  /// A Require the callee does not support: 420 with Unsupported; retried without it.
  @Test func badExtensionRetriesWithoutIt() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .answer())])
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") {
      $0.call(bob, headers: [SIPParameter("Require", "foo")], hangUpAfter: .seconds(1))
    }
    phones.simulation.runUntilIdle()
    #expect(
      Array(phones.ladder().prefix(4)) == [
        "alice>bob INVITE", "bob>alice 420", "alice>bob ACK", "alice>bob INVITE",
      ])
    let unsupported = phones.network.trace.events(named: "deliver").compactMap(\.payloadText)
      .first { $0.hasPrefix("SIP/2.0 420") }
    #expect(unsupported?.contains("Unsupported: foo") == true)
    #expect(try phones.history("alice").first?.status == 200)
    phones.expectNothingLeftOver()
  }

  /// A silent callee: Timer B, reported as 408 (§8.1.3.1).
  @Test func timeoutIsA408() throws {
    let phones = try Phones([("alice", .answer())], extraHosts: ["bob"])
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob) }
    phones.simulation.runUntilIdle()
    let record = try #require(try phones.history("alice").first)
    #expect(record.status == 408 && !record.wasAnswered)
    #expect(phones.events.all.contains("32000 alice \(record.callID) 408 to INVITE"))
    phones.expectNothingLeftOver()
  }

  /// An INVITE that cannot be sent (no address for the target) is a 503 at the same instant
  /// (§8.1.3.1), heard after `call` has returned: the call is alive when `call` arms its
  /// cancel-after timer, and its end cancels it. (Reported inside the send, the 503 ended the
  /// call inside `call`, which then armed the timer for the ended call, left scheduled with no
  /// call to cancel it.)
  @Test func aCallThatFailsAtOnceLeavesNoCancelTimer() throws {
    let phones = try Phones([("alice", .answer())])
    let callID = try phones.on("alice") {
      $0.call(SIPURI(user: "bob", host: "nowhere.invalid"), cancelAfter: .seconds(30))
    }
    #expect(try phones.on("alice") { $0.state(of: callID) } == .calling)
    phones.simulation.run(for: .zero)
    #expect(try phones.on("alice") { $0.record(of: callID)?.status } == 503)
    #expect(phones.events.all.contains("0 alice \(callID) 503 to INVITE"))
    phones.simulation.run(for: .seconds(1))
    phones.expectNothingLeftOver()
  }

  /// A CANCEL whose send fails at once fails its INVITE too when both go to one stream: alice's
  /// host crashed under her TCP connection to bob, so the CANCEL finds it closed and drops it,
  /// a transport error of the INVITE that used it (§18.4), and the new connection it would take
  /// cannot be opened from a host that is down, its own transport error. The INVITE's
  /// 503 ends the call at the same instant, after `cancel` has armed the cancel-wait timer, and
  /// the end cancels it. (Reported inside the CANCEL's send, the 503 ended the call there, and
  /// the guard `sendCancel` had against arming for an ended call was all that kept the timer
  /// from staying scheduled for 64·T1 with no call.)
  @Test func aCancelFailingAtOnceOverADeadStreamLeavesNoCancelWaitTimer() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .ring(for: .seconds(5)))])
    let target = try SIPURI("sip:bob@10.0.0.2;transport=tcp")
    let callID = try phones.on("alice") { $0.call(target) }
    phones.simulation.run(for: .seconds(1))
    try phones.simulation.inspect { try phones.network.apply(.crash("alice")) }
    let before = phones.network.leftovers.timersArmed
    try phones.on("alice") { $0.cancel(callID) }
    #expect(try phones.on("alice") { $0.state(of: callID) } == .early)
    phones.simulation.run(for: .zero)
    let record = try #require(try phones.history("alice").first)
    #expect(record.callID == callID && record.status == 503 && record.ending == "503 received")
    #expect(try phones.on("alice") { $0.armedTimers } == 0)
    // Nothing new is scheduled: the CANCEL's Timer F and the cancel-wait timer came and went,
    // and alice's Timer C, armed by the 180 and counted in `before`, went with the CANCEL.
    #expect(phones.network.leftovers.timersArmed == before - 1)
  }

  /// RFC 3261 §9.1: a callee that answers the CANCEL with 200 but never ends its INVITE (an
  /// RFC 2543 UAS sends no 487) leaves the caller's INVITE in Proceeding, where no timer of its
  /// own runs. 64·T1 after the CANCEL the caller considers the INVITE cancelled: its client
  /// transaction is destroyed and the call ends as cancelled (before, it stayed for ever).
  @Test func aCancelledInviteWithNoFinalResponseIsGivenUpAfter64T1() throws {
    let lab = Lab()
    try lab.agent("alice", aor: "sip:alice@example.com")
    try lab.host("bob")
    // Bob: rings, answers the CANCEL, and never answers the INVITE.
    let bob = try SIPEndpoint(network: lab.network, host: "bob")
    lab.simulation.inspect {
      bob.assumeIsolated { endpoint in
        endpoint.setCore { endpoint, event in
          guard case .request(let request, let key) = event, let key else { return }
          if request.method == "INVITE" {
            var ringing = request.dialogResponse(status: 180, toTag: "b0b")
            ringing.insertBeforeLength("Contact", "<sip:bob@10.0.0.2>")
            endpoint.respond(ringing, in: key)
          } else if request.method == "CANCEL" {
            endpoint.respond(request.response(status: 200, toTag: "b0b"), in: key)
          }
        }
      }
    }
    let bobAddress = try lab.network.host(named: "bob").addresses[0].description
    let callID = try lab.on("alice") { $0.call(SIPURI(user: "bob", host: bobAddress)) }
    lab.run(for: .seconds(1))
    #expect(try lab.on("alice") { $0.state(of: callID) } == .early)
    try lab.on("alice") { $0.cancel(callID) }
    let cancelledAt = lab.now
    lab.run(for: .milliseconds(31_900))
    #expect(try lab.on("alice") { $0.state(of: callID) } == .early)
    lab.run(for: .milliseconds(200))
    let record = try lab.on("alice") { $0.record(of: callID) }
    #expect(record?.status == 487)
    #expect(record?.ending == "CANCEL (no final response)")
    let gaveUp = lab.network.trace.events(named: "log").filter {
      $0.field("text")?.description.contains("considered cancelled (§9.1)") ?? false
    }
    #expect(gaveUp.map(\.time) == [cancelledAt + 32_000_000])
    // Alice's INVITE client transaction went from Proceeding to Terminated then.
    let ended = lab.network.trace.events(named: "transaction-state").filter {
      $0.field("transaction")?.description.hasSuffix("/INVITE/c") ?? false
        && $0.field("toState")?.description == "Terminated"
    }
    #expect(ended.map(\.time) == [cancelledAt + 32_000_000])
    lab.expectNothingLeftOver()
    // Bob, the broken callee, still holds its INVITE (nothing will end it).
    #expect(lab.simulation.inspect { bob.assumeIsolated { $0.liveTransactions.count } } == 1)
  }

  /// After the §9.1 give-up the callee may still answer the INVITE (its CANCEL lost, or an
  /// RFC 2543 UAS answering late) with a 2xx on the early dialog of its 180: the caller has no
  /// call left for it, so it ACKs the 2xx and ends the dialog with BYE (§13.2.2.4). Before, the
  /// give-up remembered the early dialog as ended and the late 2xx was only ACKed, leaving the
  /// callee in a call. (Found by review.)
  @Test func aLate2xxAfterTheGiveUpIsAckedAndEndedWithBye() throws {
    let lab = Lab()
    try lab.agent("alice", aor: "sip:alice@example.com")
    try lab.host("bob")
    let bob = try SIPEndpoint(network: lab.network, host: "bob")
    let held = HeldInvite()
    lab.simulation.inspect {
      bob.assumeIsolated { endpoint in
        endpoint.setCore { endpoint, event in
          guard case .request(let request, let key) = event, let key else { return }
          if request.method == "INVITE" {
            held.invite = request
            held.key = key
            var ringing = request.dialogResponse(status: 180, toTag: "b0b")
            ringing.insertBeforeLength("Contact", "<sip:bob@10.0.0.2>")
            endpoint.respond(ringing, in: key)
          } else if request.method == "CANCEL" {
            endpoint.respond(request.response(status: 200, toTag: "b0b"), in: key)
          } else if request.method == "BYE" {
            held.byes += 1
            endpoint.respond(request.response(status: 200), in: key)
          }
        }
      }
    }
    let bobAddress = try lab.network.host(named: "bob").addresses[0].description
    let callID = try lab.on("alice") { $0.call(SIPURI(user: "bob", host: bobAddress)) }
    lab.run(for: .seconds(1))
    try lab.on("alice") { $0.cancel(callID) }
    lab.run(for: .seconds(40))
    #expect(try lab.on("alice") { $0.record(of: callID)?.status } == 487)
    let invite = try #require(held.invite)
    let key = try #require(held.key)
    lab.simulation.inspect {
      bob.assumeIsolated { endpoint in
        var ok = invite.dialogResponse(status: 200, toTag: "b0b")
        ok.insertBeforeLength("Contact", "<sip:bob@10.0.0.2>")
        endpoint.respond(ok, in: key)
      }
    }
    let since = lab.now
    lab.run(for: .seconds(5))
    let sent = lab.sent(callID: callID, since: since).map(\.token)
    #expect(sent.contains("ACK") && sent.contains("BYE"), "\(sent)")
    #expect(held.byes == 1)
    // Bob's transactions (Timer L after his 200, Timer J after the BYE's) end too.
    lab.endpoints["bob"] = bob
    lab.run(for: .seconds(64))
    lab.expectNothingLeftOver()
  }
}

extension TraceEvent {
  var payloadText: String? { payload.map { String(decoding: $0, as: UTF8.self) } }
}

/// What a hand-written callee core saw: its INVITE and transaction, and the BYEs it got.
final class HeldInvite: @unchecked Sendable {
  var invite: SIPMessage?
  var key: TransactionKey?
  var byes = 0
}

/// The caller's own Timer C (``UAConfiguration/timerC``): the agent gives up an INVITE whose
/// final response has not come that long after its last provisional, with a CANCEL (§9.1).
@Suite struct CallerTimerCTests {
  /// Rings, then 10.005 s after the INVITE redirects to carol.
  static let redirectToCarol: @Sendable (isolated UserAgent, IncomingCall) -> Void = {
    agent, call in
    agent.ring(call.callID)
    agent.after(.milliseconds(10_005)) { agent in
      let carol = SIPParameter("Contact", "<sip:carol@10.0.0.3>")
      agent.reject(call.callID, status: 302, headers: [carol])
    }
  }

  /// Timer C (10 s here) is the caller giving the call up, as `cancel` does: bob rings, and
  /// his 302 to carol (10.015 s) crosses alice's CANCEL (10.020 s). The 302 arrives at 10.025
  /// s, after the CANCEL: alice does not recurse to carol (a new INVITE the CANCEL would not
  /// cover, and nothing would cancel), the 302 ends the call; bob answers the CANCEL 200 (§9.2).
  @Test func aRedirectCrossingTheTimerCCancelEndsTheCall() throws {
    let phones = try Phones(
      [("alice", .answer()), ("bob", .custom(Self.redirectToCarol)), ("carol", .answer())],
      configuration: UAConfiguration(timerC: .seconds(10)))
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 180", "bob>alice 302", "alice>bob CANCEL", "alice>bob ACK",
        "bob>alice 200",
      ])
    let cancel = phones.network.trace.events(named: "send").first {
      $0.field("summary")?.description.hasPrefix("CANCEL ") == true
    }
    #expect(cancel?.time == 10_020_000)
    let alice = try #require(try phones.history("alice").first)
    #expect(alice.callID == callID && alice.status == 302 && !alice.wasAnswered)
    #expect(try phones.history("carol").isEmpty)
    phones.expectNothingLeftOver()
  }
}
