import SIPCore
import Testing

struct URITests {
  @Test(arguments: [
    ("sip:alice@atlanta.com", "sip", "alice", "atlanta.com", nil as Int?),
    ("SIPS:alice:secretword@atlanta.com;transport=tcp", "sips", "alice", "atlanta.com", nil),
    (
      "sip:+1-212-555-1212:1234@gateway.com;user=phone", "sip", "+1-212-555-1212", "gateway.com",
      nil
    ),
    ("sip:alice@192.0.2.4:5070", "sip", "alice", "192.0.2.4", 5070),
    ("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", "sip", nil, "atlanta.com", nil),
    ("sip:alice;day=tuesday@atlanta.com", "sip", "alice;day=tuesday", "atlanta.com", nil),
    ("sip:[2001:db8::10]:5060", "sip", nil, "[2001:db8::10]", 5060),
    (
      "sip:sips%3Auser%40example.com@example.net", "sip", "sips:user@example.com", "example.net",
      nil
    ),
  ])
  func sipURIsParse(text: String, scheme: String, user: String?, host: String, port: Int?) throws {
    let uri = try SIPURI(text)
    #expect(uri.scheme == scheme)
    #expect(uri.user == user)
    #expect(uri.host == host)
    #expect(uri.port == port)
    #expect(try SIPURI(uri.description) == uri)
  }

  @Test func escapesAreUndoneExactlyOnce() throws {
    let uri = try SIPURI("sip:user@example.com;n%61me=v%61lue%25%34%31")
    #expect(uri.parameters == [SIPParameter("name", "value%41")])
    #expect(try SIPURI("sip:%00null@example.com").user == "\u{0}null")
  }

  @Test func headersAndPasswordAreKept() throws {
    let uri = try SIPURI("sip:alice:pw@atlanta.com?subject=project%20x&priority=urgent")
    #expect(uri.password == "pw")
    #expect(
      uri.headers == [SIPParameter("subject", "project x"), SIPParameter("priority", "urgent")])
  }

  @Test(arguments: [
    "sip:", "sip:@host", "sip:host:99999", "sip:ho st", "sip:[::1", "tel:", "nocolon",
  ])
  func badURIsAreRejected(text: String) {
    #expect(throws: SyntaxError.self) { try SIPURI(text) }
  }

  @Test func otherSchemesAreKeptWhole() throws {
    let uri = try SIPURI("tel:+1-201-555-0123;phone-context=example.com")
    #expect(uri.user == "+1-201-555-0123")
    #expect(try SIPURI("urn:service:sos").opaque == "service:sos")
  }

  /// Port, password and opaque text are stored compactly (a sentinel, one shared reference);
  /// each still reads back what was set, and equality still sees every one of them.
  @Test func compactPartsReadBackAndCompare() throws {
    var uri = SIPURI(user: "alice", host: "atlanta.com")
    #expect(uri.port == nil && uri.password == nil && uri.opaque == nil)
    uri.port = 0
    #expect(uri.port == 0)
    uri.port = 5061
    #expect(uri.port == 5061 && uri.description == "sip:alice@atlanta.com:5061")
    uri.password = "secret"
    uri.opaque = "x"
    #expect(uri.password == "secret" && uri.opaque == "x")
    uri.opaque = nil
    #expect(uri.password == "secret" && uri.opaque == nil)
    #expect(uri.description == "sip:alice:secret@atlanta.com:5061")
    var plain = SIPURI(user: "alice", host: "atlanta.com", port: 5061)
    #expect(plain != uri)
    plain.password = "secret"
    #expect(plain == uri && plain.hashValue == uri.hashValue)
    plain.password = nil
    uri.password = nil
    #expect(plain == uri)
    uri.port = nil
    #expect(uri.port == nil && uri != plain)
    #expect(try SIPURI("sip:alice:pw@atlanta.com:0").port == 0)
  }
}

struct TypedHeaderTests {
  let message: SIPMessage

