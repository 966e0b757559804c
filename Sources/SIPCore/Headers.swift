/// `[display-name] <URI> *(;param)` or `URI *(;param)` (§20.10, §20.20, §20.39, §25 name-addr /
/// addr-spec): From, To, Contact, Route, Record-Route, Reply-To.
public struct NameAddress: Sendable, Hashable, CustomStringConvertible, HeaderValueWriter {
  /// The display name, unquoted and unescaped.
  public var displayName: String?
  public var uri: SIPURI
  /// Header parameters after the address (`tag`, `expires`, `q`, …), not URI parameters.
  public var parameters: [SIPParameter]

  public init(displayName: String? = nil, uri: SIPURI, parameters: [SIPParameter] = []) {
    self.displayName = displayName
    self.uri = uri
    self.parameters = parameters
  }

  /// The `tag` parameter (§19.3).
  public var tag: String? {
    get { parameters.parameter("tag") ?? nil }
    set {
      parameters.removeAll { $0.name.lowercased() == "tag" }
      if let newValue { parameters.append(SIPParameter("tag", newValue)) }
    }
  }

  /// Canonical text, always in name-addr form.
  public var description: String {
    var text: [UInt8] = []
    text.reserveCapacity(96)
    write(to: &text)
    return Syntax.string(text)
  }

  /// Appends the canonical text (name-addr form) to `out`: every request and response carries a
  /// From and a To, printed straight into their field's bytes.
  public func write(to text: inout [UInt8]) {
    Self.write(displayName: displayName, uri: uri, to: &text)
    Syntax.appendHeaderParameters(parameters, to: &text)
  }

  /// What a name-address of `displayName`, `uri` (its parameters and headers left out when
  /// asked) and a `tag` parameter prints, without building one: an agent's From and To are its
  /// address-of-record, and building the name-address copied the URI for every request.
  package static func write(
    displayName: String?, uri: SIPURI, uriParameters: Bool = true, uriHeaders: Bool = true,
    tag: String? = nil, to text: inout [UInt8]
  ) {
    if let displayName {
      text.append(Syntax.quote)
      for byte in displayName.utf8 {
        if byte == Syntax.backslash || byte == Syntax.quote { text.append(Syntax.backslash) }
        text.append(byte)
      }
      text.append(Syntax.quote)
      text.append(Syntax.space)
    }
    text.append(Syntax.less)
    uri.write(to: &text, parameters: uriParameters, headers: uriHeaders)
    text.append(Syntax.greater)
    if let tag {
      Syntax.append(";tag=", to: &text)
      Syntax.append(tag, to: &text)
    }
  }

  public init(_ text: String) throws(SyntaxError) {
    self = try parseWhole(ArraySlice(text.utf8), "the address") { scanner throws(SyntaxError) in
      try NameAddress.scan(&scanner)
    }
  }

