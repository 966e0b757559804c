/// A `name` or `name=value` parameter (§19.1.1 uri-parameter, §7.3.1 generic-param).
public struct SIPParameter: Sendable, Hashable {
  public var name: String
  public var value: String?

  public init(_ name: String, _ value: String? = nil) {
    self.name = name
    self.value = value
  }

  /// Whether the name is `name`, ignoring ASCII case (parameter names are tokens), without
  /// allocating: every Via branch lookup asks.
  public func isNamed(_ name: String) -> Bool { self.name.equalsIgnoringASCIICase(name) }
}

extension Array where Element == SIPParameter {
  /// The value of the parameter `name` (case-insensitive): `.some(nil)` when it has no value.
  public func parameter(_ name: String) -> String?? {
    // Names read in place: `first(where:)` copied each parameter it passed (two strings
    // retained and released), and a Via's `branch` and `rport` are asked for at every hop.
    var index = startIndex
    while index < endIndex {
      if self[index].name.equalsIgnoringASCIICase(name) { return .some(self[index].value) }
      index += 1
    }
    return nil
  }

  /// Whether the parameter `name` is present (with or without a value).
  public func has(_ name: String) -> Bool { parameter(name) != nil }
}

/// Why a URI or header value does not parse, and where (a byte offset into the value).
public struct SyntaxError: Error, Sendable, Hashable {
  public var reason: String
  public var offset: Int
  public init(_ reason: String, offset: Int) {
    self.reason = reason
    self.offset = offset
  }
}

/// A URI of a SIP message (§19.1): `sip:` and `sips:` parsed into parts (user and password
/// unescaped exactly once, §19.1.2), `tel:` (RFC 3966) into its number and parameters; any other
/// scheme is kept as text (`absoluteURI`), so an unknown scheme parses and the element decides
/// (416, §8.2.2.1).
public struct SIPURI: Sendable, Hashable, CustomStringConvertible {
  /// Lower-case scheme: `sip`, `sips`, `tel`, or another.
  public var scheme: String
  /// The user part, unescaped (`sip`/`sips`), or the telephone number (`tel`).
  public var user: String?
  /// A host name, an IPv4 address, or an IPv6 reference with its brackets (`[2001:db8::1]`);
  /// empty for `tel` and other schemes.
  public var host: String
  /// `Int.min` for none (an `Int?` took 16 bytes with its padding).
  private var storedPort: Int
  public var parameters: [SIPParameter]
  /// URI headers (`?name=value&…`), unescaped.
  public var headers: [SIPParameter]
  /// The password and the opaque text, both rare, behind one reference (nil when neither is
  /// set): a URI sits in every agent, binding and parsed message, and the two optional strings
  /// were 32 of its 112 bytes (80 now).
  private var rare: RareParts?

  private indirect enum RareParts: Sendable, Hashable {
    case parts(password: String?, opaque: String?)
  }

  /// The port, or nil when the URI names none (`Int.min` cannot be stored: it reads as none).
  public var port: Int? {
    get { storedPort == .min ? nil : storedPort }
    set { storedPort = newValue ?? .min }
  }

  /// The password of `user:password@host` (deprecated by §19.1.1, still parsed).
  public var password: String? {
    get {
      guard case .parts(let password, _) = rare else { return nil }
      return password
    }
    set { setRare(password: newValue, opaque: opaque) }
  }

  /// The text after the scheme for a scheme this type does not parse.
  public var opaque: String? {
    get {
      guard case .parts(_, let opaque) = rare else { return nil }
      return opaque
    }
    set { setRare(password: password, opaque: newValue) }
  }

  private mutating func setRare(password: String?, opaque: String?) {
    rare = password == nil && opaque == nil ? nil : .parts(password: password, opaque: opaque)
  }

  public init(
    scheme: String = "sip", user: String? = nil, password: String? = nil, host: String,
    port: Int? = nil, parameters: [SIPParameter] = [], headers: [SIPParameter] = []
  ) {
    self.scheme = scheme
    self.user = user
    self.host = host
    storedPort = port ?? .min
    self.parameters = parameters
    self.headers = headers
    rare = password == nil ? nil : .parts(password: password, opaque: nil)
  }

  public var isSIP: Bool { scheme == "sip" || scheme == "sips" }

  /// Parses URI text.
  public init(_ text: String) throws(SyntaxError) {
    self = try SIPURI.parse(ArraySlice(text.utf8))
  }