  init() throws {
    message = try SIPMessage.parse(
      """
      INVITE sip:bob@biloxi.com SIP/2.0\r
      v: SIP / 2.0 / udp pc33.atlanta.com:5066 ; branch=z9hG4bK776asdhds ;rport;received=192.0.2.9\r
      Via: SIP/2.0/TCP [2001:db8::9];branch=z9hG4bKx;ttl=16;maddr=224.2.0.1, SIP/2.0/SCTP h\r
      Max-Forwards: 0070\r
      To: Bob <sip:bob@biloxi.com>\r
      f: "Alice \\"A\\" Liddell" <sip:alice@atlanta.com>;tag=1928301774\r
      i: a84b4c76e66710@pc33.atlanta.com\r
      CSeq: 314159 INVITE\r
      m: <sip:alice@pc33.atlanta.com>;expires=60;q=0.5, sip:alice@home.example;q=1\r
      Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>\r
      Record-Route: <sip:p3.example.com;lr>\r
      Require: 100rel\r
      Supported: timer, replaces\r
      Allow: INVITE, ACK, OPTIONS\r
      Expires: 7200\r
      Retry-After: 18000 (in a meeting);duration=3600\r
      Date: Sat, 13 Nov 2010 23:29:00 GMT\r
      Warning: 307 isi.edu "Session parameter 'foo' not understood", 301 isi.edu "Incompatible"\r
      Authorization: Digest username="Alice, A", realm="atlanta.com", nonce="84a4cc6f", uri="sip:bob@biloxi.com", response="7587245234b3434cc3412213e5f113a5432"\r
      Alert-Info: <http://www.example.com/sounds/moo.wav>\r
      c: application/sdp\r
      l: 0\r
      \r

      """)
  }

  @Test func viaValues() throws {
    let vias = message.vias
    #expect(vias.count == 3)
    #expect(vias[0].transport == "UDP")
    #expect(vias[0].host == "pc33.atlanta.com")
    #expect(vias[0].port == 5066)
    #expect(vias[0].branch == "z9hG4bK776asdhds")
    #expect(vias[0].rport == .some(nil))
    #expect(vias[0].received == "192.0.2.9")
    #expect(vias[1].host == "[2001:db8::9]")
    #expect(vias[1].ttl == 16)
    #expect(vias[1].maddr == "224.2.0.1")
    #expect(vias[2].transport == "SCTP")
    #expect(message.topVia?.hasMagicCookie == true)
  }

  @Test func addressesAndScalars() throws {
    #expect(message.from?.displayName == "Alice \"A\" Liddell")
    #expect(message.from?.tag == "1928301774")
    #expect(message.to?.uri.user == "bob")
    #expect(message.to?.tag == nil)
    #expect(message.callID == "a84b4c76e66710@pc33.atlanta.com")
    #expect(message.cseq == CSeq(314159, "INVITE"))
    #expect(message.maxForwards == 70)
    #expect(message.contacts.count == 2)
    #expect(message.contacts[0].expires == 60)
    #expect(message.contacts[0].q == 0.5)
    #expect(message.contacts[1].address?.uri.host == "home.example")
    #expect(message.routes.map(\.uri.host) == ["p1.example.com", "p2.example.com"])
    #expect(message.routes.allSatisfy { $0.uri.isLooseRouting })
    #expect(message.recordRoutes.count == 1)
    #expect(message.require == ["100rel"])
    #expect(message.supported == ["timer", "replaces"])
    #expect(message.allow == ["INVITE", "ACK", "OPTIONS"])
    #expect(message.expires == 7200)
    #expect(message.retryAfter?.seconds == 18000)
    #expect(message.retryAfter?.comment == "in a meeting")
    #expect(message.warnings.map(\.code) == [307, 301])
    #expect(message.authorization.first?.parameter("username") == "Alice, A")
    #expect(message.authorization.first?.scheme == "Digest")
    #expect(message.alertInfo.first?.uri == "http://www.example.com/sounds/moo.wav")
    #expect(message.contentType?.matches("application", "sdp") == true)
    #expect(message.contentLength == 0)
    #expect(message.check() == .answer(SuggestedResponse(420, "Bad Extension")))
    #expect(message.check(supportedExtensions: ["100rel"]) == .acceptable)
  }

  @Test func authorizationIsNeverSplitOnCommas() {
    #expect(message.values("Authorization").count == 1)
    #expect(message.values("Warning").count == 2)
    #expect(message.values("m").count == 2)
  }