  static func scan(_ scanner: inout ValueScanner) throws(SyntaxError) -> NameAddress {
    var displayName: String?
    let start = scanner.index
    if scanner.peek == Syntax.quote {
      displayName = try scanner.quotedString()
      scanner.skipWhitespace()
      guard scanner.peek == Syntax.less else {
        throw scanner.fail("expected < after the display name")
      }
    } else {
      // Either "token *(LWS token) <" or an addr-spec.
      var probe = scanner
      var words: [String] = []
      while let byte = probe.peek, Syntax.isToken(byte) {
        words.append(Syntax.string(try probe.token()))
        probe.skipWhitespace()
      }
      if probe.peek == Syntax.less {
        displayName = words.isEmpty ? nil : words.joined(separator: " ")
        scanner = probe
      } else if !words.isEmpty, let byte = probe.peek, byte != Syntax.colon,
        !scanner.bytes[scanner.index..<scanner.bytes.endIndex].contains(Syntax.colon)
          || scanner.bytes[scanner.index..<scanner.bytes.endIndex].contains(Syntax.less)
      {
        throw probe.fail("a display name with characters that need quotes")
      }
    }
    if scanner.take(Syntax.less) {
      let uriStart = scanner.index
      let uriBytes = scanner.until { $0 == Syntax.greater }
      guard scanner.peek == Syntax.greater else { throw scanner.fail("a < without its >") }
      let uri: SIPURI
      do {
        uri = try SIPURI.parse(uriBytes)
      } catch {
        throw SyntaxError(error.reason, offset: uriStart - scanner.bytes.startIndex + error.offset)
      }
      scanner.index += 1
      let parameters = try scanner.parameters()
      return NameAddress(displayName: displayName, uri: consume uri, parameters: parameters)
    }
    _ = start
    // addr-spec: the URI ends at the first ";" (what follows are header parameters), and must
    // not hold ",", "?" or ";" of its own (§20.10: such a URI must be in <>).
    let uriStart = scanner.index
    let uriBytes = scanner.until {
      $0 == Syntax.semicolon || Syntax.isWhitespace($0) || $0 == Syntax.comma
    }
    if uriBytes.contains(Syntax.question) {
      throw SyntaxError(
        "a URI with headers must be enclosed in <>", offset: uriStart - scanner.bytes.startIndex)
    }
    let uri: SIPURI
    do {
      uri = try SIPURI.parse(uriBytes)
    } catch {
      throw SyntaxError(error.reason, offset: uriStart - scanner.bytes.startIndex + error.offset)
    }
    let parameters = try scanner.parameters()
    return NameAddress(displayName: nil, uri: consume uri, parameters: parameters)
  }
}

/// One Via value (§20.42): `SIP/2.0/UDP host[:port];branch=…`.
public struct Via: Sendable, Hashable, CustomStringConvertible, HeaderValueWriter {
  public var protocolName: String
  public var protocolVersion: String
  /// Upper case: `UDP`, `TCP`, `TLS`, `SCTP`, or any other token.
  public var transport: String
  /// sent-by host (a name, IPv4, or a bracketed IPv6 reference) and port.
  public var host: String
  public var port: Int?
  public var parameters: [SIPParameter]

  public init(
    transport: String, host: String, port: Int? = nil, parameters: [SIPParameter] = []
  ) {
    protocolName = "SIP"
    protocolVersion = "2.0"
    self.transport = transport
    self.host = host
    self.port = port
    self.parameters = parameters
  }

  /// Every part as scanned (the public initializer takes `SIP/2.0` for granted).
  init(
    protocolName: String, protocolVersion: String, transport: String, host: String, port: Int?,
    parameters: [SIPParameter]
  ) {
    self.protocolName = protocolName
    self.protocolVersion = protocolVersion
    self.transport = transport
    self.host = host
    self.port = port
    self.parameters = parameters
  }

  public var branch: String? { parameters.parameter("branch") ?? nil }
  public var received: String? { parameters.parameter("received") ?? nil }
  /// RFC 3581: `.some(nil)` when `rport` is present without a value (a request asking for it).
  public var rport: String?? { parameters.parameter("rport") }
  public var maddr: String? { parameters.parameter("maddr") ?? nil }
  public var ttl: Int? { (parameters.parameter("ttl") ?? nil).flatMap { Int($0) } }
  /// Whether the branch carries the RFC 3261 magic cookie (§8.1.1.7).
  public var hasMagicCookie: Bool { branch.map(Self.hasMagicCookie) ?? false }

