import SIPCore
import SIPDialog
import SIPElements
import SIPTransaction
import SIPTransport
import Simulation
import Synchronization
import Testing

/// RFC 3261 §13.3.1 step 1 at the UAS: an INVITE with Expires arms a timer for that many
/// seconds from its receipt; if it fires before the UAS has sent a final response, the UAS
/// answers 487 (Request Terminated) and the call ends. The caller here is a bare endpoint, so
/// only the callee's timer is at work.
@Suite struct InviteExpiresCalleeTests {
  /// A bare caller at 10.0.0.1 and a user agent `bob` at 10.0.0.2 answering as `behaviour`.
  struct Bench {
    let scenario: Scenario
    let bob: UserAgent

    init(_ behaviour: UABehaviour) throws {
      scenario = try Scenario(hosts: ["alice", "bob"], silent: ["bob"])
      bob = try UserAgent(
        network: scenario.network, host: "bob", aor: SIPURI(user: "bob", host: "10.0.0.2"),
        behaviour: behaviour)
      try scenario.core("alice")
    }

    /// Sends an INVITE from the bare caller, with `expires` as its Expires value (none: nil).
    @discardableResult
    func invite(expires: String?) throws -> SIPMessage {
      var invite = makeRequest("INVITE")
      invite.set("Contact", "<sip:alice@10.0.0.1>")
      if let expires { invite.insertBeforeLength("Expires", expires) }
      try scenario.send(invite, from: "alice", to: peer("10.0.0.2"))
      return invite
    }

    var simulation: Simulation { scenario.simulation }

    func on<R: Sendable>(_ body: @Sendable (isolated UserAgent) -> R) -> R {
      let bob = bob
      return simulation.inspect { bob.assumeIsolated { body($0) } }
    }

    /// `ms status` of each response the caller was delivered.
    func responses() -> [String] {
      scenario.network.trace.events(named: "deliver").compactMap { event -> String? in
        guard let text = event.payloadText, text.hasPrefix("SIP/2.0 ") else { return nil }
        return "\(event.time / 1000) \(text.dropFirst(8).prefix(3))"
      }
    }

    /// `ms event duration` of bob's `expires` timer events.
    func expiresTimer() -> [String] {
      scenario.network.trace.events.filter {
        $0.event.hasPrefix("timer-") && $0.field("timer")?.description == "expires"
      }.map { event in
        "\(event.time / 1000) \(event.event)"
          + (event.field("duration").map { " \($0)" } ?? "")
      }
    }

