import SIPCore
import SIPDialog
import Testing

func message(_ text: String) throws -> SIPMessage {
  try SIPMessage.parse(Array(text.replacing("\n", with: "\r\n").utf8))
}

let invite = """
  INVITE sip:bob@biloxi.example.com SIP/2.0
  Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8
  Record-Route: <sip:p2.biloxi.example.com;lr>
  Record-Route: <sip:p1.atlanta.example.com;lr>
  Max-Forwards: 70
  To: Bob <sip:bob@biloxi.example.com>
  From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
  Call-ID: a84b4c76e66710
  CSeq: 314159 INVITE
  Contact: <sip:alice@pc33.atlanta.example.com>
  Content-Length: 0


  """

let ok = """
  SIP/2.0 200 OK
  Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8
  Record-Route: <sip:p2.biloxi.example.com;lr>
  Record-Route: <sip:p1.atlanta.example.com;lr>
  To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf
  From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
  Call-ID: a84b4c76e66710
  CSeq: 314159 INVITE
  Contact: <sip:bob@192.0.2.4>
  Content-Length: 0


  """

@Suite struct DialogTests {
  /// §12.1.1: the UAS keeps Record-Route in order, the Contact as remote target, the CSeq as
  /// remote sequence; §12.1.2: the UAC reverses the route set and starts from its own CSeq.
  @Test func creationAtBothEnds() throws {
    let request = try message(invite)
    let uas = try Dialog.uas(request: request, localTag: "a6c85cf", state: .confirmed)
    #expect(
      uas.id == DialogID(callID: "a84b4c76e66710", localTag: "a6c85cf", remoteTag: "1928301774"))
    #expect(uas.routeSet.map(\.uri.host) == ["p2.biloxi.example.com", "p1.atlanta.example.com"])
    #expect(uas.remoteTarget.host == "pc33.atlanta.example.com")
    #expect(uas.remoteSequence == 314159 && uas.localSequence == 0 && !uas.isCaller)