  @Test func compactAndLongNamesAreTheSameHeader() {
    #expect(message.fields("Content-Type").count == 1)
    #expect(message.fields("VIA").count == 2)
    #expect(message.value("call-id") == message.value("i"))
  }

  @Test func editingHeaders() throws {
    var copy = message
    copy.prepend("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKnew")
    copy.set("Max-Forwards", "69")
    copy.remove("Route")
    #expect(copy.topVia?.host == "proxy.example.com")
    #expect(copy.maxForwards == 69)
    #expect(copy.routes.isEmpty)
    #expect(try SIPMessage.parse(copy.serialized()) == copy)
  }

  /// Copies share their parts until one changes: a change to a copy (start line, a field, the
  /// body) never shows in the message it was copied from, nor in other copies.
  @Test func copiesAreIndependentValues() throws {
    let original = message
    var edited = original
    var other = original
    #expect(edited == original && edited.hashValue == original.hashValue)
    edited.append("Subject", "changed")
    #expect(original.value("subject") == nil && edited.value("subject") == "changed")
    #expect(edited != original && other == original)
    other.body = Array("v=0\r\n".utf8)
    #expect(original.body.isEmpty && edited.body.isEmpty && other.body.count == 5)
    other.startLine = .response(version: "SIP/2.0", status: 486, reason: "Busy Here")
    #expect(other.status == 486 && original.status == nil && original.method == message.method)
    // Equal parts make equal messages however they were made.
    let rebuilt = try SIPMessage.parse(original.serialized())
    #expect(rebuilt == original && rebuilt.hashValue == original.hashValue)
    var same = rebuilt
    same.headers.removeLast()
    #expect(same != rebuilt && rebuilt == original)
  }
}

/// Errors name the place: line, column and header.
@Test(arguments: [
  ("INVITE sip:a@b SIP/2.0\r\nCSeq: x INVITE\r\n\r\n", 2, 7, "CSeq"),
  ("INVITE sip:a@b SIP/2.0\r\nTo: <sip:a@b\r\n\r\n", 2, 13, "To"),
  ("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;;\r\n\r\n", 2, 20, "Via"),
])
func errorsNameLineColumnAndHeader(text: String, line: Int, column: Int, header: String) throws {
  let message = try SIPMessage.parse(text)
  guard case .invalid(let error, let response) = message.check() else {
    Issue.record("expected invalid")
    return
  }
  #expect(error.line == line)
  #expect(error.column == column, "\(error)")
  #expect(error.header == header)
  #expect(response?.status == 400)
}

/// The fast tag readers agree with the full parser on every shape of From/To (§20.10, §20.20,
/// §20.39), and never take a URI parameter or a quoted display name for the header's tag.
struct TagTests {
  @Test(arguments: [
    ("<sip:bob@biloxi.com>;tag=a6c85cf", "a6c85cf" as String?),
    ("Bob <sip:bob@biloxi.com>;tag=a6c85cf", "a6c85cf"),
    ("\"Bob; <the builder>\" <sip:bob@biloxi.com>;tag=1", "1"),
    ("\"Bob;tag=x\" <sip:bob@biloxi.com>", nil),
    ("<sip:bob@biloxi.com;tag=uri-param>", nil),
    ("<sip:bob@biloxi.com;tag=uri-param>;tag=header", "header"),
    ("sip:bob@biloxi.com;tag=addr-spec", "addr-spec"),
    ("sip:bob@biloxi.com ; TAG = spaced", "spaced"),
    ("<sip:bob@biloxi.com>;foo=\"a;tag=b\";tag=real", "real"),
    ("<sip:bob@biloxi.com>;tag", nil),
    ("<sip:bob@biloxi.com>", nil),
    ("sip:bob@biloxi.com", nil),
  ])
  func tagsAgreeWithTheParser(value: String, tag: String?) throws {
    var message = SIPMessage.request(method: "OPTIONS", uri: "sip:bob@biloxi.com")
    message.append("To", value)
    message.append("f", value)
    #expect(message.toTag == tag)
    #expect(message.fromTag == tag)
    #expect(message.to?.tag == tag)
  }

  @Test(arguments: ["<sip:bob@biloxi.com;tag=1", "\"Bob <sip:bob@biloxi.com>;tag=1"])
  func brokenBracketsOrQuotesHaveNoTag(value: String) {
    var message = SIPMessage.request(method: "OPTIONS", uri: "sip:bob@biloxi.com")
    message.append("To", value)
    #expect(message.toTag == nil)
    #expect(message.to == nil)
  }