    /// No packet, timer, transaction or call left anywhere.
    func expectNothingLeftOver(sourceLocation: SourceLocation = #_sourceLocation) {
      scenario.expectNothingLeftOver(sourceLocation: sourceLocation)
      let alive = on { agent in
        [
          agent.liveCalls.count, agent.armedTimers,
          agent.endpoint.assumeIsolated { $0.liveTransactions.count + $0.armedTimers },
        ]
      }
      #expect(
        alive == [0, 0, 0], "bob: calls, timers, transactions", sourceLocation: sourceLocation)
    }
  }

  /// Bob rings and never answers; the INVITE says `Expires: 5`. Received at 10 ms, it expires
  /// at exactly 5.010 s: bob answers 487 then, on the INVITE server transaction (the timer is
  /// traced on it), and the call ends as expired. The bare caller's transaction ACKs the 487.
  @Test func anUnansweredInvitationIsAnswered487WhenItExpires() throws {
    let bench = try Bench(.noAnswer)
    try bench.invite(expires: "5")
    bench.simulation.runUntilIdle()
    #expect(bench.responses() == ["20 180", "5020 487"])
    #expect(bench.expiresTimer() == ["10 timer-armed 5000000", "5010 timer-fired"])
    let armed = bench.scenario.network.trace.events(named: "timer-armed").first {
      $0.field("timer")?.description == "expires"
    }
    #expect(armed?.field("transaction")?.description.hasSuffix("/INVITE/s") == true)
    let record = try #require(bench.on { $0.history.first })
    #expect(record.status == 487 && !record.wasAnswered && record.ending == "expired")
    bench.expectNothingLeftOver()
  }

  /// `Expires: 0`: the invitation has expired as it arrives. The timer fires at the instant
  /// of receipt, after the behaviour has rung: 180, then 487, both at 10 ms.
  @Test func expiresZeroIsAnswered487AtOnce() throws {
    let bench = try Bench(.noAnswer)
    try bench.invite(expires: "0")
    bench.simulation.runUntilIdle()
    #expect(bench.responses() == ["20 180", "20 487"])
    #expect(bench.expiresTimer() == ["10 timer-armed 0", "10 timer-fired"])
    #expect(bench.on { $0.history.first?.ending } == "expired")
    bench.expectNothingLeftOver()
  }

  /// A final response sent before the expiry cancels the timer: bob, with `Expires: 30`,
  /// declines at 2 s (a 603 from `hangUp`); no 487 ever goes.
  @Test func aFinalResponseBeforeTheExpiryCancelsTheTimer() throws {
    let bench = try Bench(.noAnswer)
    try bench.invite(expires: "30")
    bench.simulation.run(for: .seconds(2))
    let callID = try #require(bench.on { $0.liveCalls.first })
    bench.on { $0.hangUp(callID) }
    bench.simulation.runUntilIdle()
    #expect(bench.responses() == ["20 180", "2010 603"])
    #expect(bench.expiresTimer() == ["10 timer-armed 30000000", "2000 timer-cancelled"])
    bench.expectNothingLeftOver()
  }

  /// §20.19 allows up to 2^32 − 1 seconds; more digits than that are read as 2^32 − 1 (about
  /// 136 years), and nothing overflows: the timer is armed for 4294967295 s and cancelled with
  /// the final response.
  @Test(arguments: ["4294967295", "4294967296", "99999999999999999999999999999999999999999"])
  func aHugeExpiresArmsTheLongestTimer(expires: String) throws {
    let bench = try Bench(.noAnswer)
    try bench.invite(expires: expires)
    bench.simulation.run(for: .seconds(1))
    let callID = try #require(bench.on { $0.liveCalls.first })
    bench.on { $0.reject(callID, status: 480) }
    bench.simulation.runUntilIdle()
    #expect(bench.responses() == ["20 180", "1010 480"])
    #expect(
      bench.expiresTimer() == ["10 timer-armed 4294967295000000", "1000 timer-cancelled"])
    bench.expectNothingLeftOver()
  }

  /// An Expires that is not one delta-seconds (§25.1) cannot say when the invitation expires:
  /// the INVITE is refused with 400 naming the header (§21.4.1), before any call or timer.
  @Test(arguments: ["soon", "-5", "5 s", "", "1.5"])
  func aMalformedExpiresIsRefusedWith400(expires: String) throws {
    let bench = try Bench(.noAnswer)
    try bench.invite(expires: expires)
    bench.simulation.runUntilIdle()
    let response = bench.scenario.network.trace.events(named: "deliver").compactMap(\.payloadText)
      .first { $0.hasPrefix("SIP/2.0") }
    #expect(response?.hasPrefix("SIP/2.0 400 Bad Request (malformed Expires header)") == true)
    #expect(bench.expiresTimer().isEmpty)
    #expect(bench.on { $0.history.isEmpty })
    bench.expectNothingLeftOver()
  }
}