  /// `transport`, `user`, `method`, `ttl`, `maddr`, `lr` and others, by name.
  public func parameter(_ name: String) -> String?? { parameters.parameter(name) }

  /// Loose routing (§19.1.1: `lr`).
  public var isLooseRouting: Bool { parameters.has("lr") }

  /// Canonical text: user and password escaped where needed, parameters and headers in order.
  public var description: String {
    if let opaque { return "\(scheme):\(opaque)" }
    if scheme == "tel" {
      return "tel:" + (user ?? "") + parameters.map { ";" + Self.render($0) }.joined()
    }
    // One buffer, one String: URIs are printed into every Request-URI, Route and Contact.
    var text: [UInt8] = []
    text.reserveCapacity(64)
    write(to: &text)
    return Syntax.string(text)
  }

  /// Appends the canonical text of a `sip`/`sips` URI (``description`` for every scheme).
  package func write(to text: inout [UInt8]) {
    write(to: &text, parameters: true, headers: true)
  }

  /// ``write(to:)`` of this URI with its parameters and/or headers left out: what printing a
  /// copy with them emptied gives, without the copy (a To is a target without either, §8.1.1.2).
  package func write(
    to text: inout [UInt8], parameters withParameters: Bool, headers withHeaders: Bool
  ) {
    if opaque != nil || scheme == "tel" {
      var copy = self
      if !withParameters { copy.parameters = [] }
      if !withHeaders { copy.headers = [] }
      Syntax.append(copy.description, to: &text)
      return
    }
    Self.write(scheme: scheme, user: user, password: password, host: host, port: port, to: &text)
    for parameter in parameters where withParameters {
      text.append(Syntax.semicolon)
      Syntax.appendEscaped(parameter.name, allowed: Syntax.paramTable, to: &text)
      if let value = parameter.value {
        text.append(Syntax.equals)
        Syntax.appendEscaped(value, allowed: Syntax.paramTable, to: &text)
      }
    }
    for (index, header) in headers.enumerated() where withHeaders {
      text.append(index == 0 ? Syntax.question : Syntax.ampersand)
      Syntax.appendEscaped(header.name, allowed: Syntax.headerValueTable, to: &text)
      text.append(Syntax.equals)
      Syntax.appendEscaped(header.value ?? "", allowed: Syntax.headerValueTable, to: &text)
    }
  }

  /// `scheme:[user[:password]@]host[:port]` as ``write(to:)`` prints a `sip`/`sips` URI's
  /// parts, from parts the caller holds: an agent prints its Contact so for every REGISTER
  /// without making a URI.
  package static func write(
    scheme: String, user: String?, password: String? = nil, host: String, port: Int?,
    to text: inout [UInt8]
  ) {
    Syntax.append(scheme, to: &text)
    text.append(Syntax.colon)
    if let user {
      Syntax.appendEscaped(user, allowed: Syntax.userTable, to: &text)
      if let password {
        text.append(Syntax.colon)
        Syntax.appendEscaped(password, allowed: Syntax.passwordTable, to: &text)
      }
      text.append(Syntax.at)
    }
    Syntax.appendHostPort(host, port, to: &text)
  }

  static func render(_ parameter: SIPParameter) -> String {
    let name = Syntax.escape(parameter.name.utf8, allowed: Syntax.paramTable)
    guard let value = parameter.value else { return name }
    return name + "=" + Syntax.escape(value.utf8, allowed: Syntax.paramTable)
  }

  // MARK: Parsing

  static func parse(_ bytes: ArraySlice<UInt8>) throws(SyntaxError) -> SIPURI {
    // Made here from the compact scan's parts: returned as an optional URI, it was built
    // and then copied (every reference retained and released) on the way out.
    if let (secure, user, host, port, parameters) = compactParts(bytes) {
      return SIPURI(
        scheme: secure ? "sips" : "sip", user: user, host: host, port: port,
        parameters: parameters)
    }
    return try parseGeneral(bytes)
  }

