import SIPCore
import Testing

/// Header fields carry the ``KnownHeader`` they name, worked out once from the name's length
/// and last eight bytes; lookups compare that number. These tests hold the numbers to the
/// byte-by-byte name comparison (`isNamed`) they replace.
struct KnownHeaderTests {
  static let known = KnownHeader.allCases.filter { $0 != .other }

  /// Spellings that look like known names but are not: a byte off, a byte more or less, a
  /// compact letter with no entry, names longer than any known one.
  static let unknownNames = [
    "vib", "xvia", "via2", "Vi", "Fron", "Call_ID", "Call-Id2", "cseqq", "Max-Forward",
    "Max_Forwards", "Yax-Forwards", "Content-Lengtx", "Content-Lenght", "Xontent-Length",
    "proxy-authorizatio", "proxy-authorizationx", "Proxy-Authorisation", "Authorisation",
    "record-routes", "Accept-Contact", "a", "b", "j", "d", "y", "z", "X-Custom",
    "Authentication-Infx", "Session-Expirez", "WWW-Authenticatf", "X-Very-Long-Header-Name",
    "Content-Dispositiom", "Min-Se", "Event-X", "Referred-By", "Request-Disposition",
  ]

  /// Every known header, in three letter cases and its compact form where it has one.
  static var knownSpellings: [(String, KnownHeader)] {
    var spellings: [(String, KnownHeader)] = []
    for header in known {
      let name = header.canonical
      spellings.append((name, header))
      spellings.append((name.uppercased(), header))
      // Every other letter upper case.
      let mixed = String(
        name.enumerated().map {
          $0.offset.isMultiple(of: 2) ? Character($0.element.uppercased()) : $0.element
        })
      spellings.append((mixed, header))
    }
    let compact: [(String, KnownHeader)] = [
      ("i", .callID), ("m", .contact), ("e", .contentEncoding), ("l", .contentLength),
      ("c", .contentType), ("f", .from), ("s", .subject), ("k", .supported), ("t", .to),
      ("v", .via), ("o", .event), ("u", .allowEvents), ("r", .referTo), ("x", .sessionExpires),
    ]
    for (letter, header) in compact {
      spellings.append((letter, header))
      spellings.append((letter.uppercased(), header))
    }
    return spellings
  }

  @Test func everyKnownSpellingIsItsHeader() {
    for (name, header) in Self.knownSpellings {
      #expect(SIPHeaderField(name: name, value: "x").known == header, "\(name)")
      #expect(KnownHeader(canonical: name.lowercased()) == header || name.count == 1, "\(name)")
    }
    for header in Self.known {
      #expect(KnownHeader(canonical: header.canonical) == header)
    }
  }

  @Test func nearMissesAreOther() {
    for name in Self.unknownNames {
      #expect(SIPHeaderField(name: name, value: "x").known == .other, "\(name)")
    }
  }

  /// For every name, known or not, the number agrees with comparing names: a field is header
  /// `k` exactly when `isNamed(k.canonical)` says so.
  @Test func numbersAgreeWithNames() {
    let names = Self.knownSpellings.map(\.0) + Self.unknownNames
    for name in names {
      let field = SIPHeaderField(name: name, value: "x")
      for header in Self.known {
        #expect((field.known == header) == field.isNamed(header.canonical), "\(name) \(header)")
      }
    }
  }

  /// The parser packs the name as it scans it; a parsed field gets the number a built one does,
  /// folded or not.
  @Test func parsedFieldsGetTheSameNumbers() throws {
    var text = "OPTIONS sip:bob@example.com SIP/2.0\r\n"
    let names = Self.knownSpellings.map(\.0) + Self.unknownNames
    for name in names {
      text += "\(name): 0\r\n"
    }
    text += "Folded-Header: one\r\n two\r\nCSEQ :\r\n 1 OPTIONS\r\n\r\n"
    let message = try SIPMessage.parse(text)
    let expected = names.map { SIPHeaderField(name: $0, value: "x").known } + [.other, .cseq]
    #expect(message.headers.map(\.known) == expected)
    #expect(message.headers.last?.value == "1 OPTIONS")
  }

  /// Lookups by name find known headers by number and the others by name, compact forms of
  /// either kind included.
  @Test func lookupsByNameFindBothKinds() throws {
    let message = try SIPMessage.parse(
      "OPTIONS sip:bob@example.com SIP/2.0\r\nv: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
        + "a: *;audio\r\nX-Custom: yes\r\ni: abc@def\r\nCSeq: 1 OPTIONS\r\n\r\n")
    #expect(message.value("Via") == "SIP/2.0/UDP a.example.com;branch=z9hG4bK1")
    #expect(message.value("accept-contact") == "*;audio")
    #expect(message.value("Accept-Contact") == "*;audio")
    #expect(message.value("x-custom") == "yes")
    #expect(message.callID == "abc@def")
    #expect(message.value("Call-ID") == "abc@def")
    #expect(message.value("cseq") == "1 OPTIONS")
    #expect(message.value("x-absent") == nil)
    #expect(message.fields("v").count == 1)
  }
}