/// RFC 3261 §13.2.1 at the UAC: an INVITE with Expires, from the agent's configuration
/// (``UAConfiguration/inviteExpires``) or among the `headers` of `call`, arms a timer from its
/// sending; with no final response when it fires, the caller CANCELs the INVITE as `cancel`
/// does (§9.1: after a provisional response, waiting for one if none came). Both agents here,
/// so both timers run: with a fixed latency the callee's, measured from the receipt (§20.19),
/// fires at the instant the caller's CANCEL arrives, just before it.
@Suite struct InviteExpiresCallerTests {
  /// `ms element event duration` of the `expires` timers.
  static func expiresTimers(_ phones: Phones) -> [String] {
    phones.network.trace.events.filter {
      $0.event.hasPrefix("timer-") && $0.field("timer")?.description == "expires"
    }.map { event in
      "\(event.time / 1000) \(event.field("element")?.description ?? "") \(event.event)"
        + (event.field("duration").map { " \($0)" } ?? "")
    }
  }

  /// Send times (ms) of the requests `from` sent whose start line begins with `method`.
  static func sent(_ phones: Phones, _ method: String, from host: String) throws -> [Int64] {
    let address = try phones.network.host(named: host).addresses[0]
    return phones.network.trace.events(named: "send").filter {
      $0.from?.address == address
        && ($0.field("summary")?.description.hasPrefix(method + " ") ?? false)
    }.map { $0.time / 1000 }
  }

  /// The INVITEs delivered, as text.
  static func invites(_ phones: Phones) -> [String] {
    phones.network.trace.events(named: "deliver").compactMap(\.payloadText).filter {
      $0.hasPrefix("INVITE ")
    }
  }

