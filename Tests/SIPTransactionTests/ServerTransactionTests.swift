import SIPTransaction
import Testing

typealias InviteServer = InviteServerTransaction<String>
typealias NonInviteServer = NonInviteServerTransaction<String>

struct InviteServerRow: Sendable, CustomTestStringConvertible {
  var name: String
  var reliable = false
  var before: [InviteServer.Event]
  var event: InviteServer.Event
  var actions: [Action]
  var state: TransactionState
  var testDescription: String { name }
}

/// One row per arrow of RFC 3261 Figure 7 (with RFC 6026's Accepted state).
let inviteServerRows: [InviteServerRow] = [
  InviteServerRow(
    name: "Proceeding: TU silent for 200 ms, send 100", before: [],
    event: .timerFired(.trying), actions: [.send100Trying], state: .proceeding),
  InviteServerRow(
    name: "Proceeding: INVITE retransmission before any response", before: [],
    event: .requestRetransmission, actions: [], state: .proceeding),
  InviteServerRow(
    name: "Proceeding: 1xx from TU", before: [], event: .tuResponse(status: 180, "180"),
    actions: [.cancelTimer(.trying), .send("180")], state: .proceeding),
  InviteServerRow(
    name: "Proceeding: INVITE retransmission, last provisional",
    before: [.tuResponse(status: 180, "180")], event: .requestRetransmission,
    actions: [.send("180")], state: .proceeding),
  InviteServerRow(
    name: "Proceeding: 2xx from TU to Accepted (RFC 6026)", before: [],
    event: .tuResponse(status: 200, "200"),
    actions: [.cancelTimer(.trying), .send("200"), .startTimer(.l, .seconds(32))],
    state: .accepted),
  InviteServerRow(
    name: "Proceeding: 300-699 from TU to Completed", before: [],
    event: .tuResponse(status: 486, "486"),
    actions: [
      .cancelTimer(.trying), .send("486"), .startTimer(.g, .milliseconds(500)),
      .startTimer(.h, .seconds(32)),
    ], state: .completed),
  InviteServerRow(
    name: "Proceeding: transport error", before: [], event: .transportError,
    actions: [.cancelTimer(.trying), .transportError, .terminate], state: .terminated),
  InviteServerRow(
    name: "Completed: INVITE retransmission, resend final",
    before: [.tuResponse(status: 486, "486")], event: .requestRetransmission,
    actions: [.send("486")], state: .completed),
  InviteServerRow(
    name: "Completed: Timer G, resend, G doubles", before: [.tuResponse(status: 486, "486")],
    event: .timerFired(.g), actions: [.send("486"), .startTimer(.g, .seconds(1))],
    state: .completed),
  InviteServerRow(
    name: "Completed: Timer G capped at T2",
    before: [
      .tuResponse(status: 486, "486"), .timerFired(.g), .timerFired(.g), .timerFired(.g),
    ], event: .timerFired(.g), actions: [.send("486"), .startTimer(.g, .seconds(4))],
    state: .completed),
  InviteServerRow(
    name: "Completed: ACK to Confirmed", before: [.tuResponse(status: 486, "486")],
    event: .ack("ACK"),
    actions: [.cancelTimer(.g), .cancelTimer(.h), .startTimer(.i, .seconds(5))],
    state: .confirmed),
  InviteServerRow(
    name: "Completed: Timer H, no ACK", before: [.tuResponse(status: 486, "486")],
    event: .timerFired(.h), actions: [.cancelTimer(.g), .timeout(.h), .terminate],
    state: .terminated),
  InviteServerRow(
    name: "Completed: transport error", before: [.tuResponse(status: 486, "486")],
    event: .transportError,
    actions: [.cancelTimer(.g), .cancelTimer(.h), .transportError, .terminate],
    state: .terminated),
  InviteServerRow(
    name: "Confirmed: ACK retransmission absorbed",
    before: [.tuResponse(status: 486, "486"), .ack("ACK")], event: .ack("ACK"), actions: [],
    state: .confirmed),
  InviteServerRow(
    name: "Confirmed: Timer I", before: [.tuResponse(status: 486, "486"), .ack("ACK")],
    event: .timerFired(.i), actions: [.terminate], state: .terminated),
  InviteServerRow(
    name: "Accepted: 2xx from TU (retransmission)", before: [.tuResponse(status: 200, "200")],
    event: .tuResponse(status: 200, "200"), actions: [.send("200")], state: .accepted),
  InviteServerRow(
    name: "Accepted: INVITE retransmission absorbed", before: [.tuResponse(status: 200, "200")],
    event: .requestRetransmission, actions: [], state: .accepted),
  InviteServerRow(
    name: "Accepted: ACK to TU", before: [.tuResponse(status: 200, "200")],
    event: .ack("ACK"), actions: [.passToTU("ACK")], state: .accepted),
  InviteServerRow(
    name: "Accepted: Timer L", before: [.tuResponse(status: 200, "200")],
    event: .timerFired(.l), actions: [.terminate], state: .terminated),
  InviteServerRow(
    name: "reliable: no Timer G, Timer I zero", reliable: true,
    before: [.tuResponse(status: 486, "486")], event: .ack("ACK"),
    actions: [.cancelTimer(.h), .startTimer(.i, .zero)], state: .confirmed),
]

