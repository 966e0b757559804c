import SIPCore
import Testing

@testable import SIPDialog

@Suite struct RulesTests {
  static func request(_ method: String, _ extra: [(String, String)] = [], body: String = "")
    -> SIPMessage
  {
    var request = SIPMessage.request(method: method, uri: "sip:bob@192.0.2.4")
    request.append("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1")
    request.append("Max-Forwards", "70")
    request.append("To", "<sip:bob@192.0.2.4>")
    request.append("From", "<sip:alice@192.0.2.1>;tag=1")
    request.append("Call-ID", "c1")
    request.append("CSeq", "1 \(method)")
    for (name, value) in extra { request.set(name, value) }
    request.body = Array(body.utf8)
    return request
  }

  struct InspectionRow: Sendable, CustomStringConvertible {
    var name: String
    var request: SIPMessage
    var status: Int?
    var description: String { name }
  }

  /// §8.2 in order: well-formed (400), method (501 / 405), scheme (416), Require (420, never
  /// for ACK / CANCEL), body (415).
  @Test(arguments: [
    InspectionRow(name: "plain OPTIONS", request: request("OPTIONS"), status: nil),
    InspectionRow(name: "no Call-ID", request: request("OPTIONS").removing("Call-ID"), status: 400),
    InspectionRow(name: "no Via", request: request("OPTIONS").removing("Via"), status: 400),
    InspectionRow(
      name: "CSeq mismatch", request: request("OPTIONS", [("CSeq", "1 BYE")]), status: 400),
    InspectionRow(name: "unknown method", request: request("FROB"), status: 501),
    InspectionRow(name: "REGISTER at a UA", request: request("REGISTER"), status: 405),
    InspectionRow(name: "Require foo", request: request("BYE", [("Require", "foo")]), status: 420),
    InspectionRow(
      name: "Require on ACK", request: request("ACK", [("Require", "foo")]), status: nil),
    InspectionRow(
      name: "SDP body",
      request: request("INVITE", [("Content-Type", "application/sdp")], body: "v=0"),
      status: nil),
    InspectionRow(
      name: "text body", request: request("INVITE", [("Content-Type", "text/plain")], body: "hi"),
      status: 415),
    InspectionRow(
      name: "gzip body",
      request: request(
        "INVITE", [("Content-Type", "application/sdp"), ("Content-Encoding", "gzip")], body: "x"),
      status: 415),
    InspectionRow(
      name: "French body",
      request: request(
        "INVITE", [("Content-Type", "application/sdp"), ("Content-Language", "fr")], body: "x"),
      status: 415),
  ])
  func inspection(_ row: InspectionRow) {
    #expect(UASInspection.check(row.request, capabilities: UACapabilities())?.status == row.status)
  }

  @Test func mergedRequests() {
    var detector = MergedRequestDetector(memoryMicroseconds: 1000)
    let invite = Self.request("INVITE")
    let inDialog = Self.request("INVITE", [("To", "<sip:bob@192.0.2.4>;tag=x")])
    let verdicts = [
      detector.isMerged(invite, branch: "b1", now: 0),
      detector.isMerged(invite, branch: "b1", now: 10),  // a retransmission: not merged
      detector.isMerged(invite, branch: "b2", now: 20),  // another branch: merged
      detector.isMerged(invite, branch: "b3", now: 2000),  // forgotten after its memory
      detector.isMerged(inDialog, branch: "b4", now: 2001),
      detector.isMerged(inDialog, branch: "b5", now: 2002),  // with a To tag: never
    ]
    #expect(verdicts == [false, false, true, false, false, false])
  }

