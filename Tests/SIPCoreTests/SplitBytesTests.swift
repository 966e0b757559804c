import Testing

@testable import SIPCore

/// `splitBytes` (the SDP parser's splitter, over contiguous bytes) gives exactly what the
/// standard library's `split` gives, for every input made of separators, letters and a
/// multi-byte character, with and without a split limit and empty pieces.
@Test func splitBytesMatchesTheStandardSplit() {
  let alphabet: [String] = [" ", " ", ":", "a", "b", "é"]
  var inputs = ["", " ", "  ", "a", " a", "a ", " a  b ", "a:b:c", "é é"]
  var state: UInt64 = 7
  for _ in 0..<400 {
    var text = ""
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    var bits = state
    for _ in 0..<Int(bits % 9) {
      bits /= 7
      text += alphabet[Int(bits % UInt64(alphabet.count))]
    }
    inputs.append(text)
  }
  for text in inputs {
    for separator in [" ", ":"] as [Unicode.Scalar] {
      for maxSplits in [0, 1, 2, Int.max] {
        for omitting in [true, false] {
          let expected = text.utf8.split(
            separator: UInt8(ascii: separator), maxSplits: maxSplits,
            omittingEmptySubsequences: omitting
          ).map { String(Substring($0)) }
          let got = splitBytes(text, separator, maxSplits: maxSplits, omittingEmpty: omitting)
            .map(String.init)
          #expect(got == expected, "\(text.debugDescription) \(separator) \(maxSplits) \(omitting)")
        }
      }
    }
  }
}

/// `Syntax.appendDecimal` (ports, Content-Length, CSeq numbers written into a message's bytes)
/// prints what `description` prints, for every digit count and sign, at the ends of `Int`.
@Test func appendDecimalPrintsWhatDescriptionPrints() {
  var values = [0, 1, 9, 10, 11, 99, 100, 5060, 65535, Int.max, Int.min, -1, -10, -65535]
  var power = 1
  while power < Int.max / 10 {
    power *= 10
    values += [power - 1, power, power + 1, -power]
  }
  for value in values {
    var out: [UInt8] = Array("x".utf8)
    Syntax.appendDecimal(value, to: &out)
    #expect(String(decoding: out, as: UTF8.self) == "x\(value)")
  }
}

/// `topVia` scans the first Via value straight from the field; it gives what splitting the
/// field at its first top-level comma and parsing that part whole gives, for values built from
/// fragments that stress the split (quoted commas, angle brackets, spaces, junk, empty parts).
@Test func topViaMatchesParsingTheFirstSplitValue() {
  let fragments = [
    "SIP/2.0/UDP host", "SIP/2.0/TCP 10.0.0.1:5060", ";branch=z9hG4bK1", ";rport", ",", ", ",
    " ", ";x=\"a,b\"", ";y=\"q\\\"\"", "<", ">", ":5060", "junk", ";received=[::1]", "\"",
    "sip/2.0/udp H", "",
  ]
  var state: UInt64 = 11
  var parsed = 0
  for _ in 0..<3_000 {
    var value = ["SIP/2.0/UDP host", ""][Int(state >> 40 & 1)]
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    var bits = state
    for _ in 0..<(1 + Int(bits % 6)) {
      bits /= 7
      value += fragments[Int(bits % UInt64(fragments.count))]
    }
    var message = SIPMessage.request(method: "OPTIONS", uri: "sip:a@b")
    message.headers = [SIPHeaderField(name: "Via", value: value)]
    let bytes = message.headers[0].valueBytes
    let expected: Via? = {
      let first = HeaderValueSplitter.first(bytes)
      guard !first.isEmpty else { return nil }
      return try? parseWhole(first, "Via", Via.scan)
    }()
    #expect(message.topVia == expected, "Via: \(value)")
    if expected != nil { parsed += 1 }
  }
  // Both outcomes are exercised.
  #expect(parsed > 300 && parsed < 2_700)
}

/// A CSeq printed straight into a field's bytes reads as its description and parses back.
@Test func cseqWritesWhatItDescribes() throws {
  for cseq in [CSeq(0, "ACK"), CSeq(1, "INVITE"), CSeq(4_294_967_295, "REGISTER")] {
    let field = SIPHeaderField(name: "CSeq", value: cseq)
    #expect(field.value == cseq.description)
    var message = SIPMessage.request(method: cseq.method, uri: "sip:a@b")
    message.headers = [field]
    #expect(message.cseq == cseq)
  }
}

/// `Syntax.token` (literals for the common Via and parameter words) gives the same string as
/// decoding the bytes, for the common words, their near misses and other lengths.
@Test func commonTokensAreTheSameStrings() {
  let words = [
    "SIP", "2.0", "UDP", "TCP", "TLS", "tag", "ttl", "branch", "rport", "received", "maddr", "lr",
    "user", "expires", "sip", "udp", "Tag", "branches", "rpor", "receivee", "x", "", "transport",
    "SIP/2.0", "2.1", "lrr", "l", "maddR", "expirez", "ttl\u{e9}",
  ]
  for word in words {
    let bytes = ArraySlice(Array(word.utf8))
    #expect(Syntax.token(bytes) == Syntax.string(bytes), "\(word)")
    #expect(Syntax.token(bytes).utf8.elementsEqual(bytes), "\(word)")
  }
}

/// The shared `Content-Length: 0` and `Max-Forwards: 70` fields read like any field built from
/// the same text, and other spellings or values are built as given.
@Test func sharedCommonFieldsReadLikeBuiltOnes() throws {
  for (name, value) in [
    ("Content-Length", "0"), ("Max-Forwards", "70"), ("content-length", "0"),
    ("Max-Forwards", "69"),
  ] {
    let field = SIPHeaderField(name: name, value: value)
    #expect(field.name == name && field.value == value)
    var message = SIPMessage.request(method: "OPTIONS", uri: "sip:a@b")
    message.headers = [field]
    let parsed = try SIPMessage.parse(message.serialized())
    #expect(parsed.headers.first == field)
  }
}
