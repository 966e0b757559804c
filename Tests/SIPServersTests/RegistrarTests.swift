import SIPCore
import Testing

@testable import SIPServers

func message(_ text: String) throws -> SIPMessage {
  try SIPMessage.parse(Array(text.replacing("\n", with: "\r\n").utf8))
}

/// A REGISTER for bob with the given extra header lines.
func register(cseq: UInt32 = 1, callID: String = "reg-1", _ lines: [String]) throws -> SIPMessage {
  try message(
    """
    REGISTER sip:biloxi.example.com SIP/2.0
    Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKreg\(cseq)
    Max-Forwards: 70
    To: Bob <sip:bob@biloxi.example.com>
    From: Bob <sip:bob@biloxi.example.com>;tag=456248
    Call-ID: \(callID)
    CSeq: \(cseq) REGISTER
    \(lines.joined(separator: "\n"))
    Content-Length: 0


    """)
}

let policy = RegistrarPolicy(domains: ["biloxi.example.com"], minExpires: 60, maxExpires: 7200)
let bob = SIPURI(user: "bob", host: "biloxi.example.com")

@Suite struct RegistrarTests {
  /// §10.3 outcomes, one row per rule: request lines → status and the contacts the 200 lists.
  @Test(arguments: [
    (["Contact: <sip:bob@192.0.2.4>", "Expires: 3600"], 200, ["<sip:bob@192.0.2.4>;expires=3600"]),
    (["Contact: <sip:bob@192.0.2.4>;expires=120"], 200, ["<sip:bob@192.0.2.4>;expires=120"]),
    (["Contact: <sip:bob@192.0.2.4>"], 200, ["<sip:bob@192.0.2.4>;expires=3600"]),
    (
      ["Contact: <sip:bob@192.0.2.4>", "Expires: 99999"], 200, ["<sip:bob@192.0.2.4>;expires=7200"]
    ),
    (["Contact: <sip:bob@192.0.2.4>", "Expires: 30"], 423, []),
    (["Contact: *", "Expires: 0"], 200, []),
    (["Contact: *"], 400, []),
    (["Contact: *, <sip:bob@192.0.2.4>", "Expires: 0"], 400, []),
    (["Contact: <<<"], 400, []),
    ([], 200, []),
    (["Require: path", "Contact: <sip:bob@192.0.2.4>"], 420, []),
  ])
  func firstRegister(lines: [String], status: Int, contacts: [String]) throws {
    var table = LocationTable()
    let result = Registration.process(
      try register(lines), table: &table, policy: policy, at: .zero, toTag: "t")
    #expect(result.response.status == status)
    #expect(result.response.values("contact") == contacts)
    if status == 423 { #expect(result.response.minExpires == 60) }
    if status == 420 { #expect(result.response.unsupported == ["path"]) }
    if status != 200 { #expect(table.count == 0) }
  }

  @Test func otherDomainsAre404AndAWrongUserIs403() throws {
    var table = LocationTable()
    var other = try register(["Contact: <sip:bob@192.0.2.4>"])
    other.startLine = .request(
      method: "REGISTER", uri: "sip:atlanta.example.com", version: "SIP/2.0")
    #expect(
      Registration.process(other, table: &table, policy: policy, at: .zero, toTag: "t")
        .response.status == 404)
    let stolen = Registration.process(
      try register(["Contact: <sip:eve@192.0.2.66>"]), table: &table, policy: policy, at: .zero,
      toTag: "t", authenticatedUser: "eve")
    #expect(stolen.response.status == 403)
    #expect(table.count == 0)
  }

  /// The seconds a 200 lists, counted in microseconds, are those counted in `Duration`s
  /// (rounded up, negative ones toward zero), and a `now` finer than a microsecond still lists
  /// what `Duration`s give.
  @Test func secondsLeftInMicrosecondsAreThoseOfDurations() throws {
    for micros: Int64 in [
      0, 1, 999_999, 1_000_000, 1_000_001, 3_599_999_999, 3_600_000_000, -1, -999_999, -1_000_000,
      -1_500_000,
    ] {
      #expect(
        Registration.seconds(microseconds: micros) == Registration.seconds(.microseconds(micros)),
        "\(micros)")
    }
    var table = LocationTable()
    let fine = Duration.seconds(100) + .nanoseconds(400)
    let r = Registration.process(
      try register(["Contact: <sip:bob@192.0.2.4>", "Expires: 3600"]), table: &table,
      policy: policy, at: fine, toTag: "t")
    #expect(r.response.values("contact") == ["<sip:bob@192.0.2.4>;expires=3600"])
    #expect(r.response.date == "Sat, 01 Jan 2000 00:01:40 GMT")
  }

  /// §10.3: a REGISTER is applied whole or not at all. A contact refused after another was
  /// refreshed or added (the table changed in place) leaves the table as it was.
  @Test func aRefusedContactUndoesTheOthers() throws {
    var table = LocationTable()
    _ = Registration.process(
      try register(cseq: 1, ["Contact: <sip:bob@192.0.2.4>", "Expires: 600"]), table: &table,
      policy: policy, at: .zero, toTag: "t")
    let before = table.lookup(bob, at: .seconds(10))
    #expect(before.count == 1)
    for (contacts, status) in [
      (["Contact: <sip:bob@192.0.2.4>", "Contact: <sip:bob@192.0.2.5>;expires=30"], 423),
      (["Contact: <sip:bob@192.0.2.5>", "Contact: <sip:bob@192.0.2.6>;expires=30"], 423),
      (["Contact: <sip:bob@192.0.2.4>, <sip:bob@192.0.2.4>"], 500),
    ] {
      let r = Registration.process(
        try register(cseq: 2, contacts + ["Expires: 3600"]), table: &table, policy: policy,
        at: .seconds(10), toTag: "t")
      #expect(r.response.status == status, "\(contacts)")
      let after = table.lookup(bob, at: .seconds(10))
      #expect(after.map(\.contact) == before.map(\.contact), "\(contacts)")
      #expect(after.map(\.expiresAt) == before.map(\.expiresAt), "\(contacts)")
      #expect(after.map(\.cseq) == [1], "\(contacts)")
    }
    // A new address-of-record whose second contact is refused gets no binding.
    var empty = LocationTable()
    let r = Registration.process(
      try register(["Contact: <sip:bob@192.0.2.4>", "Contact: <sip:bob@192.0.2.5>;expires=30"]),
      table: &empty, policy: policy, at: .zero, toTag: "t")
    #expect(r.response.status == 423 && empty.count == 0 && empty.isEmpty)
  }

  /// Add, refresh, second contact with q, query, out-of-order, removal, wildcard: one binding
  /// table through a sequence of REGISTERs (RFC 3665 §2.1–2.4 in miniature).
  @Test func bindingLifecycle() throws {
    var table = LocationTable()
    var r = Registration.process(
      try register(cseq: 1, ["Contact: <sip:bob@192.0.2.4>;q=0.5", "Expires: 3600"]),
      table: &table, policy: policy, at: .zero, toTag: "t")
    #expect(r.added.count == 1)
    // A refresh 100 s later from the same Call-ID with a higher CSeq, plus a second contact.
    r = Registration.process(
      try register(
        cseq: 2, ["Contact: <sip:bob@192.0.2.4>;q=0.5", "Contact: <sip:bob@192.0.2.5>;q=0.9"]),
      table: &table, policy: policy, at: .seconds(100), toTag: "t")
    #expect(r.response.status == 200)
    // §10.3 step 8: the 200 SHOULD carry a Date: the clock origin (2000-01-01) plus 100 s.
    #expect(r.response.date == "Sat, 01 Jan 2000 00:01:40 GMT")
    #expect(r.refreshed.count == 1 && r.added.count == 1)
    #expect(
      r.response.values("contact") == [
        "<sip:bob@192.0.2.5>;q=0.9;expires=3600", "<sip:bob@192.0.2.4>;q=0.5;expires=3600",
      ])
    #expect(
      table.lookup(bob, at: .seconds(100)).map(\.contact.uri.host) == ["192.0.2.5", "192.0.2.4"])
    // A query lists them with the time left.
    r = Registration.process(
      try register(cseq: 3, []), table: &table, policy: policy, at: .seconds(200), toTag: "t")
    #expect(
      r.response.values("contact") == [
        "<sip:bob@192.0.2.5>;q=0.9;expires=3500", "<sip:bob@192.0.2.4>;q=0.5;expires=3500",
      ])
    // An older CSeq from the same Call-ID changes nothing.
    r = Registration.process(
      try register(cseq: 2, ["Contact: <sip:bob@192.0.2.4>", "Expires: 0"]), table: &table,
      policy: policy, at: .seconds(200), toTag: "t")
    #expect(r.response.status == 500)
    #expect(table.lookup(bob, at: .seconds(200)).count == 2)
    // Expires 0 removes one contact.
    r = Registration.process(
      try register(cseq: 4, ["Contact: <sip:bob@192.0.2.4>", "Expires: 0"]), table: &table,
      policy: policy, at: .seconds(300), toTag: "t")
    #expect(r.removed.map(\.contact.uri.host) == ["192.0.2.4"])
    #expect(r.response.values("contact") == ["<sip:bob@192.0.2.5>;q=0.9;expires=3400"])
    // Another Call-ID may remove with `*` whatever its CSeq.
    r = Registration.process(
      try register(cseq: 1, callID: "reg-2", ["Contact: *", "Expires: 0"]), table: &table,
      policy: policy, at: .seconds(400), toTag: "t")
    #expect(r.response.status == 200 && r.removed.count == 1)
    #expect(table.count == 0)
  }

  @Test func bindingsExpireExactlyOnTime() throws {
    var table = LocationTable()
    _ = Registration.process(
      try register(["Contact: <sip:bob@192.0.2.4>", "Expires: 60"]), table: &table,
      policy: policy, at: .seconds(10), toTag: "t")
    #expect(table.nextExpiry == .seconds(70))
    #expect(table.lookup(bob, at: .seconds(70) - .microseconds(1)).count == 1)
    #expect(table.lookup(bob, at: .seconds(70)).isEmpty)
    #expect(table.removeExpired(at: .seconds(69)).isEmpty)
    #expect(table.removeExpired(at: .seconds(70)).count == 1)
    #expect(table.count == 0 && table.nextExpiry == nil)
  }

  /// Expiries are kept to the microsecond: what is set reads back, finer parts are dropped,
  /// and the far default of a provisioned binding still fits.
  @Test func expiriesAreKeptToTheMicrosecond() throws {
    var table = LocationTable()
    table.add(aor: bob, contact: try SIPURI("sip:bob@192.0.2.4"))
    #expect(table.nextExpiry == .seconds(1 << 40))
    var binding = try #require(table.lookup(bob, at: .seconds(1)).first)
    binding.expiresAt = .microseconds(1_500_001) + .nanoseconds(999)
    #expect(binding.expiresAt == .microseconds(1_500_001))
    table.add(
      aor: bob, contact: try SIPURI("sip:bob@192.0.2.5"), until: .microseconds(2_000_003))
    #expect(table.lookup(bob, at: .microseconds(2_000_002)).count == 2)
    #expect(table.lookup(bob, at: .microseconds(2_000_003)).count == 1)
  }

  /// Expiry is found through a heap, not a scan: a refreshed binding outlives its old expiry
  /// (the early timer finds nothing), bindings of many AORs leave in (AOR, order) order, and
  /// the next expiry is always the earliest live one or earlier.
  @Test func expiryAcrossManyAddressesOfRecord() throws {
    var table = LocationTable()
    let users = (0..<50).map { "user\($0)" }
    for (index, user) in users.enumerated().reversed() {
      table.add(
        aor: try SIPURI("sip:\(user)@biloxi.example.com"),
        contact: try SIPURI("sip:\(user)@192.0.2.\(index % 200 + 1)"),
        until: .seconds(Int64(100 + index % 5)))
    }
    // Refresh user0..user9 to 500 s: their old expiries (100–104 s) become stale entries.
    for (index, user) in users.prefix(10).enumerated() {
      table.add(
        aor: try SIPURI("sip:\(user)@biloxi.example.com"),
        contact: try SIPURI("sip:\(user)@192.0.2.\(index % 200 + 1)"), until: .seconds(500))
    }
    #expect(table.count == 50)
    // A refresh moves an expiry later: the early entry stands in for it, nothing is pushed.
    #expect(table.expiryEntries == 50)
    #expect(table.nextExpiry == .seconds(100))
    let first = table.removeExpired(at: .seconds(100))
    #expect(
      first.map(\.aor)
        == users.dropFirst(10).enumerated().filter { ($0.offset + 10) % 5 == 0 }
        .map { "sip:\($0.element)@biloxi.example.com" }.sorted())
    let rest = table.removeExpired(at: .seconds(104))
    #expect(rest.count == 32)
    #expect(rest.map(\.aor) == rest.map(\.aor).sorted())
    #expect(table.count == 10)
    #expect(table.expiryEntries == 10)
    #expect(table.removeExpired(at: .seconds(499)).isEmpty)
    #expect(table.nextExpiry == .seconds(500))
    #expect(table.removeExpired(at: .seconds(500)).count == 10)
    #expect(table.isEmpty && table.nextExpiry == nil)
  }

  @Test func canonicalAddressesOfRecordIgnoreParametersAndCase() throws {
    #expect(
      canonicalAOR(try SIPURI("sip:Bob@BILOXI.example.com;transport=tcp"))
        == "sip:Bob@biloxi.example.com")
    #expect(
      canonicalAOR(try SIPURI("sips:bob@biloxi.example.com:5061"))
        == "sips:bob@biloxi.example.com:5061")
    // No user, a non-ASCII user (unescaped), an IPv6 host with a port.
    #expect(canonicalAOR(try SIPURI("SIP:Biloxi.Example.COM")) == "sip:biloxi.example.com")
    #expect(canonicalAOR(try SIPURI("sip:J%C3%BCrgen@example.com")) == "sip:Jürgen@example.com")
    #expect(canonicalAOR(try SIPURI("sip:[2001:db8::1]:5070")) == "sip:[2001:db8::1]:5070")
  }
}

