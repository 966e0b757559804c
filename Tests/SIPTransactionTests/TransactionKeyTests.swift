import SIPTransaction
import SIPTransport
import Testing

/// The enums hashed on every timer and message compare by case, not by raw text: each case
/// equals only itself and hashes apart from the others.
@Test func transactionEnumsCompareByCase() {
  func check<T: Hashable>(_ cases: [T]) {
    for (index, value) in cases.enumerated() {
      #expect(cases.indices.filter { cases[$0] == value } == [index])
    }
    #expect(Set(cases).count == cases.count)
  }
  check(TransactionTimer.allCases)
  check([
    TransactionState.calling, .trying, .proceeding, .completed, .confirmed, .accepted, .terminated,
  ])
  check([TransactionKind.inviteClient, .nonInviteClient, .inviteServer, .nonInviteServer])
  check([TransactionKey.Role.client, .server])
  check(SIPTransportProtocol.allCases)
}

/// Timer settings keep whole microseconds (the simulation's unit): what is set reads back, the
/// RFC's defaults and Timer B/F/H/J's 64·T1 are exact, and finer parts are dropped.
@Test func timerSettingsKeepMicroseconds() {
  var settings = TimerSettings()
  #expect(settings.t1 == .milliseconds(500) && settings.t2 == .seconds(4))
  #expect(settings.t4 == .seconds(5) && settings.trying == .milliseconds(200))
  #expect(settings.transactionTimeout == .seconds(32))
  settings.t1 = .milliseconds(100)
  settings.t2 = .microseconds(1_500_001)
  #expect(settings.t1 == .milliseconds(100) && settings.transactionTimeout == .milliseconds(6_400))
  #expect(settings.t2 == .microseconds(1_500_001))
  #expect(TimerSettings(t1: .nanoseconds(500_999)).t1 == .microseconds(500))
  #expect(settings != .rfc3261 && TimerSettings() == .rfc3261)
  // 64·T1 is worked out in microseconds; a T1 too long for that still gets its exact product.
  settings.t1 = .seconds(1_000_000_000_000)
  #expect(settings.transactionTimeout == .seconds(64_000_000_000_000))
}