@Test(arguments: inviteServerRows)
func inviteServerFigure7(row: InviteServerRow) {
  var machine = InviteServer(isReliable: row.reliable)
  #expect(machine.start() == [.startTimer(.trying, .milliseconds(200))])
  for event in row.before { _ = machine.handle(event) }
  #expect(machine.handle(row.event) == row.actions)
  #expect(machine.state == row.state)
  // The last response is what Completed resends; Accepted, Confirmed and Terminated resend
  // nothing and keep nothing.
  if row.state == .completed { #expect(machine.lastResponse != nil) }
  if [.accepted, .confirmed, .terminated].contains(row.state) {
    #expect(machine.lastResponse == nil)
  }
}

struct NonInviteServerRow: Sendable, CustomTestStringConvertible {
  var name: String
  var reliable = false
  var before: [NonInviteServer.Event]
  var event: NonInviteServer.Event
  var actions: [Action]
  var state: TransactionState
  var testDescription: String { name }
}

/// One row per arrow of RFC 3261 Figure 8.
let nonInviteServerRows: [NonInviteServerRow] = [
  NonInviteServerRow(
    name: "Trying: retransmission discarded", before: [], event: .requestRetransmission,
    actions: [], state: .trying),
  NonInviteServerRow(
    name: "Trying: 1xx from TU to Proceeding", before: [], event: .tuResponse(status: 100, "100"),
    actions: [.send("100")], state: .proceeding),
  NonInviteServerRow(
    name: "Trying: 200-699 from TU to Completed", before: [],
    event: .tuResponse(status: 200, "200"),
    actions: [.send("200"), .startTimer(.j, .seconds(32))], state: .completed),
  NonInviteServerRow(
    name: "Proceeding: 1xx from TU", before: [.tuResponse(status: 100, "100")],
    event: .tuResponse(status: 180, "180"), actions: [.send("180")], state: .proceeding),
  NonInviteServerRow(
    name: "Proceeding: retransmission, resend last", before: [.tuResponse(status: 100, "100")],
    event: .requestRetransmission, actions: [.send("100")], state: .proceeding),
  NonInviteServerRow(
    name: "Proceeding: 200-699 from TU", before: [.tuResponse(status: 100, "100")],
    event: .tuResponse(status: 404, "404"),
    actions: [.send("404"), .startTimer(.j, .seconds(32))], state: .completed),
  NonInviteServerRow(
    name: "Proceeding: transport error", before: [.tuResponse(status: 100, "100")],
    event: .transportError, actions: [.transportError, .terminate], state: .terminated),
  NonInviteServerRow(
    name: "Completed: retransmission, resend final", before: [.tuResponse(status: 200, "200")],
    event: .requestRetransmission, actions: [.send("200")], state: .completed),
  NonInviteServerRow(
    name: "Completed: other final from TU discarded", before: [.tuResponse(status: 200, "200")],
    event: .tuResponse(status: 500, "500"), actions: [], state: .completed),
  NonInviteServerRow(
    name: "Completed: transport error", before: [.tuResponse(status: 200, "200")],
    event: .transportError, actions: [.cancelTimer(.j), .transportError, .terminate],
    state: .terminated),
  NonInviteServerRow(
    name: "Completed: Timer J", before: [.tuResponse(status: 200, "200")],
    event: .timerFired(.j), actions: [.terminate], state: .terminated),
  NonInviteServerRow(
    name: "reliable: Timer J zero", reliable: true, before: [],
    event: .tuResponse(status: 200, "200"), actions: [.send("200"), .startTimer(.j, .zero)],
    state: .completed),
]

@Test(arguments: nonInviteServerRows)
func nonInviteServerFigure8(row: NonInviteServerRow) {
  var machine = NonInviteServer(isReliable: row.reliable)
  for event in row.before { _ = machine.handle(event) }
  #expect(machine.handle(row.event) == row.actions)
  #expect(machine.state == row.state)
}
