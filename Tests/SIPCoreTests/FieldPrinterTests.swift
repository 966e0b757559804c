import SIPCore
import Testing

/// Fields printed into one shared buffer (`appendFields`, `insertFieldsBeforeLength`) make the
/// message that appending and inserting them one by one makes: the same bytes, the same typed
/// reads, the same headers (Content-Length last, in the middle, or absent).
@Suite struct FieldPrinterTests {
  static let layouts: [[(String, String)]] = [
    [("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1"), ("Content-Length", "0")],
    [("Content-Length", "0"), ("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1")],
    [("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1"), ("l", "0"), ("X-After", "1")],
    [("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1")],
    [],
  ]
  static let printed: [[(String, String)]] = [
    [],
    [("Contact", "<sip:a@10.0.0.1:5060>;expires=3600")],
    [
      ("Contact", "<sip:a@10.0.0.1:5060>;expires=3600"), ("Contact", "<sip:b@h2>;expires=60"),
      ("Date", "Sat, 13 Nov 2010 23:29:00 GMT"), ("Expires", "3600"), ("i", "c1@h"),
    ],
  ]

  private static func base(_ layout: [(String, String)]) -> SIPMessage {
    var message = SIPMessage.request(method: "REGISTER", uri: "sip:registrar.example.com")
    for (name, value) in layout { message.append(name, value) }
    return message
  }

  @Test(arguments: layouts.indices, printed.indices)
  func printedTogetherIsPrintedApart(layout: Int, printed: Int) throws {
    let fields = Self.printed[printed]
    var apart = Self.base(Self.layouts[layout])
    var together = apart
    for (name, value) in fields { apart.append(name, value) }
    together.appendFields(capacity: 16) { printer in
      for (name, value) in fields { printer.field(name, value) }
    }
    try expectSame(together, apart)

    var insertedApart = Self.base(Self.layouts[layout])
    var insertedTogether = insertedApart
    for (name, value) in fields { insertedApart.insertBeforeLength(name, value) }
    insertedTogether.insertFieldsBeforeLength(capacity: 0) { printer in
      for (name, value) in fields { printer.field(name) { $0.append(contentsOf: value.utf8) } }
    }
    try expectSame(insertedTogether, insertedApart)
  }

  private func expectSame(_ message: SIPMessage, _ expected: SIPMessage) throws {
    #expect(message.serialized() == expected.serialized())
    #expect(message.headers.map(\.name) == expected.headers.map(\.name))
    #expect(message.headers.map(\.value) == expected.headers.map(\.value))
    #expect(message == expected)
    #expect(message.values("contact") == expected.values("contact"))
    #expect(message.callID == expected.callID)
    #expect(message.contentLength == expected.contentLength)
    let parsed = try SIPMessage.parse(message.serialized())
    #expect(parsed.serialized() == expected.serialized())
  }
}