  /// Whether `branch` starts with RFC 3261's magic cookie `z9hG4bK` (§8.1.1.7): for a caller
  /// that has the branch in hand already.
  ///
  /// Its bytes first: `hasPrefix` compares characters (258 instructions a time, twice per request
  /// a server receives). The same answer: the cookie is ASCII, so a string beginning with it
  /// begins with its bytes, and when an ASCII byte (or nothing) follows them they end a character;
  /// a byte beyond ASCII after them (a combining mark could join the `K`) goes to `hasPrefix`.
  public static func hasMagicCookie(_ branch: String) -> Bool {
    let answer = branch.withUTF8Bytes { bytes -> Bool? in
      let cookie: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
        0x7A, 0x39, 0x68, 0x47, 0x34, 0x62, 0x4B
      )
      guard bytes.count >= 7, bytes[0] == cookie.0, bytes[1] == cookie.1, bytes[2] == cookie.2,
        bytes[3] == cookie.3, bytes[4] == cookie.4, bytes[5] == cookie.5, bytes[6] == cookie.6
      else { return false }
      return bytes.count == 7 || bytes[7] < 0x80 ? true : nil
    }
    return answer ?? branch.hasPrefix("z9hG4bK")
  }

  public var description: String {
    var text: [UInt8] = []
    text.reserveCapacity(96)
    write(to: &text)
    return Syntax.string(text)
  }

  /// Appends the canonical text to `out`: each request sent gets a Via, and each request
  /// received over UDP has its top Via rewritten (`received`, `rport`), printed straight into
  /// the field's bytes.
  public func write(to text: inout [UInt8]) {
    Syntax.append(protocolName, to: &text)
    text.append(Syntax.slash)
    Syntax.append(protocolVersion, to: &text)
    text.append(Syntax.slash)
    Syntax.append(transport, to: &text)
    text.append(Syntax.space)
    Syntax.appendHostPort(host, port, to: &text)
    Syntax.appendHeaderParameters(parameters, to: &text)
  }

  /// Prints the Via a transport puts on a request it sends (§18.1.1: `SIP/2.0/transport
  /// host[:port];branch=…[;rport]`) from its parts, the bytes ``write(to:)`` prints for
  /// `Via(transport:host:port:parameters:)` with `branch` and, when `requestRport`, an empty
  /// `rport` (RFC 3581): every request sent got a `Via` built only to be printed.
  public static func write(
    transport: String, host: String, port: Int?, branch: String, requestRport: Bool,
    to text: inout [UInt8]
  ) {
    Syntax.append("SIP/2.0/", to: &text)
    Syntax.append(transport, to: &text)
    text.append(Syntax.space)
    Syntax.appendHostPort(host, port, to: &text)
    Syntax.append(";branch=", to: &text)
    Syntax.append(branch, to: &text)
    if requestRport { Syntax.append(";rport", to: &text) }
  }

  static func scan(_ scanner: inout ValueScanner) throws(SyntaxError) -> Via {
    if let (via, end) = scanCompact(scanner.bytes[scanner.index...]) {
      scanner.index = end
      return via
    }
    return try scanGeneral(&scanner)
  }

  /// The Via nearly every message carries, `SIP/2.0/UDP host[:port];name[=token]…` with no
  /// whitespace but the one run before the host, read in one pass over the bytes; nil for
  /// anything else (whitespace elsewhere, quoted or bracketed values, IPv6, a bad port), which
  /// ``scanGeneral(_:)`` then reads from the start, with its errors. Both give the same Via and
  /// stop at the same byte (a test holds them to it). The top Via of every message received is
  /// read, and the general scanner's steps (whitespace allowed around every separator) were
  /// most of the cost.
  static func scanCompact(_ bytes: ArraySlice<UInt8>) -> (Via, Int)? {
    bytes.withUnsafeBufferPointer { buffer -> (Via, Int)? in
      let offset = bytes.startIndex
      guard let parts = compactSentBy(buffer) else { return nil }
      // The parameters by the header parameters' own one-pass reader.
      var rest = ValueScanner(bytes)
      rest.index = offset + parts.parameters
      guard let (parameters, end) = rest.compactParameters() else { return nil }
      func text(_ range: Range<Int>) -> ArraySlice<UInt8> {
        bytes[(offset + range.lowerBound)..<(offset + range.upperBound)]
      }
      let transportBytes = text(parts.transport)
      let transport =
        transportBytes.contains(where: { $0 >= 97 && $0 <= 122 })
        ? Syntax.string(transportBytes.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 })
        : Syntax.token(transportBytes)
      return (
        Via(
          protocolName: Syntax.token(text(parts.name)),
          protocolVersion: Syntax.token(text(parts.version)), transport: transport,
          host: Syntax.string(text(parts.host)), port: parts.port, parameters: parameters),
        end
      )
    }
  }

  /// The compact Via up to its parameters, `SIP/2.0/UDP host[:port]` with whitespace only
  /// before the host, as positions in `bytes` (from its start); nil for anything else. The
  /// compact reader and a client's reading of a response's top Via in place
  /// (`SIPMessage.topViaSentBy(host:port:)`) both start here, so they take the same shapes.
  static func compactSentBy(_ bytes: UnsafeBufferPointer<UInt8>) -> (
    name: Range<Int>, version: Range<Int>, transport: Range<Int>, host: Range<Int>, port: Int?,
    parameters: Int
  )? {
    let count = bytes.count
    var index = 0
    func token() -> Range<Int>? {
      let start = index
      while index < count, Syntax.isToken(bytes[index]) { index += 1 }
      return index > start && index < count ? start..<index : nil
    }
    guard let name = token(), bytes[name.upperBound] == Syntax.slash else { return nil }
    index += 1
    guard let version = token(), bytes[version.upperBound] == Syntax.slash else { return nil }
    index += 1
    guard let transport = token(), Syntax.isWhitespace(bytes[transport.upperBound]) else {
      return nil
    }
    while index < count, Syntax.isWhitespace(bytes[index]) { index += 1 }
    let hostStart = index
    while index < count, Syntax.isHostByte(bytes[index]) { index += 1 }
    guard index > hostStart else { return nil }
    let host = hostStart..<index
    var port: Int?
    if index < count, bytes[index] == Syntax.colon {
      index += 1
      guard let value = Syntax.compactPort(bytes, at: &index) else { return nil }
      port = value
    }
    return (name, version, transport, host, port, index)
  }

  /// A via-parm by the full grammar (§25.1): LWS around every separator.
  static func scanGeneral(_ scanner: inout ValueScanner) throws(SyntaxError) -> Via {
    let name = Syntax.token(try scanner.token("the protocol name"))
    try scanner.expect(Syntax.slash, "/ in sent-protocol")
    let version = Syntax.token(try scanner.token("the protocol version"))
    try scanner.expect(Syntax.slash, "/ in sent-protocol")
    let transportBytes = try scanner.token("the transport")
    // Upper case without a detour through an array when it already is (it nearly always is).
    let transport =
      transportBytes.contains(where: { $0 >= 97 && $0 <= 122 })
      ? Syntax.string(transportBytes.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 })
      : Syntax.token(transportBytes)
    scanner.skipWhitespace()
    let hostStart = scanner.index
    var hostBytes: ArraySlice<UInt8>
    if scanner.peek == UInt8(ascii: "[") {
      _ = scanner.until { $0 == UInt8(ascii: "]") }
      guard scanner.peek == UInt8(ascii: "]") else {
        throw scanner.fail("an IPv6 reference without ]")
      }
      scanner.index += 1
      hostBytes = scanner.bytes[hostStart..<scanner.index]
    } else {
      hostBytes = scanner.until { !Syntax.hostTable[Int($0)] }
    }
    guard !hostBytes.isEmpty else { throw scanner.fail("expected the sent-by host") }
    var via = Via(transport: transport, host: Syntax.string(hostBytes))
    via.protocolName = name
    via.protocolVersion = version
    if scanner.take(Syntax.colon) {
      let digits = scanner.until { !Syntax.isDigit($0) }
      guard !digits.isEmpty, digits.count <= 5 else {
        throw scanner.fail("the sent-by port is not a number from 0 to 65535")
      }
      let port = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
      guard port <= 65535 else {
        throw scanner.fail("the sent-by port is not a number from 0 to 65535")
      }
      via.port = port
    }
    via.parameters = try scanner.parameters()
    return via
  }
}