  /// The URI nearly every message carries, `sip:[user@]host[:port][;name[=value]]…` with no
  /// escapes, password, IPv6 reference or headers, read in one pass over the bytes; nil for
  /// anything else, which ``parseGeneral(_:)`` then reads from the start, with its errors. Both
  /// give the same URI (a test holds them to it). A call parses its Request-URIs, Contacts,
  /// Froms and Tos dozens of times, and the general parser's passes (one per delimiter it
  /// looks for) were most of the cost.
  static func parseCompact(_ bytes: ArraySlice<UInt8>) -> SIPURI? {
    compactParts(bytes).map { secure, user, host, port, parameters in
      SIPURI(
        scheme: secure ? "sips" : "sip", user: user, host: host, port: port,
        parameters: parameters)
    }
  }

  /// ``parseCompact(_:)``'s scan: the URI's parts, or nil.
  private static func compactParts(_ bytes: ArraySlice<UInt8>) -> (
    secure: Bool, user: String?, host: String, port: Int?, parameters: [SIPParameter]
  )? {
    bytes.withUnsafeBufferPointer {
      buffer -> (secure: Bool, user: String?, host: String, port: Int?, parameters: [SIPParameter])?
      in
      guard let base = buffer.baseAddress, buffer.count > 4, base[0] == UInt8(ascii: "s"),
        base[1] == UInt8(ascii: "i"), base[2] == UInt8(ascii: "p")
      else { return nil }
      let secure = base[3] == UInt8(ascii: "s")
      var index = secure ? 4 : 3
      guard base[index] == Syntax.colon else { return nil }
      index += 1
      let count = buffer.count
      let offset = bytes.startIndex
      func text(_ start: Int, _ end: Int) -> ArraySlice<UInt8> {
        bytes[(offset + start)..<(offset + end)]
      }
      // A user part runs to an "@"; without one, what was read is the host.
      let userStart = index
      while index < count, isCompactUserByte(base[index]) { index += 1 }
      var user: String?
      if index < count, base[index] == Syntax.at, index > userStart {
        user = Syntax.string(text(userStart, index))
        index += 1
      } else {
        index = userStart
      }
      let hostStart = index
      while index < count, Syntax.isHostByte(base[index]) { index += 1 }
      let hostEnd = index
      guard hostEnd > hostStart else { return nil }
      var port: Int?
      if index < count, base[index] == Syntax.colon {
        index += 1
        guard let value = Syntax.compactPort(buffer, at: &index) else { return nil }
        port = value
      }
      var parameters: [SIPParameter] = []
      while index < count, base[index] == Syntax.semicolon {
        index += 1
        let nameStart = index
        while index < count, isCompactParameterByte(base[index]) { index += 1 }
        let nameEnd = index
        guard nameEnd > nameStart else { return nil }
        var value: String?
        if index < count, base[index] == Syntax.equals {
          index += 1
          let valueStart = index
          while index < count, isCompactParameterByte(base[index]) { index += 1 }
          value = Syntax.string(text(valueStart, index))
        }
        if parameters.isEmpty { parameters.reserveCapacity(2) }
        parameters.append(SIPParameter(Syntax.token(text(nameStart, nameEnd)), value))
      }
      guard index == count else { return nil }
      return (secure, user, Syntax.string(text(hostStart, hostEnd)), port, parameters)
    }
  }

