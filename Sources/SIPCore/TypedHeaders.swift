/// Typed views of the headers of RFC 3261 §20. Each parses the field's bytes when asked and
/// returns nil when the header is absent or malformed (`check()` reports malformed ones with
/// their position).
extension SIPMessage {
  /// Every Via value, top first (§20.42).
  public var vias: [Via] { (try? list(.via, Via.scan)) ?? [] }
  /// The top Via: the one this element's transaction layer looks at (§17.1.3, §17.2.3).
  public var topVia: Via? {
    // Only the first value of the first Via field: every hop asks for it, so it must not parse
    // the whole stack.
    firstValue(.via, Via.scan)
  }
  public var from: NameAddress? { try? single(.from, NameAddress.scan) }

  /// What a client asks of a response's top Via (§18.1.2, §17.1.3): whether its sent-by is
  /// `host` (ASCII case ignored) at `port` (5060 when it names none), and its branch. Read from
  /// the bytes of the usual compact Via (`SIP/2.0/UDP host[:port];name[=token]…`) without
  /// building it; nil for any other form, which the caller reads through ``topVia``. Where it
  /// answers, it answers what ``topVia`` would (a test holds it to that): parsing the Via made
  /// a string of each of its parts for every response an agent received.
  package func topViaSentBy(host: String, port: Int) -> (isOurs: Bool, branch: String?)? {
    guard let field = firstIndex(.via) else { return nil }
    let value = headers[field].valueBytes
    return value.withUnsafeBufferPointer { buffer -> (isOurs: Bool, branch: String?)? in
      guard let base = buffer.baseAddress else { return nil }
      let count = buffer.count
      var skipped = 0
      while skipped < count, Syntax.isWhitespace(base[skipped]) { skipped += 1 }
      let rest = UnsafeBufferPointer(rebasing: buffer[skipped...])
      guard let parts = Via.compactSentBy(rest) else { return nil }
      let (hostStart, hostEnd) = (skipped + parts.host.lowerBound, skipped + parts.host.upperBound)
      let sentPort = parts.port ?? 5060
      let index = skipped + parts.parameters
      // The parameters as the compact reader takes them; the first named `branch` counts.
      var branch: Range<Int>??
      guard
        let end = ValueScanner.compactParameters(
          in: buffer, from: index,
          { name, value in
            if branch == nil, Self.isBranch(UnsafeBufferPointer(rebasing: buffer[name])) {
              branch = .some(value)
            }
          }),
        end == count || base[end] == Syntax.comma
      else { return nil }
      let isOurs =
        sentPort == port
        && host.withUTF8Bytes { ours in
          ours.count == hostEnd - hostStart
            && ours.indices.allSatisfy {
              Syntax.lower(ours[$0]) == Syntax.lower(base[hostStart + $0])
            }
        }
      let start = value.startIndex
      let branchText = (branch ?? nil).map {
        Syntax.string(value[(start + $0.lowerBound)..<(start + $0.upperBound)])
      }
      return (isOurs, branchText)
    }
  }

  /// Whether a parameter name is `branch`, ASCII case ignored.
  private static func isBranch(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
    guard name.count == 6 else { return false }
    return zip(name, "branch".utf8).allSatisfy { Syntax.lower($0) == $1 }
  }
  public var to: NameAddress? { try? single(.to, NameAddress.scan) }
  /// The From tag, read without parsing the address (see `NameAddress.tag(in:)`): what
  /// transaction and dialog matching ask for on every message.
  public var fromTag: String? {
    firstIndex(.from).flatMap { NameAddress.tag(in: headers[$0].valueBytes) }
  }
  /// The To tag, read without parsing the address.
  public var toTag: String? {
    firstIndex(.to).flatMap { NameAddress.tag(in: headers[$0].valueBytes) }
  }
  public var callID: String? { firstIndex(.callID).map { headers[$0].value } }