extension NameAddress {
  /// The `tag` header parameter of a From or To value, found without parsing the address: the
  /// parameters start after the `>` of a name-addr (quoted display names skipped) or at the
  /// first `;` of an addr-spec (§20.10), as in ``scan(_:)``. Transactions, dialogs and proxies
  /// ask for tags on every message, and parsing the whole URI to read one was most of their
  /// cost. Nil when there is no tag, or when the brackets or quotes are broken; the URI itself
  /// is not checked (``SIPMessage/from`` and ``SIPMessage/to`` do that).
  static func tag(in value: ArraySlice<UInt8>) -> String? {
    if let compact = tagCompact(in: value) { return compact }
    return tagGeneral(in: value)
  }

  /// ``tag(in:)`` in one pass for a value with no quote and no whitespace among its
  /// parameters (what every element prints); nil to have ``tagGeneral(in:)`` decide, `.some`
  /// with the answer otherwise, the same answer (a test holds them to it). The tags of From
  /// and To are asked for some twenty-five times per call.
  static func tagCompact(in value: ArraySlice<UInt8>) -> String?? {
    value.withUnsafeBufferPointer { bytes -> String?? in
      let count = bytes.count
      var index = 0
      // Where the parameters start: after the `>` of a name-addr, or at an addr-spec's `;`.
      while index < count, bytes[index] != Syntax.less, bytes[index] != Syntax.semicolon {
        guard bytes[index] != Syntax.quote else { return nil }
        index += 1
      }
      if index < count, bytes[index] == Syntax.less {
        while index < count, bytes[index] != Syntax.greater {
          guard bytes[index] != Syntax.quote else { return nil }
          index += 1
        }
        guard index < count else { return .some(nil) }  // a < without its >
        index += 1
      }
      while index < count {
        let byte = bytes[index]
        guard byte == Syntax.semicolon else {
          // Whitespace may come before another `;`: the general reader decides.
          return Syntax.isWhitespace(byte) || byte == Syntax.quote ? nil : .some(nil)
        }
        index += 1
        let nameStart = index
        while index < count, Syntax.isToken(bytes[index]) { index += 1 }
        let nameEnd = index
        if index < count, Syntax.isWhitespace(bytes[index]) { return nil }
        guard nameEnd > nameStart else { return .some(nil) }
        let isTag =
          nameEnd - nameStart == 3 && Syntax.lower(bytes[nameStart]) == UInt8(ascii: "t")
          && Syntax.lower(bytes[nameStart + 1]) == UInt8(ascii: "a")
          && Syntax.lower(bytes[nameStart + 2]) == UInt8(ascii: "g")
        var valueRange: Range<Int>?
        if index < count, bytes[index] == Syntax.equals {
          index += 1
          let valueStart = index
          while index < count, Syntax.isToken(bytes[index]) { index += 1 }
          if index < count {
            let next = bytes[index]
            guard next != Syntax.quote, next != UInt8(ascii: "["), !Syntax.isWhitespace(next)
            else { return nil }
          }
          guard index > valueStart else { return .some(nil) }
          valueRange = valueStart..<index
        }
        if isTag {
          guard let valueRange else { return .some(nil) }
          let base = value.startIndex
          return .some(
            Syntax.string(value[(base + valueRange.lowerBound)..<(base + valueRange.upperBound)]))
        }
      }
      return .some(nil)
    }
  }