  /// A byte of a user part the compact read takes: `userTable` but `:` (a password follows)
  /// and `%` (an escape) and `?` (headers), which the general parser handles.
  @inline(__always)
  private static func isCompactUserByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
    // - _ . ! ~ * ' ( ) & = + $ , ; /
    case 0x2D, 0x5F, 0x2E, 0x21, 0x7E, 0x2A, 0x27, 0x28, 0x29, 0x26, 0x3D, 0x2B, 0x24, 0x2C, 0x3B,
      0x2F:
      return true
    default: return false
    }
  }

  /// A byte of a parameter name or value the compact read takes: `paramTable` but `%`.
  @inline(__always)
  private static func isCompactParameterByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
    // - _ . ! ~ * ' ( ) [ ] / : & + $
    case 0x2D, 0x5F, 0x2E, 0x21, 0x7E, 0x2A, 0x27, 0x28, 0x29, 0x5B, 0x5D, 0x2F, 0x3A, 0x26, 0x2B,
      0x24:
      return true
    default: return false
    }
  }

  /// A URI by the full grammar (§19.1, §25.1), any scheme.
  static func parseGeneral(_ bytes: ArraySlice<UInt8>) throws(SyntaxError) -> SIPURI {
    let base = bytes.startIndex
    guard let colon = bytes.firstIndex(of: Syntax.colon), colon > base else {
      throw SyntaxError("a URI needs a scheme", offset: 0)
    }
    let schemeBytes = bytes[base..<colon]
    guard let first = schemeBytes.first, Syntax.isAlpha(first),
      schemeBytes.allSatisfy({
        Syntax.isAlphanumeric($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-")
          || $0 == UInt8(ascii: ".")
      })
    else { throw SyntaxError("the URI scheme is not valid", offset: 0) }
    let scheme =
      schemeBytes.contains(where: { $0 >= 65 && $0 <= 90 })
      ? Syntax.string(schemeBytes.map(Syntax.lower)) : Syntax.string(schemeBytes)
    let rest = bytes[(colon + 1)...]
    for (offset, byte) in rest.enumerated()
    where byte <= 32 || byte == 127 || byte == Syntax.less
      || byte == Syntax.greater || byte == Syntax.quote
    {
      throw SyntaxError("the URI holds a space or a delimiter", offset: colon + 1 - base + offset)
    }
    switch scheme {
    case "sip", "sips": return try parseSIP(scheme: scheme, rest, base: base)
    case "tel":
      var uri = SIPURI(scheme: "tel", host: "")
      let numberEnd = rest.firstIndex(of: Syntax.semicolon) ?? rest.endIndex
      let number = rest[..<numberEnd]
      guard !number.isEmpty else {
        throw SyntaxError("a tel URI needs a number", offset: colon + 1 - base)
      }
      uri.user = Syntax.string(number)
      uri.parameters = try parameters(rest[numberEnd...], base: base)
      return uri
    default:
      guard !rest.isEmpty else { throw SyntaxError("the URI is empty after its scheme", offset: 0) }
      var uri = SIPURI(scheme: scheme, host: "")
      uri.opaque = Syntax.string(rest)
      return uri
    }
  }

  static func split(_ bytes: ArraySlice<UInt8>, on separator: UInt8) -> [ArraySlice<UInt8>] {
    bytes.split(separator: separator, omittingEmptySubsequences: false)
  }

  static func parseSIP(scheme: String, _ rest: ArraySlice<UInt8>, base: Int) throws(SyntaxError)
    -> SIPURI
  {
    func offset(_ index: Int) -> Int { index - base }
    // The parts in locals, the URI made once at the end: filling in a URI made first cost
    // two copies of the whole value per parse.
    var user: String?
    var password: String?
    var port: Int?
    var headers: [SIPParameter] = []
    var hostStart = rest.startIndex
    // userinfo: up to the last "@" before any "?" (a user part may hold ";" and "?", §25).
    // The user part may itself hold "?" (user-unreserved), and URI headers may hold "@": take
    // the last "@" before the first "?", or, if there is none, the last "@" of all.
    let firstQuestion = rest.firstIndex(of: Syntax.question) ?? rest.endIndex
    let userAt = rest[..<firstQuestion].lastIndex(of: Syntax.at) ?? rest.lastIndex(of: Syntax.at)
    if let at = userAt {
      let userinfo = rest[rest.startIndex..<at]
      var userBytes = userinfo
      if let passwordColon = userinfo.firstIndex(of: Syntax.colon) {
        userBytes = userinfo[..<passwordColon]
        let passwordBytes = userinfo[(passwordColon + 1)...]
        for index in passwordBytes.indices
        where !Syntax.passwordTable[Int(passwordBytes[index])]
          && passwordBytes[index] != Syntax.percent
        {
          throw SyntaxError("a character not allowed in a password", offset: offset(index))
        }
        guard let unescaped = Syntax.unescapedString(passwordBytes) else {
          throw SyntaxError("a bad %-escape in the password", offset: offset(passwordColon + 1))
        }
        password = unescaped
      }
      guard !userBytes.isEmpty else {
        throw SyntaxError("an empty user part before @", offset: offset(rest.startIndex))
      }
      for index in userBytes.indices
      where !Syntax.userTable[Int(userBytes[index])] && userBytes[index] != Syntax.percent {
        throw SyntaxError("a character not allowed in the user part", offset: offset(index))
      }
      guard let unescaped = Syntax.unescapedString(userBytes) else {
        throw SyntaxError("a bad %-escape in the user part", offset: offset(rest.startIndex))
      }
      user = unescaped
      hostStart = at + 1
    }
    let afterHost = rest[hostStart...]
    let questionMark = afterHost.firstIndex(of: Syntax.question)
    let hostAndParams = afterHost[..<(questionMark ?? afterHost.endIndex)]
    let hostPortEnd = hostAndParams.firstIndex(of: Syntax.semicolon) ?? hostAndParams.endIndex
    let hostPort = hostAndParams[..<hostPortEnd]
    guard !hostPort.isEmpty else {
      throw SyntaxError("the URI has no host", offset: offset(hostStart))
    }
    // host [":" port]; an IPv6 reference is bracketed.
    var hostEnd = hostPort.endIndex
    if hostPort.first == UInt8(ascii: "[") {
      guard let close = hostPort.firstIndex(of: UInt8(ascii: "]")) else {
        throw SyntaxError("an IPv6 reference without ]", offset: offset(hostPort.startIndex))
      }
      hostEnd = close + 1
      for index in (hostPort.startIndex + 1)..<close {
        let byte = hostPort[index]
        guard Syntax.isHex(byte) || byte == Syntax.colon || byte == UInt8(ascii: ".") else {
          throw SyntaxError("a character not allowed in an IPv6 reference", offset: offset(index))
        }
      }
    } else {
      hostEnd = hostPort.firstIndex(of: Syntax.colon) ?? hostPort.endIndex
      for index in hostPort.startIndex..<hostEnd where !Syntax.hostTable[Int(hostPort[index])] {
        throw SyntaxError("a character not allowed in a host name", offset: offset(index))
      }
    }
    let host = hostPort[..<hostEnd]
    guard !host.isEmpty else { throw SyntaxError("the URI has no host", offset: offset(hostStart)) }
    if hostEnd < hostPort.endIndex {
      guard hostPort[hostEnd] == Syntax.colon else {
        throw SyntaxError("unexpected text after the host", offset: offset(hostEnd))
      }
      let portBytes = hostPort[(hostEnd + 1)...]
      guard let value = Syntax.decimal(portBytes, maximumDigits: 5), value <= 65535 else {
        throw SyntaxError("the port is not a number from 0 to 65535", offset: offset(hostEnd + 1))
      }
      port = value
    }
    let parameters = try parameters(hostAndParams[hostPortEnd...], base: base)
    if let questionMark {
      let headerText = afterHost[(questionMark + 1)...]
      for piece in split(headerText, on: Syntax.ampersand) {
        let pair = split(piece, on: Syntax.equals)
        guard pair.count == 2, let name = Syntax.unescape(pair[0]), !name.isEmpty,
          let value = Syntax.unescape(pair[1])
        else {
          throw SyntaxError("a URI header must be name=value", offset: offset(piece.startIndex))
        }
        headers.append(SIPParameter(Syntax.string(name), Syntax.string(value)))
      }
    }
    return SIPURI(
      scheme: scheme, user: user, password: password, host: Syntax.string(host), port: port,
      parameters: parameters, headers: headers)
  }

  /// `*( ";" uri-parameter )`: `text` is empty or starts with `;`. Read in place (no array of
  /// pieces: every Request-URI, Contact, From and To has parameters to read).
  static func parameters(_ text: ArraySlice<UInt8>, base: Int) throws(SyntaxError)
    -> [SIPParameter]
  {
    var result: [SIPParameter] = []
    var start = text.startIndex
    while start < text.endIndex {
      start += 1  // the ";"
      let end = text[start...].firstIndex(of: Syntax.semicolon) ?? text.endIndex
      let piece = text[start..<end]
      start = end
      guard !piece.isEmpty else {
        throw SyntaxError("an empty URI parameter", offset: piece.startIndex - base)
      }
      var equals: Int?
      for index in piece.indices {
        let byte = piece[index]
        if byte == Syntax.equals {
          if equals == nil { equals = index }
        } else if !Syntax.paramTable[Int(byte)] && byte != Syntax.percent {
          throw SyntaxError("a character not allowed in a URI parameter", offset: index - base)
        }
      }
      guard let name = Syntax.unescapedString(piece[..<(equals ?? piece.endIndex)]), !name.isEmpty
      else {
        throw SyntaxError("a bad URI parameter name", offset: piece.startIndex - base)
      }
      var value: String?
      if let equals {
        guard let unescaped = Syntax.unescapedString(piece[(equals + 1)...]) else {
          throw SyntaxError("a bad %-escape in a URI parameter", offset: piece.startIndex - base)
        }
        value = unescaped
      }
      result.append(SIPParameter(name, value))
    }
    return result
  }
}