  /// Whether the first Call-ID is `callID`, byte for byte, without making a `String` of it (an
  /// agent asks of every response; for ASCII, which a Call-ID is, the same as comparing the
  /// strings).
  public func hasCallID(_ callID: String) -> Bool {
    guard let index = firstIndex(.callID) else { return false }
    return callID.withUTF8Bytes { text in
      headers[index].withParts { _, value in
        value.count == text.count && (0..<text.count).allSatisfy { value[$0] == text[$0] }
      }
    }
  }
  public var cseq: CSeq? {
    // Read from the bytes in one pass where it is `number method` (every hop reads it several
    // times); anything else, and any error, by the grammar.
    guard let index = firstIndex(.cseq) else { return nil }
    return CSeq.scanCompact(headers[index].valueBytes) ?? (try? single(.cseq, CSeq.scan))
  }
  public var maxForwards: Int? {
    (try? single(.maxForwards) { scanner throws(SyntaxError) in
      try scanDecimal(&scanner, maximum: 255, "Max-Forwards")
    }).map { Int($0) }
  }
  /// Contact values, `*` included (§20.10).
  public var contacts: [ContactValue] { (try? list(.contact, HeaderGrammar.contact)) ?? [] }
  public var routes: [NameAddress] { (try? list(.route, NameAddress.scan)) ?? [] }
  /// The first Route value, scanned without parsing the others (§16.4 looks only at it); nil
  /// when there is none or it is malformed.
  public var firstRoute: NameAddress? { firstValue(.route, NameAddress.scan) }
  public var recordRoutes: [NameAddress] { (try? list(.recordRoute, NameAddress.scan)) ?? [] }
  public var replyTo: NameAddress? { try? single(.replyTo, NameAddress.scan) }
  public var expires: UInt32? { delta(.expires) }
  public var minExpires: UInt32? { delta(.minExpires) }
  public var contentType: MediaType? { try? single(.contentType, MediaType.scan) }
  public var contentLength: Int? {
    firstIndex(.contentLength).map { headers[$0].value }.flatMap { Int($0) }
  }
  public var contentEncoding: [String] { tokens(.contentEncoding) }
  public var contentDisposition: String? {
    firstIndex(.contentDisposition).map { headers[$0].value }
  }
  public var require: [String] { tokens(.require) }
  public var proxyRequire: [String] { tokens(.proxyRequire) }
  public var supported: [String] { tokens(.supported) }
  public var unsupported: [String] { tokens(.unsupported) }
  public var allow: [String] { tokens(.allow) }
  public var accept: [MediaType] { (try? list(.accept, MediaType.scan)) ?? [] }
  public var acceptEncoding: [String] { tokens("accept-encoding") }
  public var acceptLanguage: [String] { tokens("accept-language") }
  public var authorization: [AuthValue] { auth(.authorization) }
  public var proxyAuthorization: [AuthValue] { auth(.proxyAuthorization) }
  public var wwwAuthenticate: [AuthValue] { auth(.wwwAuthenticate) }
  public var proxyAuthenticate: [AuthValue] { auth(.proxyAuthenticate) }
  public var authenticationInfo: AuthValue? {
    try? single(.authenticationInfo) { scanner throws(SyntaxError) in
      try AuthValue.scan(&scanner, schemeRequired: false)
    }
  }
  public var retryAfter: RetryAfter? { try? single(.retryAfter, RetryAfter.scan) }
  public var timestamp: String? { value("timestamp") }
  public var date: String? { value("date") }
  public var warnings: [WarningValue] { (try? list(.warning, WarningValue.scan)) ?? [] }
  public var server: String? { value("server") }
  public var userAgent: String? { value("user-agent") }
  public var subject: String? { value("subject") }
  public var organization: String? { value("organization") }
  public var priority: String? { value("priority") }
  public var inReplyTo: [String] { values("in-reply-to") }
  public var alertInfo: [InfoValue] { (try? list("alert-info", InfoValue.scan)) ?? [] }
  public var callInfo: [InfoValue] { (try? list("call-info", InfoValue.scan)) ?? [] }
  public var errorInfo: [InfoValue] { (try? list("error-info", InfoValue.scan)) ?? [] }
  public var mimeVersion: String? { value("mime-version") }