  /// ``tag(in:)`` by the full rules: quoted display names, whitespace around separators,
  /// quoted and bracketed parameter values.
  static func tagGeneral(in value: ArraySlice<UInt8>) -> String? {
    let found = HeaderValueSplitter.firstOutsideQuotes(value, from: value.startIndex) { byte, _ in
      byte == Syntax.less || byte == Syntax.semicolon
    }
    guard !found.openQuote else { return nil }
    var index = found.index
    let angle = index < value.endIndex && value[index] == Syntax.less
    if angle {
      guard let close = value[index...].firstIndex(of: Syntax.greater) else { return nil }
      index = close + 1
    }
    var scanner = ValueScanner(value)
    scanner.index = min(index, value.endIndex)
    while scanner.take(Syntax.semicolon) {
      guard let name = try? scanner.token("a parameter name") else { return nil }
      var parameterValue: String?
      if scanner.take(Syntax.equals) {
        guard let scanned = try? scanner.genericValue() else { return nil }
        parameterValue = scanned
      }
      if Syntax.equalsLowercase(name, "tag") { return parameterValue }
    }
    return nil
  }
}

/// CSeq (§20.16): a sequence number below 2^32 and a method.
public struct CSeq: Sendable, Hashable, CustomStringConvertible, HeaderValueWriter {
  public var sequence: UInt32
  public var method: String
  public init(_ sequence: UInt32, _ method: String) {
    self.sequence = sequence
    self.method = method
  }
  public var description: String { "\(sequence) \(method)" }