  /// Over a long run the detector keeps only what its memory covers, and a retransmission that
  /// renewed an entry keeps it past the first expiry; times out of order (a caller's own clock)
  /// are forgotten at their own expiry all the same.
  @Test func mergedRequestsAreForgottenInOrder() {
    var detector = MergedRequestDetector(memoryMicroseconds: 1000)
    func invite(_ callID: String) -> SIPMessage {
      Self.request("INVITE", [("Call-ID", callID)])
    }
    for index in 0..<100 {
      _ = detector.isMerged(invite("call\(index)"), branch: "b\(index)", now: Int64(index) * 100)
    }
    // At 9,900 µs: what arrived after 8,900 (ten requests) is remembered.
    #expect(detector.seen.count == 10)
    #expect(detector.expiring.count == 10)
    // Renewed at 10,400 by a retransmission, call95 outlives its first expiry (10,500 µs);
    // call96, not renewed, is forgotten at 10,600.
    let renewed = detector.isMerged(invite("call95"), branch: "b95", now: 10_400)
    let stillKnown = detector.isMerged(invite("call95"), branch: "other", now: 11_000)
    let forgotten = detector.isMerged(invite("call96"), branch: "other", now: 11_000)
    // At 10,800, before the 11,000 just seen: it expires before call96's new entry (12,000),
    // and is forgotten then, not when that one is.
    let early = detector.isMerged(invite("early"), branch: "e", now: 10_800)
    let earlyKnown = detector.isMerged(invite("early"), branch: "x", now: 11_700)
    let earlyForgotten = detector.isMerged(invite("early"), branch: "y", now: 11_900)
    #expect(
      [renewed, stillKnown, forgotten, early, earlyKnown, earlyForgotten]
        == [false, true, false, false, true, false])
  }

  @Test(arguments: [
    (180, 180), (199, 183), (200, 200), (299, 200), (302, 302), (399, 300), (486, 486),
    (499, 400), (503, 503), (580, 500), (699, 600),
  ])
  func effectiveStatus(_ status: Int, _ expected: Int) {
    #expect(ResponseRules.effectiveStatus(status) == expected)
  }

  @Test func redirectTargets() throws {
    var targets = RedirectTargets(first: try SIPURI("sip:a@x"), limit: 3)
    targets.add([
      .address(try NameAddress("<sip:b@x>;q=0.5")), .address(try NameAddress("<sip:c@x>;q=0.9")),
      .address(try NameAddress("<sip:a@x>")), .address(try NameAddress("<sip:d@x>;q=0.9")),
    ])
    #expect(targets.pending.map(\.description) == ["sip:c@x", "sip:d@x", "sip:b@x"])
    #expect(targets.next()?.description == "sip:c@x")
    targets.add([.address(try NameAddress("<sip:c@x>"))])
    #expect(targets.next()?.description == "sip:d@x")
    #expect(targets.next() == nil, "limit of 3 tried")
  }

  /// §14.1: in 10 ms units, 2.1–4 s for the Call-ID owner, 0–2 s otherwise, from the given
  /// source (so a seed reproduces it).
  @Test func glareBackoff() {
    var random = SplitMix(state: 42)
    var owner: Set<Int64> = []
    var other: Set<Int64> = []
    for _ in 0..<5000 {
      let a = SessionRules.glareBackoff(isCallIDOwner: true, using: &random)
      let b = SessionRules.glareBackoff(isCallIDOwner: false, using: &random)
      owner.insert(a.components.attoseconds / 1_000_000_000_000_000 + a.components.seconds * 1000)
      other.insert(b.components.attoseconds / 1_000_000_000_000_000 + b.components.seconds * 1000)
    }
    #expect(owner.min() == 2100 && owner.max() == 4000 && owner.allSatisfy { $0 % 10 == 0 })
    #expect(other.min() == 0 && other.max() == 2000 && other.allSatisfy { $0 % 10 == 0 })
    var first = SplitMix(state: 7)
    var second = SplitMix(state: 7)
    #expect(
      SessionRules.glareBackoff(isCallIDOwner: true, using: &first)
        == SessionRules.glareBackoff(isCallIDOwner: true, using: &second))
  }

  @Test(
    arguments: [
      (false, false, nil), (true, false, 491), (false, true, 500), (true, true, 500),
    ] as [(Bool, Bool, Int?)])
  func reinviteConflict(_ outgoing: Bool, _ incoming: Bool, _ status: Int?) {
    #expect(
      SessionRules.reinviteConflict(outgoingPending: outgoing, incomingPending: incoming)?.status
        == status)
  }

  /// §20.19 / §25.1: Expires is one `delta-seconds`; above 2^32 − 1 it is read as 2^32 − 1
  /// (no overflow however many digits); anything else, or two fields, is malformed.
  @Test(
    arguments: [
      (nil, .unlimited), ("5", .seconds(5)), ("0", .seconds(0)), (" 30 ", .seconds(30)),
      ("0005", .seconds(5)), ("4294967295", .seconds(UInt32.max)),
      ("4294967296", .seconds(UInt32.max)),
      ("99999999999999999999999999999999999999", .seconds(UInt32.max)),
      ("", .malformed), ("soon", .malformed), ("-1", .malformed), ("5s", .malformed),
      ("1.5", .malformed), ("5, 6", .malformed), ("+5", .malformed),
    ] as [(String?, InviteExpiry)])
  func inviteExpiry(_ value: String?, _ expiry: InviteExpiry) {
    let invite = Self.request("INVITE", value.map { [("Expires", $0)] } ?? [])
    #expect(SessionRules.inviteExpiry(of: invite) == expiry)
  }

  @Test func twoExpiresFieldsAreMalformed() {
    var invite = Self.request("INVITE", [("Expires", "5")])
    invite.append("Expires", "5")
    #expect(SessionRules.inviteExpiry(of: invite) == .malformed)
  }

  @Test func successSchedule() {
    let times = SessionRules.successSchedule(t1: .milliseconds(500), t2: .seconds(4))
    #expect(
      times
        == [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500].map {
          Duration.milliseconds($0)
        })
  }
}

struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

extension SIPMessage {
  func removing(_ name: String) -> SIPMessage {
    var copy = self
    copy.remove(name)
    return copy
  }
}