  /// What a user agent reads from a 200 to its REGISTER (§10.2.4), in one pass over the
  /// Contact fields: their texts joined by line feeds (what `values("contact")` gives, joined),
  /// and the `expires` of the first contact whose URI `isOwn` accepts; `found` is false when
  /// none does or when any contact is malformed (``contacts`` is then empty).
  ///
  /// A part that is exactly `own` (the agent's contact as it sent it), alone or followed by
  /// `;expires=` and a number below 2^32, is read without parsing: parsing it gives a URI
  /// `isOwn` accepts and that `expires`, since the agent printed the address. A registrar
  /// echoes its contact so, and parsing it was a third of the agent's work on the 200.
  package func ownContact(own: [UInt8], isOwn: (SIPURI) -> Bool)
    -> (listing: String, found: Bool, expires: UInt32?)
  {
    var listing: [UInt8] = []
    var found = false
    var expires: UInt32?
    var malformed = false
    var first = true
    var index = firstIndex(.contact)
    while let current = index {
      let value = headers[current].valueBytes
      var start = value.startIndex
      while true {
        let end = HeaderValueSplitter.partEnd(value, from: start)
        let part = HeaderValueSplitter.trim(value[start..<end])
        if first {
          first = false
        } else {
          listing.append(Syntax.lf)
        }
        listing.append(contentsOf: part)
        if !malformed {
          if let known = Self.ownExpires(part, own: own) {
            if !found { (found, expires) = (true, known) }
          } else if !part.isEmpty,
            let contact = try? parseWhole(part, "contact", HeaderGrammar.contact)
          {
            if !found, let uri = contact.address?.uri, isOwn(uri) {
              (found, expires) = (true, contact.expires)
            }
          } else {
            malformed = true
          }
        }
        guard end < value.endIndex else { break }
        start = end + 1
      }
      index = firstIndex(.contact, from: current + 1)
    }
    return (Syntax.string(listing), found && !malformed, malformed ? nil : expires)
  }

  private static let expiresLabel = Array(";expires=".utf8)

  /// Whether `part` is `own` alone (`.some(nil)` expires) or with `;expires=` and a number
  /// below 2^32 (that number); nil for anything else.
  private static func ownExpires(_ part: ArraySlice<UInt8>, own: [UInt8]) -> UInt32?? {
    guard part.count >= own.count, startsWith(part, own) else { return nil }
    let rest = part.dropFirst(own.count)
    if rest.isEmpty { return .some(nil) }
    let label = Self.expiresLabel
    guard rest.count > label.count, rest.count <= label.count + 10, startsWith(rest, label)
    else { return nil }
    var number: UInt64 = 0
    for digit in rest.dropFirst(label.count) {
      guard Syntax.isDigit(digit) else { return nil }
      number = number * 10 + UInt64(digit - 48)
    }
    guard number <= UInt64(UInt32.max) else { return nil }
    return .some(UInt32(number))
  }

  /// Whether `bytes` begins with `prefix`, compared through buffer pointers (`elementsEqual`
  /// over two slices stepped through generic indices, several instructions a byte).
  private static func startsWith(_ bytes: ArraySlice<UInt8>, _ prefix: [UInt8]) -> Bool {
    guard bytes.count >= prefix.count else { return false }
    return bytes.withUnsafeBufferPointer { bytes in
      prefix.withUnsafeBufferPointer { prefix in
        for index in prefix.indices where bytes[index] != prefix[index] { return false }
        return true
      }
    }
  }