    let uac = try Dialog.uac(request: request, response: try message(ok))
    #expect(
      uac.id == DialogID(callID: "a84b4c76e66710", localTag: "1928301774", remoteTag: "a6c85cf"))
    #expect(uac.routeSet.map(\.uri.host) == ["p1.atlanta.example.com", "p2.biloxi.example.com"])
    #expect(uac.remoteTarget.host == "192.0.2.4")
    #expect(uac.localSequence == 314159 && uac.remoteSequence == nil && uac.isCaller)
    #expect(uac.state == .confirmed)
    #expect(DialogID(receivedResponse: try message(ok)) == uac.id)
  }

  struct CreationRow: Sendable, CustomStringConvertible {
    var status: String
    var toTag: Bool
    var state: DialogState?
    var description: String { "\(status) tag:\(toTag)" }
  }

  /// §12.1: 101–199 with a To tag → early; 2xx → confirmed; 100, no tag, or ≥300 → none.
  @Test(arguments: [
    CreationRow(status: "180 Ringing", toTag: true, state: .early),
    CreationRow(status: "183 Session Progress", toTag: true, state: .early),
    CreationRow(status: "200 OK", toTag: true, state: .confirmed),
    CreationRow(status: "180 Ringing", toTag: false, state: nil),
    CreationRow(status: "100 Trying", toTag: true, state: nil),
    CreationRow(status: "486 Busy Here", toTag: true, state: nil),
  ])
  func creationByStatus(_ row: CreationRow) throws {
    var text = ok.replacing("200 OK", with: row.status)
    if !row.toTag { text = text.replacing(";tag=a6c85cf", with: "") }
    let dialog = try? Dialog.uac(request: try message(invite), response: try message(text))
    #expect(dialog?.state == row.state)
  }

  struct RoutingRow: Sendable, CustomStringConvertible {
    var name: String
    var routes: [String]
    var requestURI: String
    var routeHeaders: [String]
    var nextHop: String
    var description: String { name }
  }

  /// §12.2.1.1: no route set; loose routing; strict routing (the first route becomes the
  /// Request-URI and the remote target goes last).
  @Test(arguments: [
    RoutingRow(
      name: "no routes", routes: [], requestURI: "sip:bob@192.0.2.4", routeHeaders: [],
      nextHop: "sip:bob@192.0.2.4"),
    RoutingRow(
      name: "loose", routes: ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"],
      requestURI: "sip:bob@192.0.2.4",
      routeHeaders: ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"],
      nextHop: "sip:p1.example.com;lr"),
    RoutingRow(
      name: "strict", routes: ["<sip:p1.example.com;method=INVITE>", "<sip:p2.example.com;lr>"],
      requestURI: "sip:p1.example.com",
      routeHeaders: ["<sip:p2.example.com;lr>", "<sip:bob@192.0.2.4>"],
      nextHop: "sip:p1.example.com;method=INVITE"),
  ])
  func routing(_ row: RoutingRow) throws {
    var dialog = try Dialog.uac(request: try message(invite), response: try message(ok))
    dialog.routeSet = try row.routes.map { try NameAddress($0) }
    let (request, hop) = dialog.makeRequest(method: "BYE")
    #expect(request.requestURIText == row.requestURI)
    #expect(request.values("route") == row.routeHeaders)
    #expect(hop.description == row.nextHop)
    #expect(request.cseq == CSeq(314160, "BYE"))
    #expect(request.to?.tag == "a6c85cf" && request.from?.tag == "1928301774")
    #expect(request.callID == "a84b4c76e66710")
  }

  /// ACK and CANCEL reuse the INVITE's number; other requests take the next one.
  @Test func localSequence() throws {
    var dialog = try Dialog.uac(request: try message(invite), response: try message(ok))
    #expect(dialog.makeRequest(method: "ACK", sequence: 314159).request.cseq == CSeq(314159, "ACK"))
    #expect(dialog.makeRequest(method: "INVITE").request.cseq == CSeq(314160, "INVITE"))
    #expect(dialog.makeRequest(method: "BYE").request.cseq == CSeq(314161, "BYE"))
  }

  struct SequenceRow: Sendable, CustomStringConvertible {
    var method: String
    var cseq: UInt32
    var verdict: Dialog.RequestVerdict
    var remoteAfter: UInt32?
    var description: String { "\(cseq) \(method)" }
  }

  /// §12.2.2 at the UAC end (remote sequence empty until the callee sends a request).
  @Test(arguments: [
    [SequenceRow(method: "BYE", cseq: 7, verdict: .accept, remoteAfter: 7)],
    [
      SequenceRow(method: "INVITE", cseq: 7, verdict: .accept, remoteAfter: 7),
      SequenceRow(method: "BYE", cseq: 6, verdict: .outOfOrder, remoteAfter: 7),
    ],
    [
      SequenceRow(method: "INVITE", cseq: 7, verdict: .accept, remoteAfter: 7),
      SequenceRow(method: "ACK", cseq: 7, verdict: .accept, remoteAfter: 7),
      SequenceRow(method: "BYE", cseq: 8, verdict: .accept, remoteAfter: 8),
    ],
  ])
  func remoteSequence(_ rows: [SequenceRow]) throws {
    var dialog = try Dialog.uac(request: try message(invite), response: try message(ok))
    for row in rows {
      var request = SIPMessage.request(method: row.method, uri: "sip:alice@192.0.2.1")
      request.append("CSeq", "\(row.cseq) \(row.method)")
      request.append("Contact", "<sip:bob@192.0.2.99>")
      #expect(dialog.receive(request: request) == row.verdict, "\(row)")
      #expect(dialog.remoteSequence == row.remoteAfter, "\(row)")
    }
    // The re-INVITE refreshed the remote target.
    if rows.first?.method == "INVITE" { #expect(dialog.remoteTarget.host == "192.0.2.99") }
  }

  /// A 2xx confirming an early dialog recomputes the route set and target (§12.2.1.2).
  @Test func confirmRecomputesTheRouteSet() throws {
    let ringing = ok.replacing("200 OK", with: "180 Ringing")
      .replacing("Record-Route: <sip:p2.biloxi.example.com;lr>\n", with: "")
    var dialog = try Dialog.uac(request: try message(invite), response: try message(ringing))
    #expect(dialog.state == .early && dialog.routeSet.count == 1)
    dialog.confirm(uacResponse: try message(ok))
    #expect(dialog.state == .confirmed && dialog.routeSet.count == 2)
  }
}

/// A dialog ID hashes and compares by its three parts, also after one is changed (the stored
/// digest follows), and parts that run together differently stay different IDs.
@Test func dialogIDsCompareAndHashByTheirParts() {
  var changed = DialogID(callID: "c", localTag: "l", remoteTag: "r")
  changed.callID = "call"
  changed.remoteTag = "remote"
  let made = DialogID(callID: "call", localTag: "l", remoteTag: "remote")
  #expect(changed == made)
  #expect(Set([made]).contains(changed))
  #expect(changed.hashValue == made.hashValue)
  changed.localTag = "local"
  #expect(changed != made)
  #expect(!Set([made]).contains(changed))
  #expect(
    DialogID(callID: "ab", localTag: "c", remoteTag: "d")
      != DialogID(callID: "a", localTag: "bc", remoteTag: "d"))
}
