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
    step(&state)
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
    step(&state)
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

/// `Syntax.token` (literals for the common Via, parameter and start-line words) gives the same
/// string as decoding the bytes, for the common words, every one-byte change of each, and other
/// lengths.
@Test func commonTokensAreTheSameStrings() {
  let common = [
    "SIP", "2.0", "UDP", "TCP", "TLS", "tag", "ttl", "branch", "rport", "received", "maddr", "lr",
    "user", "expires", "SIP/2.0", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "OK",
    "Ringing", "Trying", "sip", "sips",
  ]
  var words =
    common + [
      "udp", "Tag", "branches", "rpor", "receivee", "x", "", "transport", "2.1", "lrr", "l",
      "maddR", "expirez", "ttl\u{e9}", "SIP/2.00", "Not Found",
    ]
  for word in common {
    let bytes = Array(word.utf8)
    for index in bytes.indices {
      for change: UInt8 in [1, 0x20, 0x80] {
        var changed = bytes
        changed[index] ^= change
        words.append(String(decoding: changed, as: UTF8.self))
      }
    }
  }
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

/// `Via.scan` reads the usual compact Via in one pass and everything else by the full grammar:
/// over values built from fragments (whitespace around separators, lower case, IPv6, ports out
/// of range, quoted and bracketed values, empty names, commas, junk), it gives the full
/// grammar's Via, stops at the same byte, and throws the same error.
@Test func compactViaScanMatchesTheFullGrammar() {
  let heads = [
    "SIP/2.0/UDP ", "SIP/2.0/udp ", "sip/2.0/Tcp  ", "SIP / 2.0/UDP ", "SIP/2.0 /TLS ",
    "SIP/2.0/UDP\t", "SIP/2.0/UDP", "SIP/2.0/X-Y ", "SIP/3/UDP ", "/2.0/UDP ", "SIP/2.0/ ",
  ]
  let hosts = [
    "10.0.0.1", "host.example.com", "a_b-c", "[2001:db8::1]", "", "h", "10.0.0.1 ", "[::1",
  ]
  let fragments = [
    ":5060", ":0", ":65535", ":65536", ":099999", ":", ": 5060", " :5060", ";branch=z9hG4bK74bf9",
    ";rport", ";rport=5061", ";received=192.0.2.1", ";maddr=[::1]", ";x=\"a b\"", ";", ";=x",
    ";y=", " ;lr", "; ttl = 1", ",", ", SIP/2.0/UDP h2", " ", "junk", "%", ";BRANCH=Z9hG4bK",
  ]
  var state: UInt64 = 23
  var compact = 0
  var failed = 0
  for _ in 0..<5_000 {
    step(&state)
    var bits = state >> 8
    var value = heads[Int(bits % UInt64(heads.count))]
    bits /= UInt64(heads.count)
    value += hosts[Int(bits % UInt64(hosts.count))]
    bits /= UInt64(hosts.count)
    for _ in 0..<Int(bits % 5) {
      bits /= 5
      value += fragments[Int(bits % UInt64(fragments.count))]
    }
    let bytes = ArraySlice(Array(value.utf8))
    var general = ValueScanner(bytes)
    let expected = Result { () throws(SyntaxError) in try Via.scanGeneral(&general) }
    var scanner = ValueScanner(bytes)
    let actual = Result { () throws(SyntaxError) in try Via.scan(&scanner) }
    #expect(actual == expected, "Via: \(value)")
    if case .success = expected {
      #expect(scanner.index == general.index, "Via: \(value)")
    } else {
      failed += 1
    }
    if Via.scanCompact(bytes) != nil { compact += 1 }
  }
  // Every path is exercised: the compact scan, the full grammar's successes and its errors.
  #expect(compact > 500 && failed > 500 && compact + failed < 4_500)
}

/// `SIPURI.parse` reads the usual `sip:user@host:port;params` in one pass and everything else by
/// the full grammar: over URIs built from parts and junk (escapes, passwords, IPv6, headers,
/// upper-case schemes, bad ports, empty parts, several `@`, delimiters, non-ASCII), it gives
/// exactly what the full grammar gives, errors included.
@Test func compactURIParseMatchesTheFullGrammar() {
  // Each part is usually well formed (first list) and sometimes not (second).
  let schemes = (["sip:", "sips:"], ["SIP:", "tel:", "sip", "sipx:", "s:", "sip:sip:"])
  let users = (
    ["", "alice@", "bob.smith@", "a;b=c@", "!~*'()&=+$,;/_-@"],
    ["%41@", "al:pw@", "@", "a@b@", "é@", "a?b@"]
  )
  let hosts = (
    ["10.0.0.1", "example.com", "h", "a_b-c.d"], ["[2001:db8::1]", "", "ex ample", "[::1"]
  )
  let ports = (["", ":5060", ":0", ":65535", ":05060"], [":65536", ":099999", ":", ":50x"])
  let parameters = (
    [";lr", ";transport=udp", ";x=", ";u=:/&+$", ";maddr=[::1]"],
    [";=y", ";", ";a=b=c", ";p=%41", ";é"]
  )
  let tails = ([""], ["?subject=hi", "?a=b&c=d", " ", "<", "@x", "?", "#"])
  var state: UInt64 = 5
  var compact = 0
  var failed = 0
  for _ in 0..<6_000 {
    step(&state)
    var bits = state >> 8
    func pick(_ lists: ([String], [String])) -> String {
      let list = bits % 8 == 0 ? lists.1 : lists.0
      bits /= 8
      defer { bits /= UInt64(list.count) }
      return list[Int(bits % UInt64(list.count))]
    }
    var text = pick(schemes) + pick(users) + pick(hosts) + pick(ports)
    for _ in 0..<Int(bits % 3) { text += pick(parameters) }
    text += pick(tails)
    let bytes = ArraySlice(Array(text.utf8))
    let expected = Result { () throws(SyntaxError) in try SIPURI.parseGeneral(bytes) }
    let actual = Result { () throws(SyntaxError) in try SIPURI.parse(bytes) }
    #expect(actual == expected, "URI: \(text)")
    if SIPURI.parseCompact(bytes) != nil { compact += 1 }
    if case .failure = expected { failed += 1 }
  }
  // Every path is exercised: the compact read, the full grammar's successes and its errors.
  #expect(compact > 500 && failed > 500 && compact + failed < 5_500, "\(compact) \(failed)")
}

/// `Duration.wholeMicroseconds` (a shift and a 64-bit division for durations up to about two
/// years) equals the components formula it replaced, at the edges and over random durations,
/// negative ones included; a duration with no 64-bit microsecond count clamps instead of
/// trapping.
@Test func wholeMicrosecondsMatchesTheComponents() {
  func reference(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    let exact = Int128(seconds) * 1_000_000 + Int128(attoseconds / 1_000_000_000_000)
    return Int64(clamping: exact)
  }
  var durations: [Duration] = [
    .zero, .nanoseconds(999), .microseconds(1), .milliseconds(500), .seconds(4), .seconds(32),
    .seconds(3_600), .seconds(63_000_000), .seconds(80_000_000), .seconds(1_000_000_000_000),
    .microseconds(-1), .nanoseconds(-1_500), .seconds(-32), .seconds(-1_000_000_000_000),
    Duration(secondsComponent: 0, attosecondsComponent: 999_999_999_999),
    Duration(secondsComponent: 0, attosecondsComponent: 1_000_000_000_000),
    Duration(secondsComponent: 75_557_863, attosecondsComponent: 725_914_323_419_135),
    Duration(secondsComponent: 75_557_863, attosecondsComponent: 725_914_323_419_136),
  ]
  var state: UInt64 = 99
  for _ in 0..<10_000 {
    step(&state)
    let seconds = Int64(bitPattern: state) >> Int64(state % 60)
    let attoseconds = Int64(state >> 4 % 1_000_000_000_000_000_000)
    durations.append(Duration(secondsComponent: seconds, attosecondsComponent: attoseconds))
  }
  for duration in durations {
    #expect(duration.wholeMicroseconds == reference(duration), "\(duration)")
  }
}

/// `lowercasedIfNeeded` is `lowercased()`, whether or not the string needed it.
@Test func lowercasedIfNeededIsLowercased() {
  for text in [
    "", "biloxi.example.com", "Biloxi.Example.COM", "10.0.0.1", "sips", "SIPS", "tcp", "TCP",
    "\u{c9}cole.example", "\u{e9}cole", "stra\u{df}e", "[2001:DB8::1]",
  ] {
    #expect(text.lowercasedIfNeeded == text.lowercased(), "\(text)")
  }
}

/// Header parameters read in one pass when they are the usual `;name[=token]…` and by the full
/// grammar otherwise: over lists built from fragments (whitespace around `;` and `=`, quoted and
/// bracketed values, empty names and values, what may follow a list), the same parameters, end
/// and error as the full grammar.
@Test func compactParametersMatchTheFullGrammar() {
  let fragments = [
    ";tag=8321234356", ";expires=3600", ";lr", ";q=0.7", ";received=10.0.0.1", ";x=", ";=y", ";",
    " ;lr", "; lr", ";a =b", ";a= b", ";n=\"quoted value\"", ";m=[2001:db8::1]", ";TAG=Ab",
    ",", ">", " ", "junk", ";p=%41", ";e=\u{e9}",
  ]
  var state: UInt64 = 17
  var compact = 0
  var failed = 0
  for _ in 0..<5_000 {
    step(&state)
    var bits = state >> 8
    var text = ""
    for _ in 0..<Int(bits % 5) {
      bits /= 5
      text += fragments[Int(bits % UInt64(fragments.count))]
      bits /= UInt64(fragments.count)
    }
    let bytes = ArraySlice(Array(text.utf8))
    var general = ValueScanner(bytes)
    let expected = Result { () throws(SyntaxError) in try general.parametersGeneral() }
    var scanner = ValueScanner(bytes)
    let actual = Result { () throws(SyntaxError) in try scanner.parameters() }
    #expect(actual == expected, "parameters: \(text)")
    if case .success = expected {
      #expect(scanner.index == general.index, "parameters: \(text)")
    } else {
      failed += 1
    }
    if ValueScanner(bytes).compactParameters() != nil { compact += 1 }
  }
  #expect(compact > 500 && failed > 200 && compact + failed < 4_800, "\(compact) \(failed)")
}

/// An rtpmap value is read in one pass when it has the usual shape and by the full rules
/// otherwise: over values built from fragments (runs of spaces and slashes, empty parts, signs,
/// long numbers, channels, junk), the one-pass reader gives the full rules' result whenever it
/// gives one, and `RTPMap(_:)` always does.
@Test func compactRTPMapMatchesTheFullRules() {
  let fragments = [
    "0", "97", " ", "  ", "PCMU", "iLBC", "/", "//", "8000", "90000", "2", "+5", "-1",
    "12345678901234567890", "x", "\u{e9}", "/8000/2",
  ]
  var state: UInt64 = 29
  var compact = 0
  var parsed = 0
  for _ in 0..<6_000 {
    step(&state)
    var bits = state >> 8
    var text = ["0 PCMU/8000", "97 iLBC/8000", ""][Int(bits % 3)]
    bits /= 3
    for _ in 0..<Int(bits % 4) {
      bits /= 4
      text += fragments[Int(bits % UInt64(fragments.count))]
      bits /= UInt64(fragments.count)
    }
    let general = RTPMap(general: text)
    if let fast = RTPMap(compact: text) {
      compact += 1
      #expect(fast == general, "rtpmap: \(text)")
    }
    #expect(RTPMap(text) == general, "rtpmap: \(text)")
    if general != nil { parsed += 1 }
  }
  #expect(compact > 500 && parsed > compact, "\(compact) \(parsed)")
}

/// Escaping a string over its bytes (appended whole when nothing needs escaping) gives what
/// escaping its UTF-8 sequence byte by byte gives, for every table a URI uses.
@Test func escapingAStringMatchesEscapingItsBytes() {
  let tables = [Syntax.userTable, Syntax.passwordTable, Syntax.paramTable, Syntax.headerValueTable]
  for text in [
    "", "alice", "al ice", "a%b", "caf\u{e9}", "x;y=z?w", "[2001:db8::1]", "user@host", "\u{7f}",
    "semi;colon", "tab\there",
  ] {
    for table in tables {
      var whole: [UInt8] = [0x41]
      Syntax.appendEscaped(text, allowed: table, to: &whole)
      var bytes: [UInt8] = [0x41]
      Syntax.appendEscaped(Array(text.utf8), allowed: table, to: &bytes)
      #expect(whole == bytes, "\(text)")
    }
  }
}

/// The tag of a From or To is found in one pass when the value has no quote and no whitespace
/// among its parameters, and by the full rules otherwise: over values built from fragments
/// (display names quoted or not, addr-specs, whitespace around separators, quoted and bracketed
/// values, upper-case names, broken brackets), the one-pass answer, when it gives one, is the
/// full rules' answer.
@Test func compactTagMatchesTheFullRules() {
  let heads = [
    "<sip:alice@example.com>", "\"Alice\" <sip:a@b>", "Alice <sip:a@b>", "sip:a@b", "<sip:a@b",
    "\"A;tag=x\" <sip:a@b>", "<sip:a@b;tag=uri>", "", "\"unterminated <sip:a@b>",
  ]
  let parameters = [
    ";tag=8321234356", ";TAG=Ab", ";tag", ";tag=", ";x=1", ";lr", " ;tag=1", "; tag=1", ";tag =1",
    ";tag= 1", ";tag=\"q\"", ";m=[::1]", ";", ",", ">", " ", "junk", ";y=\"a;tag=b\"",
  ]
  var state: UInt64 = 41
  var compact = 0
  var tagged = 0
  for _ in 0..<6_000 {
    step(&state)
    var bits = state >> 8
    var text = heads[Int(bits % UInt64(heads.count))]
    bits /= UInt64(heads.count)
    for _ in 0..<Int(bits % 4) {
      bits /= 4
      text += parameters[Int(bits % UInt64(parameters.count))]
      bits /= UInt64(parameters.count)
    }
    let bytes = ArraySlice(Array(text.utf8))
    let general = NameAddress.tagGeneral(in: bytes)
    if let fast = NameAddress.tagCompact(in: bytes) {
      compact += 1
      #expect(fast == general, "tag of: \(text)")
    }
    #expect(NameAddress.tag(in: bytes) == general, "tag of: \(text)")
    if general != nil { tagged += 1 }
  }
  #expect(compact > 2_000 && tagged > 1_000, "\(compact) \(tagged)")
}

/// One step of the linear congruential generator (Knuth's MMIX constants) the generative tests
/// of this file draw their values from: the same seed builds the same inputs on every run.
func step(_ state: inout UInt64) {
  state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
}