  /// The Request-URI, parsed (nil for a response or a malformed URI).
  public var requestURI: SIPURI? { requestURIText.flatMap { try? SIPURI($0) } }

  func single<T>(_ known: KnownHeader, _ scan: (inout ValueScanner) throws(SyntaxError) -> T)
    throws(SyntaxError) -> T?
  {
    guard let index = firstIndex(known) else { return nil }
    return try parseWhole(headers[index].valueBytes, known.canonical, scan)
  }

  /// The first value of the first `known` field of a comma-separated header, scanned straight
  /// from the field: the scan stops where the value does, so the field is not split at its
  /// top-level comma first (a second pass over it). Nil when absent or malformed.
  func firstValue<T>(_ known: KnownHeader, _ scan: (inout ValueScanner) throws(SyntaxError) -> T)
    -> T?
  {
    guard let index = firstIndex(known) else { return nil }
    var scanner = ValueScanner(headers[index].valueBytes)
    scanner.skipWhitespace()
    guard let value = try? scan(&scanner) else { return nil }
    scanner.skipWhitespace()
    return scanner.atEnd || scanner.peek == Syntax.comma ? value : nil
  }

  func list<T>(_ name: String, _ scan: (inout ValueScanner) throws(SyntaxError) -> T)
    throws(SyntaxError) -> [T]
  {
    try list(from: firstIndex(named: name), name: name, scan) { index in
      firstIndex(named: name, from: index + 1)
    }
  }

  func list<T>(_ known: KnownHeader, _ scan: (inout ValueScanner) throws(SyntaxError) -> T)
    throws(SyntaxError) -> [T]
  {
    try list(from: firstIndex(known), name: known.canonical, scan) { index in
      firstIndex(known, from: index + 1)
    }
  }

  /// Every value of the fields found from `first` on by `next`, in order.
  private func list<T>(
    from first: Int?, name: @autoclosure () -> String,
    _ scan: (inout ValueScanner) throws(SyntaxError) -> T,
    next: (Int) -> Int?
  ) throws(SyntaxError) -> [T] {
    var result: [T] = []
    // Fields found by index (a loop over the fields, generic over `T`, copied and retained
    // fields it tested), and the first list taken as it is: appending it to an empty array
    // copied every element (a retain per string), for every Contact and Via list read.
    var following = first
    while let index = following {
      let values = try parseList(headers[index].valueBytes, name(), scan)
      if result.isEmpty { result = values } else { result += values }
      following = next(index)
    }
    return result
  }

  func tokens(_ known: KnownHeader) -> [String] {
    (try? list(known) { scanner throws(SyntaxError) in Syntax.string(try scanner.token()) }) ?? []
  }

  func tokens(_ name: String) -> [String] {
    (try? list(name) { scanner throws(SyntaxError) in Syntax.string(try scanner.token()) }) ?? []
  }

  func delta(_ known: KnownHeader) -> UInt32? {
    guard let index = firstIndex(known) else { return nil }
    if let value = Self.compactDelta(headers[index].valueBytes) { return value }
    return
      (try? single(known) { scanner throws(SyntaxError) in
        try scanDecimal(&scanner, maximum: UInt64(UInt32.max), known.canonical)
      }).map { UInt32($0) }
  }

  /// A delta-seconds value as the grammar reads a whole one (whitespace around, at most ten
  /// digits here), in one pass; nil for anything else, left to the grammar (a registrar reads
  /// Expires on every REGISTER).
  static func compactDelta(_ value: ArraySlice<UInt8>) -> UInt32? {
    value.withUnsafeBufferPointer { bytes -> UInt32? in
      var index = 0
      guard let number = Syntax.compactDecimal(bytes, at: &index), index == bytes.count else {
        return nil
      }
      return number
    }
  }

  func auth(_ known: KnownHeader) -> [AuthValue] {
    headers.filter { $0.known == known }.compactMap { field in
      try? parseWhole(field.valueBytes, known.canonical) { scanner throws(SyntaxError) in
        try AuthValue.scan(&scanner)
      }
    }
  }
}