  /// Appends `sequence method` to `text`: every request built carries one, printed straight
  /// into its field's bytes.
  public func write(to text: inout [UInt8]) {
    Syntax.appendDecimal(Int(sequence), to: &text)
    text.append(Syntax.space)
    Syntax.append(method, to: &text)
  }

  /// `number method` as ``scan(_:)`` reads a whole value (whitespace around and between,
  /// at most ten digits), in one pass over the bytes; nil for anything else, which the scanner
  /// then reads (with its errors). A test holds the two to the same answers.
  static func scanCompact(_ value: ArraySlice<UInt8>) -> CSeq? {
    let parts = value.withUnsafeBufferPointer { bytes -> (UInt32, Int, Int)? in
      let count = bytes.count
      var index = 0
      guard let number = Syntax.compactDecimal(bytes, at: &index) else { return nil }
      let methodStart = index
      while index < count, Syntax.isToken(bytes[index]) { index += 1 }
      let methodEnd = index
      guard methodEnd > methodStart else { return nil }
      while index < count, Syntax.isWhitespace(bytes[index]) { index += 1 }
      guard index == count else { return nil }
      return (number, methodStart, methodEnd)
    }
    guard let (number, methodStart, methodEnd) = parts else { return nil }
    let start = value.startIndex
    return CSeq(number, Syntax.token(value[(start + methodStart)..<(start + methodEnd)]))
  }

  static func scan(_ scanner: inout ValueScanner) throws(SyntaxError) -> CSeq {
    let number = try scanDecimal(&scanner, maximum: UInt64(UInt32.max), "the CSeq number")
    scanner.skipWhitespace()
    // Interned: the methods are a few words read at every layer of every hop.
    let method = Syntax.token(try scanner.token("the CSeq method"))
    return CSeq(UInt32(number), method)
  }
}

/// 1*DIGIT with leading zeros allowed, at most `maximum`.
func scanDecimal(_ scanner: inout ValueScanner, maximum: UInt64, _ what: String)
  throws(SyntaxError) -> UInt64
{
  let start = scanner.offset
  let digits = scanner.until { !Syntax.isDigit($0) }
  guard !digits.isEmpty else { throw SyntaxError("\(what) is not a number", offset: start) }
  var value: UInt64 = 0
  for digit in digits {
    let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
    let (sum, overflow2) = times.addingReportingOverflow(UInt64(digit - 48))
    guard !overflow1, !overflow2, sum <= maximum else {
      throw SyntaxError("\(what) is larger than \(maximum)", offset: start)
    }
    value = sum
  }
  return value
}

/// A Contact value (§20.10): `*` or an address with `expires` and `q`.
public enum ContactValue: Sendable, Hashable {
  case wildcard
  case address(NameAddress)

  public var address: NameAddress? {
    if case .address(let address) = self { return address }
    return nil
  }

  /// The `expires` parameter in seconds, if present and valid.
  public var expires: UInt32? {
    (address?.parameters.parameter("expires") ?? nil).flatMap { UInt32($0) }
  }

  /// The `q` parameter (0 to 1).
  public var q: Double? { (address?.parameters.parameter("q") ?? nil).flatMap { Double($0) } }
}

/// A credential or challenge (§20.7, §20.27, §20.28, §20.44, §22): a scheme and
/// comma-separated `name=value` parameters (values unquoted).
public struct AuthValue: Sendable, Hashable {
  public var scheme: String
  public var parameters: [SIPParameter]

  public init(scheme: String, parameters: [SIPParameter]) {
    self.scheme = scheme
    self.parameters = parameters
  }

  public func parameter(_ name: String) -> String? { parameters.parameter(name) ?? nil }

  static func scan(_ scanner: inout ValueScanner, schemeRequired: Bool = true) throws(SyntaxError)
    -> AuthValue
  {
    var value = AuthValue(scheme: "", parameters: [])
    if schemeRequired {
      value.scheme = Syntax.string(try scanner.token("the authentication scheme"))
      guard let next = scanner.peek, Syntax.isWhitespace(next) else {
        try scanner.expectEnd("the scheme")
        return value
      }
      scanner.skipWhitespace()
    }
    repeat {
      let name = Syntax.string(try scanner.token("an auth-param name"))
      try scanner.expect(Syntax.equals, "= in an auth-param")
      let parameterValue =
        scanner.peek == Syntax.quote
        ? try scanner.quotedString() : Syntax.string(try scanner.token())
      value.parameters.append(SIPParameter(name, parameterValue))
    } while scanner.take(Syntax.comma)
    return value
  }
}