  @Test func aResponseCopiesTheToAsItCameAndAddsTheTag() throws {
    var request = SIPMessage.request(method: "INVITE", uri: "sip:bob@biloxi.com")
    request.append("Via", "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds")
    request.append("t", "Bob  <sip:bob@biloxi.com;transport=udp>;x=1")
    request.append("From", "<sip:alice@atlanta.com>;tag=1928301774")
    request.append("CSeq", "1 INVITE")
    let ringing = request.response(status: 180, toTag: "a6c85cf")
    #expect(ringing.value("to") == "Bob  <sip:bob@biloxi.com;transport=udp>;x=1;tag=a6c85cf")
    #expect(ringing.toTag == "a6c85cf")
    #expect(ringing.to?.uri.parameters.parameter("transport") == "udp")
    #expect(request.response(status: 100, toTag: "a6c85cf").toTag == nil)
    var tagged = request
    tagged.set("To", "<sip:bob@biloxi.com>;tag=kept")
    #expect(tagged.response(status: 200, toTag: "other").toTag == "kept")
  }
}

/// A user agent reads a 200's Contact texts and its own contact's expiry in one pass; that pass
/// must give what the separate reads give, malformed and oddly split lists included.
struct ContactListingTests {
  /// `ownContact` recognises the agent's contact as it sent it without parsing: it must give
  /// what the full read and the first-own rule give, for the own contact in every position,
  /// with and without `expires` (oddly spelled, too large, zero-padded), next to others on the
  /// same host and port, malformed parts and `*`.
  @Test(arguments: [
    ["Contact: <sip:ua1@10.0.0.2:5060>;expires=3600"],
    ["Contact: <sip:ua1@10.0.0.2:5060>"],
    ["Contact: <sip:ua1@10.0.0.2:5060>;expires=0003600"],
    ["Contact: <sip:ua1@10.0.0.2:5060>;expires=4294967295"],
    ["Contact: <sip:ua1@10.0.0.2:5060>;expires=4294967296"],
    ["Contact: <sip:ua1@10.0.0.2:5060>;expires=99999999999"],
    ["Contact: <sip:ua1@10.0.0.2:5060>;EXPIRES=60"],
    ["Contact: <sip:ua1@10.0.0.2:5060>;expires="],
    ["Contact: <sip:ua1@10.0.0.2:5060>;expires=60;q=0.5"],
    ["Contact: <sip:ua1@10.0.0.2:5060>;q=0.5;expires=60"],
    ["Contact: <sip:ua1@10.0.0.2:5060>;expires=6x0"],
    ["Contact: <sip:ua1@10.0.0.2:5060>x;expires=60"],
    ["Contact: <sip:other@10.0.0.2:5060>;expires=30, <sip:ua1@10.0.0.2:5060>;expires=60"],
    ["Contact: <sip:ua1@10.0.0.2:5060>;expires=60, <sip:other@10.0.0.2:5060>;expires=30"],
    ["Contact: <sip:ua1@10.0.0.3:5060>;expires=30", "Contact: <sip:ua1@10.0.0.2:5060>;expires=60"],
    ["Contact: <sip:ua1@10.0.0.2>;expires=30"],
    ["Contact: <sip:ua1@10.0.0.2:5060>;expires=60, <sip:b@h2;expires=oops>"],
    ["Contact: <sip:b@h2>;expires=oops, <sip:ua1@10.0.0.2:5060>;expires=60"],
    ["Contact: <sip:ua1@10.0.0.2:5060>;expires=60,, <sip:b@h2>"],
    ["Contact: *"],
    ["Contact: \"Ua\" <sip:ua1@10.0.0.2:5060>;expires=60"],
    ["m: <sip:ua1@10.0.0.2:5060>;expires=60"],
    ["X-Other: 1"],
  ])
  func ownContactGivesWhatTheFullReadGives(fields: [String]) throws {
    try expectOneReadGivesWhatTheFullReadGives(
      fields: fields, own: "<sip:ua1@10.0.0.2:5060>", host: "10.0.0.2")
  }

