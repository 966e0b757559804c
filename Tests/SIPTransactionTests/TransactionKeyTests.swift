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
  check(SIPTransportProtocol.allCases)
}
