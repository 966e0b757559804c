import SIPTransaction
import Testing

typealias NonInviteClient = NonInviteClientTransaction<String>

struct NonInviteClientRow: Sendable, CustomTestStringConvertible {
  var name: String
  var reliable = false
  var before: [NonInviteClient.Event]
  var event: NonInviteClient.Event
  var actions: [Action]
  var state: TransactionState
  var testDescription: String { name }
}

/// One row per arrow of RFC 3261 Figure 6.
let nonInviteClientRows: [NonInviteClientRow] = [
  NonInviteClientRow(
    name: "Trying: Timer E, retransmit, E doubles", before: [], event: .timerFired(.e),
    actions: [.send("REGISTER"), .startTimer(.e, .seconds(1))], state: .trying),
  NonInviteClientRow(
    name: "Trying: Timer E is capped at T2",
    before: [.timerFired(.e), .timerFired(.e), .timerFired(.e)], event: .timerFired(.e),
    actions: [.send("REGISTER"), .startTimer(.e, .seconds(4))], state: .trying),
  NonInviteClientRow(
    name: "Trying: Timer F, timeout", before: [], event: .timerFired(.f),
    actions: [.cancelTimer(.e), .timeout(.f), .terminate], state: .terminated),
  NonInviteClientRow(
    name: "Trying: transport error", before: [], event: .transportError,
    actions: [.cancelTimer(.e), .cancelTimer(.f), .transportError, .terminate],
    state: .terminated),
  NonInviteClientRow(
    name: "Trying: 1xx to Proceeding", before: [], event: .response(status: 100, "100"),
    actions: [.passToTU("100")], state: .proceeding),
  NonInviteClientRow(
    name: "Trying: 200-699 to Completed", before: [], event: .response(status: 200, "200"),
    actions: [.cancelTimer(.e), .cancelTimer(.f), .passToTU("200"), .startTimer(.k, .seconds(5))],
    state: .completed),
  NonInviteClientRow(
    name: "Proceeding: Timer E, every T2", before: [.response(status: 100, "100")],
    event: .timerFired(.e), actions: [.send("REGISTER"), .startTimer(.e, .seconds(4))],
    state: .proceeding),
  NonInviteClientRow(
    name: "Proceeding: 1xx to TU", before: [.response(status: 100, "100")],
    event: .response(status: 183, "183"), actions: [.passToTU("183")], state: .proceeding),
  NonInviteClientRow(
    name: "Proceeding: Timer F, timeout", before: [.response(status: 100, "100")],
    event: .timerFired(.f), actions: [.cancelTimer(.e), .timeout(.f), .terminate],
    state: .terminated),
  NonInviteClientRow(
    name: "Proceeding: transport error", before: [.response(status: 100, "100")],
    event: .transportError,
    actions: [.cancelTimer(.e), .cancelTimer(.f), .transportError, .terminate],
    state: .terminated),
  NonInviteClientRow(
    name: "Proceeding: 200-699 to Completed", before: [.response(status: 100, "100")],
    event: .response(status: 404, "404"),
    actions: [.cancelTimer(.e), .cancelTimer(.f), .passToTU("404"), .startTimer(.k, .seconds(5))],
    state: .completed),
  NonInviteClientRow(
    name: "Completed: response retransmission absorbed",
    before: [.response(status: 200, "200")], event: .response(status: 200, "200"), actions: [],
    state: .completed),
  NonInviteClientRow(
    name: "Completed: Timer K", before: [.response(status: 200, "200")], event: .timerFired(.k),
    actions: [.terminate], state: .terminated),
  NonInviteClientRow(
    name: "reliable: no Timer E, K is zero", reliable: true, before: [],
    event: .response(status: 200, "200"),
    actions: [.cancelTimer(.f), .passToTU("200"), .startTimer(.k, .zero)], state: .completed),
]

@Test(arguments: nonInviteClientRows)
func nonInviteClientFigure6(row: NonInviteClientRow) {
  var machine = NonInviteClient(request: "REGISTER", isReliable: row.reliable)
  _ = machine.start()
  for event in row.before { _ = machine.handle(event) }
  #expect(machine.handle(row.event) == row.actions)
  #expect(machine.state == row.state)
  // Kept for retransmission in Trying and Proceeding only.
  #expect((machine.request != nil) == [.trying, .proceeding].contains(row.state))
}

@Test func nonInviteClientStart() {
  var machine = NonInviteClient(request: "REGISTER", isReliable: false)
  #expect(
    machine.start() == [
      .send("REGISTER"), .startTimer(.e, .milliseconds(500)), .startTimer(.f, .seconds(32)),
    ])
  var reliable = NonInviteClient(request: "REGISTER", isReliable: true)
  #expect(reliable.start() == [.send("REGISTER"), .startTimer(.f, .seconds(32))])
}