  /// Alice's agent adds `Expires: 5`; bob only rings. At exactly 5 s alice CANCELs (bob's 180
  /// came long before). Bob's own timer fires at 5.010 s, just before the CANCEL arrives: his
  /// 487 ends the call, and the CANCEL, crossing it, gets 200 (§9.2). Alice's cancel-wait
  /// (§9.1) is cancelled by the 487; both sides end the call as expired.
  @Test func theCallerCancelsAtExactlyExpiresWhenTheCalleeOnlyRings() throws {
    let phones = try Phones(
      [("alice", .answer()), ("bob", .noAnswer)],
      configuration: UAConfiguration(inviteExpires: 5))
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    phones.simulation.runUntilIdle()
    #expect(Self.invites(phones).first?.contains("\r\nExpires: 5\r\n") == true)
    #expect(try Self.sent(phones, "CANCEL", from: "alice") == [5000])
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 180", "alice>bob CANCEL", "bob>alice 487", "bob>alice 200",
        "alice>bob ACK",
      ])
    #expect(
      Self.expiresTimers(phones) == [
        "0 alice timer-armed 5000000", "10 bob timer-armed 5000000", "5000 alice timer-fired",
        "5010 bob timer-fired",
      ])
    let armed = phones.network.trace.events(named: "timer-armed").first {
      $0.field("timer")?.description == "expires"
    }
    #expect(armed?.field("transaction")?.description.hasSuffix("/INVITE/c") == true)
    let alice = try #require(try phones.history("alice").first)
    #expect(alice.callID == callID && alice.status == 487 && alice.ending == "expired")
    #expect(try phones.history("bob").first?.ending == "expired")
    phones.expectNothingLeftOver()
  }

  /// Alice's CANCEL at expiry is lost. Bob's own timer answers the INVITE 487 at 5.010 s
  /// (§13.3.1 step 1) and alice ACKs it; her CANCEL's retransmission at 5.5 s still finds
  /// bob's INVITE server transaction (Confirmed, for T4) and gets 200 (§9.2).
  @Test func theCalleeAnswers487AtItsOwnExpiryWhenTheCancelIsLost() throws {
    let phones = try Phones(
      [("alice", .answer()), ("bob", .noAnswer)],
      configuration: UAConfiguration(inviteExpires: 5))
    let dropped = DropCounter()
    phones.network.datagramFault = { datagram in
      datagram.payload.starts(with: Array("CANCEL ".utf8)) && dropped.take() ? .drop : .pass
    }
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob) }
    phones.simulation.runUntilIdle()
    #expect(try Self.sent(phones, "CANCEL", from: "alice") == [5000, 5500])
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 180", "bob>alice 487", "alice>bob ACK", "alice>bob CANCEL",
        "bob>alice 200",
      ])
    #expect(
      Self.expiresTimers(phones) == [
        "0 alice timer-armed 5000000", "10 bob timer-armed 5000000", "5000 alice timer-fired",
        "5010 bob timer-fired",
      ])
    let log = phones.network.trace.events(named: "log").compactMap { $0.field("text") }
    #expect(log.contains { $0.description.contains("(Expires, §13.3.1)") }, "\(log)")
    #expect(try phones.history("alice").first?.status == 487)
    #expect(try phones.history("bob").first?.ending == "expired")
    phones.expectNothingLeftOver()
  }

  /// An answer before the expiry cancels both timers: bob's with his 200 at 2.010 s, alice's
  /// when it reaches her at 2.020 s. Nothing is CANCELled.
  @Test func anAnswerBeforeTheExpiryCancelsBothTimers() throws {
    let phones = try Phones(
      [("alice", .answer()), ("bob", .ring(for: .seconds(2)))],
      configuration: UAConfiguration(inviteExpires: 30))
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob, hangUpAfter: .seconds(1)) }
    phones.simulation.runUntilIdle()
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 180", "bob>alice 200", "alice>bob ACK", "alice>bob BYE",
        "bob>alice 200",
      ])
    #expect(
      Self.expiresTimers(phones) == [
        "0 alice timer-armed 30000000", "10 bob timer-armed 30000000",
        "2010 bob timer-cancelled", "2020 alice timer-cancelled",
      ])
    #expect(try phones.history("alice").first?.ending == "BYE sent")
    phones.expectNothingLeftOver()
  }

  /// `Expires: 0`: alice's timer fires as the INVITE leaves, before any provisional, so her
  /// CANCEL waits for one (§9.1). Bob's fires at the INVITE's receipt, after his 180: 487. The
  /// 180 reaches alice first and her CANCEL goes, crossing the 487 she ACKs; bob answers the
  /// CANCEL 200 (§9.2).
  @Test func expiresZeroCancelsOnTheFirstProvisional() throws {
    let phones = try Phones(
      [("alice", .answer()), ("bob", .ring(for: .seconds(2)))],
      configuration: UAConfiguration(inviteExpires: 0))
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob) }
    phones.simulation.runUntilIdle()
    #expect(try Self.sent(phones, "CANCEL", from: "alice") == [20])
    #expect(
      phones.ladder() == [
        "alice>bob INVITE", "bob>alice 180", "bob>alice 487", "alice>bob CANCEL", "alice>bob ACK",
        "bob>alice 200",
      ])
    #expect(
      Self.expiresTimers(phones) == [
        "0 alice timer-armed 0", "0 alice timer-fired", "10 bob timer-armed 0",
        "10 bob timer-fired",
      ])
    #expect(try phones.history("alice").first?.ending == "expired")
    phones.expectNothingLeftOver()
  }

  /// An Expires the caller passes among `headers` works as the configuration's, and wins over
  /// it (one Expires field goes, not two). A huge one is read as 2^32 − 1 seconds at both ends,
  /// and the answer cancels both timers.
  @Test func aHugeExpiresAmongTheHeadersArmsTheLongestTimers() throws {
    let phones = try Phones(
      [("alice", .answer()), ("bob", .ring(for: .seconds(1)))],
      configuration: UAConfiguration(inviteExpires: 5))
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") {
      $0.call(bob, headers: [SIPParameter("Expires", "99999999999")], hangUpAfter: .seconds(1))
    }
    phones.simulation.runUntilIdle()
    let invite = try #require(Self.invites(phones).first)
    #expect(invite.contains("\r\nExpires: 99999999999\r\n"))
    #expect(invite.components(separatedBy: "\r\nExpires:").count == 2)
    #expect(
      Self.expiresTimers(phones) == [
        "0 alice timer-armed 4294967295000000", "10 bob timer-armed 4294967295000000",
        "1010 bob timer-cancelled", "1020 alice timer-cancelled",
      ])
    #expect(try phones.history("alice").first?.status == 200)
    phones.expectNothingLeftOver()
  }

  /// A malformed Expires the caller passes arms nothing at the caller (it cannot say when), and
  /// the callee refuses the INVITE with 400 naming the header.
  @Test func aMalformedExpiresAmongTheHeadersIsRefused() throws {
    let phones = try Phones([("alice", .answer()), ("bob", .ring(for: .seconds(1)))])
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob, headers: [SIPParameter("Expires", "soon")]) }
    phones.simulation.runUntilIdle()
    #expect(phones.ladder() == ["alice>bob INVITE", "bob>alice 400", "alice>bob ACK"])
    #expect(Self.expiresTimers(phones).isEmpty)
    #expect(try phones.history("alice").first?.status == 400)
    phones.expectNothingLeftOver()
  }

  /// Each INVITE of the call is its own invitation, measured from its own sending (§20.19):
  /// the retry after a 420 (CSeq 2, 20 ms) carries the Expires again and re-arms the timer on
  /// its own transaction, so the CANCEL goes 5 s after the retry.
  @Test func aRetriedInviteRearmsTheTimer() throws {
    let phones = try Phones(
      [("alice", .answer()), ("bob", .noAnswer)],
      configuration: UAConfiguration(inviteExpires: 5))
    let bob = try phones.uri("bob")
    _ = try phones.on("alice") { $0.call(bob, headers: [SIPParameter("Require", "foo")]) }
    phones.simulation.runUntilIdle()
    #expect(try Self.sent(phones, "INVITE", from: "alice") == [0, 20])
    #expect(try Self.sent(phones, "CANCEL", from: "alice") == [5020])
    #expect(
      Self.expiresTimers(phones) == [
        "0 alice timer-armed 5000000", "20 alice timer-cancelled", "20 alice timer-armed 5000000",
        "30 bob timer-armed 5000000", "5020 alice timer-fired", "5030 bob timer-fired",
      ])
    phones.expectNothingLeftOver()
  }

  /// Re-INVITEs carry no Expires: the agent's own (hold, resume) are answered at once by the
  /// callee, and §13.2.1's limit is on the invitation that sets a call up. After the answer no
  /// `expires` timer is armed again.
  @Test func aReinviteCarriesNoExpires() throws {
    let phones = try Phones(
      [("alice", .answer()), ("bob", .answer())],
      configuration: UAConfiguration(inviteExpires: 5))
    let bob = try phones.uri("bob")
    let callID = try phones.on("alice") { $0.call(bob) }
    phones.simulation.run(for: .seconds(1))
    try phones.on("alice") { $0.reinvite(callID, hold: true) }
    phones.simulation.run(for: .seconds(10))
    try phones.on("alice") { $0.hangUp(callID) }
    phones.simulation.runUntilIdle()
    let invites = Self.invites(phones)
    #expect(invites.count == 2)
    #expect(invites.first?.contains("\r\nExpires: 5\r\n") == true)
    #expect(invites.last?.contains("\r\nExpires:") == false)
    #expect(
      Self.expiresTimers(phones) == [
        "0 alice timer-armed 5000000", "10 bob timer-armed 5000000", "10 bob timer-cancelled",
        "20 alice timer-cancelled",
      ])
    phones.expectNothingLeftOver()
  }
}

/// Says yes once: a fault dropping only the first match.
final class DropCounter: Sendable {
  private let left = Mutex(1)
  func take() -> Bool {
    left.withLock { left in
      guard left > 0 else { return false }
      left -= 1
      return true
    }
  }
}
