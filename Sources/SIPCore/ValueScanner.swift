/// Scans one header value (already unfolded) by the grammar of RFC 3261 §25.1: LWS around
/// separators (SEMI, COMMA, EQUAL, SLASH, COLON, LAQUOT, RAQUOT…), tokens, quoted strings.
struct ValueScanner {
  let bytes: ArraySlice<UInt8>
  var index: Int

  init(_ bytes: ArraySlice<UInt8>) {
    self.bytes = bytes
    index = bytes.startIndex
  }

  var offset: Int { index - bytes.startIndex }
  var atEnd: Bool { index >= bytes.endIndex }
  var peek: UInt8? { index < bytes.endIndex ? bytes[index] : nil }

  func fail(_ reason: String) -> SyntaxError { SyntaxError(reason, offset: offset) }

  mutating func skipWhitespace() {
    while index < bytes.endIndex, Syntax.isWhitespace(bytes[index]) { index += 1 }
  }

  /// Consumes `byte` (with whitespace around it) if it is next.
  mutating func take(_ byte: UInt8) -> Bool {
    let saved = index
    skipWhitespace()
    if index < bytes.endIndex, bytes[index] == byte {
      index += 1
      skipWhitespace()
      return true
    }
    index = saved
    return false
  }

  mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
    guard take(byte) else { throw fail("expected \(what)") }
  }

  mutating func token(_ what: String = "a token") throws(SyntaxError) -> ArraySlice<UInt8> {
    let start = index
    while index < bytes.endIndex, Syntax.isToken(bytes[index]) { index += 1 }
    guard index > start else { throw fail("expected \(what)") }
    return bytes[start..<index]
  }

  /// Bytes up to (not including) any byte in `stops`, or to the end.
  mutating func until(_ stops: (UInt8) -> Bool) -> ArraySlice<UInt8> {
    let start = index
    while index < bytes.endIndex, !stops(bytes[index]) { index += 1 }
    return bytes[start..<index]
  }

  /// quoted-string = DQUOTE *(qdtext / quoted-pair) DQUOTE; returns the text unescaped.
  mutating func quotedString() throws(SyntaxError) -> String {
    guard peek == Syntax.quote else { throw fail("expected a quoted string") }
    let start = index
    index += 1
    var text: [UInt8] = []
    while index < bytes.endIndex {
      let byte = bytes[index]
      if byte == Syntax.backslash {
        guard index + 1 < bytes.endIndex else { break }
        let escaped = bytes[index + 1]
        // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
        guard escaped <= 0x7F, escaped != Syntax.cr, escaped != Syntax.lf else {
          throw fail("a bad escape in a quoted string")
        }
        text.append(escaped)
        index += 2
      } else if byte == Syntax.quote {
        index += 1
        return Syntax.string(text)
      } else {
        text.append(byte)
        index += 1
      }
    }
    index = start
    throw fail("an unterminated quoted string")
  }

  /// gen-value = token / host / quoted-string (host covers IPv6 references).
  mutating func genericValue() throws(SyntaxError) -> String {
    if peek == Syntax.quote { return "\"" + (try quotedString()) + "\"" }
    if peek == UInt8(ascii: "[") {
      let value = until { $0 == UInt8(ascii: "]") }
      guard take(UInt8(ascii: "]")) else { throw fail("an IPv6 reference without ]") }
      return Syntax.string(value) + "]"
    }
    return Syntax.string(try token("a parameter value"))
  }

  /// *( SEMI generic-param ), generic-param = token [ EQUAL gen-value ].
  mutating func parameters() throws(SyntaxError) -> [SIPParameter] {
    if let (result, end) = compactParameters() {
      index = end
      return result
    }
    return try parametersGeneral()
  }

  /// The usual `;name[=token]…` with no whitespace, quotes or brackets, read in one pass; nil
  /// for anything else, which ``parametersGeneral()`` reads from the same place. Both give the
  /// same parameters and stop at the same byte (a test holds them to it): every From, To and
  /// Contact read has parameters, and the general scanner's steps were most of their cost.
  func compactParameters() -> ([SIPParameter], Int)? {
    let offset = index
    let bytes = self.bytes
    return bytes[offset...].withUnsafeBufferPointer { buffer -> ([SIPParameter], Int)? in
      var result: [SIPParameter] = []
      // Names and values read from the buffer in hand: a slice of `bytes` for each was a
      // reference count taken and dropped per part.
      let end = Self.compactParameters(in: buffer, from: 0) { name, value in
        if result.isEmpty { result.reserveCapacity(4) }
        result.append(
          SIPParameter(
            Syntax.token(UnsafeBufferPointer(rebasing: buffer[name])),
            value.map { Syntax.string(UnsafeBufferPointer(rebasing: buffer[$0])) }))
      }
      return end.map { (result, offset + $0) }
    }
  }

  /// The `;name[=token]…` run at `start` of `bytes` as ``compactParameters()`` takes it: calls
  /// `each` with every name's and value's positions, and returns where the run ends; nil for a
  /// run outside that shape (an empty name or value, whitespace after it). A client's reading of
  /// a response's top Via in place looks at its parameters through it too.
  static func compactParameters(
    in bytes: UnsafeBufferPointer<UInt8>, from start: Int,
    _ each: (_ name: Range<Int>, _ value: Range<Int>?) -> Void
  ) -> Int? {
    let count = bytes.count
    var position = start
    while position < count, bytes[position] == Syntax.semicolon {
      position += 1
      let nameStart = position
      while position < count, Syntax.isToken(bytes[position]) { position += 1 }
      let nameEnd = position
      guard nameEnd > nameStart else { return nil }
      var value: Range<Int>?
      if position < count, bytes[position] == Syntax.equals {
        position += 1
        let valueStart = position
        while position < count, Syntax.isToken(bytes[position]) { position += 1 }
        guard position > valueStart else { return nil }
        value = valueStart..<position
      }
      each(nameStart..<nameEnd, value)
    }
    // Whitespace next could be followed by more parameters: the general scanner decides.
    if position < count, Syntax.isWhitespace(bytes[position]) { return nil }
    return position
  }

  /// ``parameters()`` by the full grammar: LWS around `;` and `=`, quoted and bracketed values.
  mutating func parametersGeneral() throws(SyntaxError) -> [SIPParameter] {
    var result: [SIPParameter] = []
    while take(Syntax.semicolon) {
      if result.isEmpty { result.reserveCapacity(4) }
      let name = Syntax.token(try token("a parameter name"))
      var value: String?
      if take(Syntax.equals) { value = try genericValue() }
      result.append(SIPParameter(name, value))
    }
    return result
  }

  mutating func expectEnd(_ what: @autoclosure () -> String) throws(SyntaxError) {
    skipWhitespace()
    guard atEnd else { throw fail("unexpected text after \(what())") }
  }
}

