import SIPCore
import SIPDialog
import SIPElements
import SIPTransaction
import SIPTransport
import Simulation
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