/// A REGISTER finds the binding its contact replaces by comparing URIs part by part; that must
/// say what comparing their identity strings says, for every pair of a set of near variants.
struct BindingIdentityTests {
  static let uris = [
    "sip:bob@192.0.2.4", "sip:bob@192.0.2.4:5060", "sip:bob@192.0.2.4:5070", "sip:Bob@192.0.2.4",
    "sip:bob@BILOXI.example.com", "sip:bob@biloxi.example.com", "sips:bob@biloxi.example.com",
    "SIPS:bob@biloxi.example.com", "sip:biloxi.example.com", "sip:bob@biloxi.example.com:5060",
    "sip:bob@biloxi.example.com;transport=tcp", "sip:bob@biloxi.example.com;transport=TCP",
    "sip:bob@biloxi.example.com;transport=udp", "sip:bob@biloxi.example.com;transport",
    "sip:bob@biloxi.example.com;maddr=239.0.0.1", "sip:bob@biloxi.example.com;MADDR=239.0.0.1",
    "sip:bob@biloxi.example.com;maddr=239.0.0.1;transport=tcp",
    "sip:bob@biloxi.example.com;transport=tcp;maddr=239.0.0.1", "sip:bob@biloxi.example.com;lr",
    "sip:bob@[2001:db8::10]", "sip:bob@[2001:DB8::10]", "sip:bob:secret@biloxi.example.com",
  ]

  @Test func partByPartAgreesWithIdentityStrings() throws {
    let parsed = try Self.uris.map { try SIPURI($0) }
    var same = 0
    for left in parsed {
      for right in parsed {
        let expected = contactIdentity(left) == contactIdentity(right)
        #expect(sameBinding(left, right) == expected, "\(left) \(right)")
        if expected { same += 1 }
      }
    }
    // Beyond each URI with itself, some pairs are the same binding (case, order of parameters).
    #expect(same > parsed.count)
  }
}