/// Parses `value` with `body`, which must consume it all. `what` names the value in the error,
/// worked out only then (a header's name is made from its static spelling: a CSeq read made it
/// at every layer of every hop).
func parseWhole<T>(
  _ value: ArraySlice<UInt8>, _ what: @autoclosure () -> String,
  _ body: (inout ValueScanner) throws(SyntaxError) -> T
) throws(SyntaxError) -> T {
  var scanner = ValueScanner(value)
  scanner.skipWhitespace()
  let result = try body(&scanner)
  try scanner.expectEnd(what())
  return result
}

/// Parses each comma-separated element of a list header with `body`.
func parseList<T>(
  _ value: ArraySlice<UInt8>, _ what: @autoclosure () -> String, allowEmpty: Bool = false,
  _ body: (inout ValueScanner) throws(SyntaxError) -> T
) throws(SyntaxError) -> [T] {
  var result: [T] = []
  if allowEmpty && HeaderValueSplitter.trim(value).isEmpty { return [] }
  // Element by element, as HeaderValueSplitter.split cuts them, without making its array (every
  // Via, Contact and Route list of every message read).
  var start = value.startIndex
  while true {
    let end = HeaderValueSplitter.partEnd(value, from: start)
    let part = HeaderValueSplitter.trim(value[start..<end])
    guard !part.isEmpty else {
      throw SyntaxError(
        "an empty element in the \(what()) list", offset: part.startIndex - value.startIndex)
    }
    do {
      result.append(try parseWhole(part, what(), body))
    } catch {
      throw SyntaxError(error.reason, offset: error.offset + (part.startIndex - value.startIndex))
    }
    guard end < value.endIndex else { return result }
    start = end + 1
  }
}