/// The grammar of each header this package knows, for validation (§20, §25).
enum HeaderGrammar {
  static func contact(_ scanner: inout ValueScanner) throws(SyntaxError) -> ContactValue {
    if scanner.peek == UInt8(ascii: "*") {
      scanner.index += 1
      return .wildcard
    }
    let address = try NameAddress.scan(&scanner)
    // Names compared in place, ignoring case (lower-casing a copy of each cost an allocation).
    for parameter in address.parameters {
      if parameter.isNamed("expires") {
        guard let value = parameter.value, value.utf8.allSatisfy(Syntax.isDigit),
          let seconds = UInt64(value), seconds <= UInt64(UInt32.max)
        else { throw scanner.fail("the Contact expires parameter is not a number below 2^32") }
      } else if parameter.isNamed("q") {
        guard let value = parameter.value, let q = Double(value), (0...1).contains(q) else {
          throw scanner.fail("the Contact q parameter is not between 0 and 1")
        }
      }
    }
    return .address(address)
  }

  static func callID(_ scanner: inout ValueScanner) throws(SyntaxError) {
    let first = scanner.until { !Syntax.isWord($0) }
    guard !first.isEmpty else { throw scanner.fail("a Call-ID must be a word") }
    if scanner.peek == Syntax.at {
      scanner.index += 1
      let second = scanner.until { !Syntax.isWord($0) }
      guard !second.isEmpty else { throw scanner.fail("expected a word after @ in the Call-ID") }
    }
  }