  @Test(arguments: [
    ["Contact: <sip:bob@192.0.2.4>;expires=3600"],
    ["Contact: <sip:a@h1>;expires=60, <sip:b@h2>;q=0.5", "m: sip:c@h3;expires=30"],
    ["Contact: \"Bob, the second\" <sip:b@h2>;expires=60, <sip:a@h1>"],
    ["Contact: *"],
    ["Contact: <sip:a@h1>, <sip:b@h2;expires=oops>"],
    ["Contact: <sip:a@h1>;expires=notanumber"],
    ["Contact: <sip:a@h1>,, <sip:b@h2>"],
    ["Contact: , <sip:a@h1>"],
    ["X-Other: 1"],
  ])
  func oneReadGivesWhatTwoGive(fields: [String]) throws {
    try expectOneReadGivesWhatTheFullReadGives(fields: fields, own: "<sip:a@h1>", host: "h1")
  }

  /// A 200 with `fields`: `ownContact`, with `own` as the agent's contact and every URI on
  /// `host` at 5060 its own, gives `values("contact")` joined, and the first own contact of
  /// `contacts` with its expiry.
  private func expectOneReadGivesWhatTheFullReadGives(
    fields: [String], own: String, host: String
  ) throws {
    let text =
      "SIP/2.0 200 OK\r\nCSeq: 2 REGISTER\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n"
    let message = try SIPMessage.parse(text)
    let isOwn = { (uri: SIPURI) in uri.host == host && (uri.port ?? 5060) == 5060 }
    let ours = message.contacts.first { $0.address.map { isOwn($0.uri) } ?? false }
    let read = message.ownContact(own: Array(own.utf8), isOwn: isOwn)
    #expect(read.listing == message.values("contact").joined(separator: "\n"))
    #expect(read.found == (ours != nil))
    #expect(read.expires == ours?.expires)
  }
}

/// An agent prints its From and To from the parts it holds (`NameAddress.write(displayName:…)`)
/// instead of building name-addresses: the text must be what building them prints.
struct AddressPrintingTests {
  @Test(arguments: [
    "sip:alice@atlanta.com", "sips:bob:pw@biloxi.com:5061;transport=tcp;lr",
    "sip:carol@chicago.com;maddr=10.0.0.1?subject=hi&priority=urgent",
    "sip:[2001:db8::10]:5060;user=ip?x=1", "tel:+1-212-555-1212;phone-context=example.com",
    "mailto:dave@example.com", "sip:a%20b@example.com;na%3Bme=v",
  ])
  func partsPrintWhatABuiltAddressPrints(text: String) throws {
    let uri = try SIPURI(text)
    for displayName in [nil, "Alice", "Say \"hi\" \\ bye"] as [String?] {
      for tag in [nil, "1928301774"] as [String?] {
        for (parameters, headers) in [(true, true), (false, true), (false, false), (true, false)] {
          var stripped = uri
          if !parameters { stripped.parameters = [] }
          if !headers { stripped.headers = [] }
          let built = NameAddress(
            displayName: displayName, uri: stripped,
            parameters: tag.map { [SIPParameter("tag", $0)] } ?? [])
          var printed: [UInt8] = []
          NameAddress.write(
            displayName: displayName, uri: uri, uriParameters: parameters, uriHeaders: headers,
            tag: tag, to: &printed)
          #expect(String(decoding: printed, as: UTF8.self) == built.description)
        }
      }
    }
  }
}

/// `hasCallID` (an agent's test of every response) answers what comparing `callID` would.
@Test(arguments: [
  "Call-ID: a84b4c76e66710@pc33.atlanta.com", "i: a84b4c76e66710", "Call-ID: x", "",
])
func hasCallIDIsTheCallIDCompared(field: String) throws {
  let message = try SIPMessage.parse(
    "SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\n" + (field.isEmpty ? "" : field + "\r\n") + "\r\n")
  for candidate in [
    "a84b4c76e66710@pc33.atlanta.com", "a84b4c76e66710", "A84B4C76E66710", "x", "", "x ",
    "a84b4c76e66710@pc33.atlanta.co", "a84b4c76e66710@pc33.atlanta.comm",
  ] {
    #expect(message.hasCallID(candidate) == (message.callID == candidate), "\(candidate)")
  }
}