/// `<absoluteURI> *(;param)` of Alert-Info, Call-Info and Error-Info (§20.4, §20.9, §20.18).
public struct InfoValue: Sendable, Hashable {
  public var uri: String
  public var parameters: [SIPParameter]

  static func scan(_ scanner: inout ValueScanner) throws(SyntaxError) -> InfoValue {
    try scanner.expect(Syntax.less, "<")
    let uri = scanner.until { $0 == Syntax.greater }
    guard scanner.peek == Syntax.greater, uri.contains(Syntax.colon) else {
      throw scanner.fail("expected <absolute URI>")
    }
    scanner.index += 1
    return InfoValue(uri: Syntax.string(uri), parameters: try scanner.parameters())
  }
}

/// A media type (§20.15 Content-Type, §20.1 Accept): `type/subtype *(;param)`.
public struct MediaType: Sendable, Hashable, CustomStringConvertible {
  public var type: String
  public var subtype: String
  public var parameters: [SIPParameter]

  public var description: String {
    "\(type)/\(subtype)"
      + parameters.map { ";" + $0.name + ($0.value.map { "=" + $0 } ?? "") }.joined()
  }

  /// Whether this names `type/subtype` (case-insensitive; `*` matches anything).
  public func matches(_ type: String, _ subtype: String) -> Bool {
    (self.type == "*" || self.type.lowercased() == type)
      && (self.subtype == "*" || self.subtype.lowercased() == subtype)
  }

  static func scan(_ scanner: inout ValueScanner) throws(SyntaxError) -> MediaType {
    let type = Syntax.string(try scanner.token("a media type"))
    try scanner.expect(Syntax.slash, "/ in a media type")
    let subtype = Syntax.string(try scanner.token("a media subtype"))
    return MediaType(type: type, subtype: subtype, parameters: try scanner.parameters())
  }
}

/// A Warning value (§20.43): `code agent "text"`.
public struct WarningValue: Sendable, Hashable {
  public var code: Int
  public var agent: String
  public var text: String

  static func scan(_ scanner: inout ValueScanner) throws(SyntaxError) -> WarningValue {
    let digits = scanner.until { !Syntax.isDigit($0) }
    guard digits.count == 3, let code = Int(Syntax.string(digits)) else {
      throw scanner.fail("a warn-code must be three digits")
    }
    scanner.skipWhitespace()
    let agent = scanner.until { Syntax.isWhitespace($0) }
    guard !agent.isEmpty else { throw scanner.fail("expected a warn-agent") }
    scanner.skipWhitespace()
    return WarningValue(code: code, agent: Syntax.string(agent), text: try scanner.quotedString())
  }
}

/// Retry-After (§20.33): seconds, an optional comment, parameters (`duration`).
public struct RetryAfter: Sendable, Hashable {
  public var seconds: UInt32
  public var comment: String?
  public var parameters: [SIPParameter]

  static func scan(_ scanner: inout ValueScanner) throws(SyntaxError) -> RetryAfter {
    let seconds = try scanDecimal(&scanner, maximum: UInt64(UInt32.max), "Retry-After")
    scanner.skipWhitespace()
    var comment: String?
    if scanner.peek == UInt8(ascii: "(") {
      var depth = 0
      let start = scanner.index
      while let byte = scanner.peek {
        scanner.index += 1
        if byte == UInt8(ascii: "(") { depth += 1 }
        if byte == UInt8(ascii: ")") {
          depth -= 1
          if depth == 0 { break }
        }
      }
      guard depth == 0 else { throw scanner.fail("an unterminated comment") }
      comment = Syntax.string(scanner.bytes[(start + 1)..<(scanner.index - 1)])
    }
    return RetryAfter(
      seconds: UInt32(seconds), comment: comment, parameters: try scanner.parameters())
  }
}