  static let months = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
  ]
  static let weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

  /// SIP-date = rfc1123-date: `wkday "," SP 2DIGIT SP month SP 4DIGIT SP time SP "GMT"`.
  static func date(_ scanner: inout ValueScanner) throws(SyntaxError) {
    func word(_ allowed: [String], _ what: String) throws(SyntaxError) {
      let text = scanner.until { !Syntax.isAlpha($0) }
      guard allowed.contains(Syntax.string(text.map(Syntax.lower))) else {
        throw scanner.fail("expected \(what) in the Date")
      }
    }
    func digits(_ count: Int) throws(SyntaxError) {
      let text = scanner.until { !Syntax.isDigit($0) }
      guard text.count == count else { throw scanner.fail("expected \(count) digits in the Date") }
    }
    func exactly(_ byte: UInt8, _ what: String) throws(SyntaxError) {
      guard scanner.peek == byte else { throw scanner.fail("expected \(what) in the Date") }
      scanner.index += 1
    }
    try word(weekdays, "a weekday")
    try exactly(Syntax.comma, ",")
    try exactly(Syntax.space, "a space")
    try digits(2)
    try exactly(Syntax.space, "a space")
    try word(months, "a month")
    try exactly(Syntax.space, "a space")
    try digits(4)
    try exactly(Syntax.space, "a space")
    try digits(2)
    try exactly(Syntax.colon, ":")
    try digits(2)
    try exactly(Syntax.colon, ":")
    try digits(2)
    try exactly(Syntax.space, "a space")
    let zone = scanner.until { !Syntax.isAlpha($0) }
    guard Syntax.string(zone) == "GMT" else { throw scanner.fail("the Date must be in GMT") }
  }

  static func timestamp(_ scanner: inout ValueScanner) throws(SyntaxError) {
    func number() throws(SyntaxError) {
      let whole = scanner.until { !Syntax.isDigit($0) }
      if scanner.peek == UInt8(ascii: ".") {
        scanner.index += 1
        _ = scanner.until { !Syntax.isDigit($0) }
      } else if whole.isEmpty {
        throw scanner.fail("a Timestamp must be a number")
      }
    }
    try number()
    scanner.skipWhitespace()
    if !scanner.atEnd { try number() }
  }

  static func mimeVersion(_ scanner: inout ValueScanner) throws(SyntaxError) {
    _ = try scanDecimal(&scanner, maximum: UInt64.max, "MIME-Version")
    guard scanner.peek == UInt8(ascii: ".") else {
      throw scanner.fail("expected 1*DIGIT . 1*DIGIT")
    }
    scanner.index += 1
    _ = try scanDecimal(&scanner, maximum: UInt64.max, "MIME-Version")
  }

  /// Checks one field's value against its grammar; unknown headers are accepted as they are.
  static func validate(_ field: SIPHeaderField) throws(SyntaxError) {
    let value = field.valueBytes
    func whole(_ scan: (inout ValueScanner) throws(SyntaxError) -> Void) throws(SyntaxError) {
      try parseWhole(value, field.name, scan)
    }
    func list(allowEmpty: Bool = false, _ scan: (inout ValueScanner) throws(SyntaxError) -> Void)
      throws(SyntaxError)
    {
      _ = try parseList(value, field.name, allowEmpty: allowEmpty, scan)
    }
    let token: (inout ValueScanner) throws(SyntaxError) -> Void = { scanner throws(SyntaxError) in
      _ = try scanner.token()
    }
    switch field.canonicalName {
    case "via": try list { scanner throws(SyntaxError) in _ = try Via.scan(&scanner) }
    case "from", "to", "reply-to":
      try whole { scanner throws(SyntaxError) in _ = try NameAddress.scan(&scanner) }
    case "contact": try list { scanner throws(SyntaxError) in _ = try contact(&scanner) }
    case "route", "record-route":
      try list { scanner throws(SyntaxError) in _ = try NameAddress.scan(&scanner) }
    case "call-id": try whole(callID)
    case "in-reply-to": try list(callID)
    case "cseq": try whole { scanner throws(SyntaxError) in _ = try CSeq.scan(&scanner) }
    case "max-forwards":
      try whole { scanner throws(SyntaxError) in
        _ = try scanDecimal(&scanner, maximum: 255, "Max-Forwards")
      }
    case "expires", "min-expires":
      try whole { scanner throws(SyntaxError) in
        _ = try scanDecimal(&scanner, maximum: UInt64(UInt32.max), field.name)
      }
    case "content-type":
      try whole { scanner throws(SyntaxError) in _ = try MediaType.scan(&scanner) }
    case "accept":
      try list(allowEmpty: true) { scanner throws(SyntaxError) in _ = try MediaType.scan(&scanner) }
    case "accept-encoding", "accept-language", "supported", "allow":
      try list(allowEmpty: true) { scanner throws(SyntaxError) in
        _ = try scanner.token()
        _ = try scanner.parameters()
      }
    case "content-encoding", "content-language", "require", "proxy-require", "unsupported":
      try list(token)
    case "authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate":
      try whole { scanner throws(SyntaxError) in _ = try AuthValue.scan(&scanner) }
    case "authentication-info":
      try whole { scanner throws(SyntaxError) in
        _ = try AuthValue.scan(&scanner, schemeRequired: false)
      }
    case "retry-after":
      try whole { scanner throws(SyntaxError) in _ = try RetryAfter.scan(&scanner) }
    case "timestamp": try whole(timestamp)
    case "date": try whole(date)
    case "warning": try list { scanner throws(SyntaxError) in _ = try WarningValue.scan(&scanner) }
    case "alert-info", "call-info", "error-info":
      try list { scanner throws(SyntaxError) in _ = try InfoValue.scan(&scanner) }
    case "mime-version": try whole(mimeVersion)
    case "priority": try whole(token)
    case "content-disposition":
      try whole { scanner throws(SyntaxError) in
        _ = try scanner.token()
        _ = try scanner.parameters()
      }
    default:
      break  // Subject, Organization, Server, User-Agent (TEXT) and unknown headers.
    }
  }
}
