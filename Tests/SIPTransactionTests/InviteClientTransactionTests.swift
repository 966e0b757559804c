import SIPTransaction
import Testing

typealias Action = TransactionAction<String>
typealias InviteClient = InviteClientTransaction<String>

/// One row per arrow of RFC 3261 Figure 5 (with RFC 6026's Accepted state): the events that lead
/// to the row's starting state, the event, the actions and the state after it.
struct InviteClientRow: Sendable, CustomTestStringConvertible {
  var name: String
  var reliable = false
  var before: [InviteClient.Event]
  var event: InviteClient.Event
  var actions: [Action]
  var state: TransactionState
  var testDescription: String { name }
}

let inviteClientRows: [InviteClientRow] = [
  InviteClientRow(
    name: "Calling: Timer A fires, retransmit, A doubles", before: [], event: .timerFired(.a),
    actions: [.send("INVITE"), .startTimer(.a, .seconds(1))], state: .calling),
  InviteClientRow(
    name: "Calling: second Timer A, 2 s", before: [.timerFired(.a)], event: .timerFired(.a),
    actions: [.send("INVITE"), .startTimer(.a, .seconds(2))], state: .calling),
  InviteClientRow(
    name: "Calling: Timer B fires, timeout", before: [], event: .timerFired(.b),
    actions: [.cancelTimer(.a), .timeout(.b), .terminate], state: .terminated),
  InviteClientRow(
    name: "Calling: transport error", before: [], event: .transportError,
    actions: [.cancelTimer(.a), .cancelTimer(.b), .transportError, .terminate],
    state: .terminated),
  InviteClientRow(
    name: "Calling: 1xx to Proceeding", before: [], event: .response(status: 180, "180"),
    actions: [.cancelTimer(.a), .cancelTimer(.b), .passToTU("180")], state: .proceeding),
  InviteClientRow(
    name: "Calling: 2xx to Accepted (RFC 6026)", before: [], event: .response(status: 200, "200"),
    actions: [
      .cancelTimer(.a), .cancelTimer(.b), .passToTU("200"), .startTimer(.m, .seconds(32)),
    ], state: .accepted),
  InviteClientRow(
    name: "Calling: 300-699 to Completed, ACK", before: [], event: .response(status: 486, "486"),
    actions: [
      .cancelTimer(.a), .cancelTimer(.b), .sendACK(for: "486"), .passToTU("486"),
      .startTimer(.d, .seconds(32)),
    ], state: .completed),
  InviteClientRow(
    name: "Proceeding: 1xx to TU", before: [.response(status: 100, "100")],
    event: .response(status: 183, "183"), actions: [.passToTU("183")], state: .proceeding),
  InviteClientRow(
    name: "Proceeding: 2xx to Accepted", before: [.response(status: 180, "180")],
    event: .response(status: 200, "200"),
    actions: [.passToTU("200"), .startTimer(.m, .seconds(32))], state: .accepted),
  InviteClientRow(
    name: "Proceeding: 300-699 to Completed", before: [.response(status: 180, "180")],
    event: .response(status: 603, "603"),
    actions: [.sendACK(for: "603"), .passToTU("603"), .startTimer(.d, .seconds(32))],
    state: .completed),
  InviteClientRow(
    name: "Proceeding: transport error", before: [.response(status: 180, "180")],
    event: .transportError, actions: [.transportError, .terminate], state: .terminated),
  InviteClientRow(
    name: "Proceeding: stale Timer A does nothing", before: [.response(status: 180, "180")],
    event: .timerFired(.a), actions: [], state: .proceeding),
  InviteClientRow(
    name: "Completed: 300-699 retransmission, ACK again",
    before: [.response(status: 486, "486")], event: .response(status: 486, "486"),
    actions: [.sendACK(for: "486")], state: .completed),
  InviteClientRow(
    name: "Completed: transport error", before: [.response(status: 486, "486")],
    event: .transportError, actions: [.cancelTimer(.d), .transportError, .terminate],
    state: .terminated),
  InviteClientRow(
    name: "Completed: Timer D fires", before: [.response(status: 486, "486")],
    event: .timerFired(.d), actions: [.terminate], state: .terminated),
  InviteClientRow(
    name: "Accepted: 2xx (retransmission or fork) to TU", before: [.response(status: 200, "200")],
    event: .response(status: 200, "200b"), actions: [.passToTU("200b")], state: .accepted),
  InviteClientRow(
    name: "Accepted: Timer M fires", before: [.response(status: 200, "200")],
    event: .timerFired(.m), actions: [.terminate], state: .terminated),
  InviteClientRow(
    name: "reliable Calling: 486, Timer D is zero", reliable: true, before: [],
    event: .response(status: 486, "486"),
    actions: [.cancelTimer(.b), .sendACK(for: "486"), .passToTU("486"), .startTimer(.d, .zero)],
    state: .completed),
]

@Test(arguments: inviteClientRows)
func inviteClientFigure5(row: InviteClientRow) {
  var machine = InviteClient(request: "INVITE", isReliable: row.reliable)
  _ = machine.start()
  for event in row.before { _ = machine.handle(event) }
  #expect(machine.handle(row.event) == row.actions)
  #expect(machine.state == row.state)
  // The INVITE is kept while a state can send it (Calling) or build an ACK from it
  // (Completed), and let go in Accepted and Terminated.
  #expect((machine.request != nil) == [.calling, .proceeding, .completed].contains(row.state))
}

@Test func inviteClientStartsWithTimersAAndB() {
  var unreliable = InviteClient(request: "INVITE", isReliable: false)
  #expect(
    unreliable.start() == [
      .send("INVITE"), .startTimer(.a, .milliseconds(500)), .startTimer(.b, .seconds(32)),
    ])
  var reliable = InviteClient(request: "INVITE", isReliable: true)
  #expect(reliable.start() == [.send("INVITE"), .startTimer(.b, .seconds(32))])
}

/// Timer A doubles without a cap: retransmissions at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s.
@Test func inviteClientRetransmitsUntilTimerB() {
  var machine = InviteClient(request: "INVITE", isReliable: false)
  var now = Duration.zero
  var sends: [Duration] = []
  var nextA = Duration.zero
  for action in machine.start() {
    if case .startTimer(.a, let interval) = action { nextA = interval }
  }
  let timerB = Duration.seconds(32)
  while now + nextA < timerB {
    now += nextA
    for action in machine.handle(.timerFired(.a)) {
      if case .send = action { sends.append(now) }
      if case .startTimer(.a, let interval) = action { nextA = interval }
    }
  }
  #expect(sends == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5].map { Duration.milliseconds(Int($0 * 1000)) })
  #expect(machine.handle(.timerFired(.b)).contains(.timeout(.b)))
}
