/// A message that breaks the grammar of RFC 3261 §25, with where: the 1-based line and column
/// of the offending byte and, for a header, its name.
public struct SIPParseError: Error, Sendable, Hashable, CustomStringConvertible {
  public var reason: String
  public var line: Int
  public var column: Int
  /// The header the error is in, as it was spelled, if any.
  public var header: String?

  public init(_ reason: String, line: Int, column: Int, header: String? = nil) {
    self.reason = reason
    self.line = line
    self.column = column
    self.header = header
  }

  public var description: String { "\(reason) (line \(line), column \(column))" }
}

extension SIPMessage {
  /// Parses one message with datagram semantics (§18.3): the body is `Content-Length` bytes
  /// (extra bytes after it are ignored), or the rest of the datagram when the header is absent.
  /// Leading CRLFs are skipped (§7.5). Only framing, the start line and the split into header
  /// fields are checked here; `check()` validates header values.
  public static func parse(_ bytes: [UInt8]) throws(SIPParseError) -> SIPMessage {
    var parser = MessageParser(bytes: bytes)
    return try parser.parseMessage(stream: false)
  }

  /// Parses UTF-8 text (convenient in tests and examples).
  public static func parse(_ text: String) throws(SIPParseError) -> SIPMessage {
    try parse(Array(text.utf8))
  }
}

/// The byte-level parser. It walks the buffer once, keeping line and column for errors; header
/// values are slices of the input (no copy) unless they were folded.
struct MessageParser {
  let bytes: [UInt8]
  var index = 0
  var line = 1
  var lineStart = 0
  /// Set when a stream message's body has not fully arrived (not an error: wait for more).
  var incomplete = false

  /// Content-Length fields seen so far, and the index of the last one.
  var contentLengthCount = 0
  var contentLengthIndex = 0

  init(bytes: [UInt8]) { self.bytes = bytes }

  func error(_ reason: String, at position: Int? = nil, header: String? = nil) -> SIPParseError {
    let position = position ?? index
    return SIPParseError(reason, line: line, column: position - lineStart + 1, header: header)
  }

  /// The end of the current line (index of CR of CRLF, or of a bare LF), or nil at end of input.
  func lineEnd(from start: Int) -> Int? {
    // A plain loop: slicing `bytes` here would retain the buffer once per line.
    let count = bytes.count
    guard start < count else { return nil }
    let found = bytes.withUnsafeBufferPointer { buffer -> Int in
      ByteScan.firstLineFeed(in: buffer, from: start)
    }
    let position = found
    guard position < count else { return nil }
    return position > start && bytes[position - 1] == Syntax.cr ? position - 1 : position
  }

  /// Moves past the line ending at `end` (CRLF or LF).
  mutating func advanceLine(from end: Int) {
    index = end < bytes.count && bytes[end] == Syntax.cr ? end + 2 : end + 1
    line += 1
    lineStart = index
  }

  mutating func parseMessage(stream: Bool) throws(SIPParseError) -> SIPMessage {
    // A header field keeps 32-bit offsets into the message's bytes.
    guard bytes.count <= Int(Int32.max) else {
      throw SIPParseError("a message of 2 GiB or more", line: 1, column: 1)
    }
    // §7.5: ignore CRLFs before the start line.
    while index < bytes.count, bytes[index] == Syntax.cr || bytes[index] == Syntax.lf {
      if bytes[index] == Syntax.lf {
        line += 1
        lineStart = index + 1
      }
      index += 1
    }
    guard index < bytes.count else { throw error("empty message") }
    guard let end = lineEnd(from: index) else {
      throw error("the start line does not end with CRLF")
    }
    let startLine = try parseStartLine(index..<end)
    advanceLine(from: end)
    var headers: [SIPHeaderField] = []
    // Room for the usual non-INVITE request or response (7 to 10 fields); a longer header
    // section grows the array once. Room for 16 cost 300 bytes more in every message a
    // transaction keeps for its 32 s: −9% peak memory at 200,000 transactions, +0.1%
    // instructions for calls (whose INVITEs grow it).
    headers.reserveCapacity(10)
    while true {
      guard let end = lineEnd(from: index) else {
        throw error("the header section does not end with an empty line")
      }
      if end == index {
        advanceLine(from: end)
        break
      }
      try parseField(lineEnd: end, into: &headers)
    }
    let bodyStart = index
    let available = bytes.count - bodyStart
    var length: Int?
    var lengthField: SIPHeaderField?
    // Usually one Content-Length, found while parsing; look again only when there are several.
    let lengthIndices: Range<Int> =
      contentLengthCount == 1
      ? contentLengthIndex..<contentLengthIndex + 1
      : contentLengthCount == 0 ? 0..<0 : headers.indices
    for index in lengthIndices where headers[index].known == .contentLength {
      let field = headers[index]
      let value = try contentLength(field)
      if let length, length != value {
        throw SIPParseError(
          "conflicting Content-Length values", line: field.line, column: field.column,
          header: field.name)
      }
      length = value
      lengthField = field
    }
    let body: [UInt8]
    if let length {
      if length > available {
        incomplete = stream
        let field = lengthField
        throw SIPParseError(
          stream
            ? "incomplete body"
            : "Content-Length \(length) is larger than the \(available) bytes of body",
          line: field?.line ?? line, column: field?.column ?? 1, header: field?.name)
      }
      body = Array(bytes[bodyStart..<(bodyStart + length)])
      index = bodyStart + length
    } else {
      if stream {
        throw error("a message on a stream must have Content-Length", header: "Content-Length")
      }
      body = Array(bytes[bodyStart...])
      index = bytes.count
    }
    return SIPMessage(startLine: startLine, headers: headers, body: body)
  }

  func contentLength(_ field: SIPHeaderField) throws(SIPParseError) -> Int {
    let value = field.valueBytes
    guard !value.isEmpty, value.allSatisfy(Syntax.isDigit) else {
      throw SIPParseError(
        "Content-Length is not a non-negative integer", line: field.line, column: field.column,
        header: field.name)
    }
    var number = 0
    for digit in value {
      let (times, overflow1) = number.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) = times.addingReportingOverflow(Int(digit - 48))
      guard !overflow1, !overflow2, sum <= Int(UInt32.max) else {
        throw SIPParseError(
          "Content-Length is too large", line: field.line, column: field.column,
          header: field.name)
      }
      number = sum
    }
    return number
  }

  // MARK: Start line (§7.1, §7.2, §25: Request-Line, Status-Line)

  func parseStartLine(_ range: Range<Int>) throws(SIPParseError) -> SIPMessage.StartLine {
    let text = bytes[range]
    if let first = text.first, Syntax.isWhitespace(first) {
      throw error("whitespace before the start line", at: range.lowerBound)
    }
    // Find the first three spaces (no allocation: this runs for every message).
    var spaces = 0
    var firstSpace = range.upperBound
    var secondSpace = range.upperBound
    var thirdSpace = range.upperBound
    var doubleSpace: Int?
    var position = range.lowerBound
    while position < range.upperBound {
      let byte = bytes[position]
      if byte == Syntax.space {
        if position > range.lowerBound, bytes[position - 1] == Syntax.space, doubleSpace == nil {
          doubleSpace = position
        }
        spaces += 1
        switch spaces {
        case 1: firstSpace = position
        case 2: secondSpace = position
        case 3: thirdSpace = position
        default: break
        }
      } else if byte == Syntax.tab || byte < 32 || byte == 127 {
        throw error("a control character or tab in the start line", at: position)
      }
      position += 1
    }
    let part0 = range.lowerBound..<firstSpace
    let part1 = min(firstSpace + 1, range.upperBound)..<secondSpace
    let part2 = min(secondSpace + 1, range.upperBound)..<thirdSpace
    if isVersion(bytes[part0]) {
      // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase: the phrase may hold spaces.
      guard spaces >= 2 else {
        throw error("a Status-Line needs a version, a status code and a reason phrase")
      }
      let code = bytes[part1]
      guard code.count == 3, code.allSatisfy(Syntax.isDigit) else {
        throw error("the status code must be three digits from 100 to 699", at: part1.lowerBound)
      }
      let status = code.reduce(0) { $0 * 10 + Int($1 - 48) }
      guard (100...699).contains(status) else {
        throw error("the status code must be three digits from 100 to 699", at: part1.lowerBound)
      }
      // Version, method and the usual reason phrases come back as literals (Syntax.token).
      let reason = Syntax.token(bytes[part2.lowerBound..<range.upperBound])
      return .response(version: Syntax.token(bytes[part0]), status: status, reason: reason)
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly two single spaces.
    if let last = bytes[range].last, last == Syntax.space {
      var position = range.upperBound
      while position > range.lowerBound, bytes[position - 1] == Syntax.space { position -= 1 }
      throw error("space at the end of the Request-Line", at: position)
    }
    if let doubleSpace {
      throw error("more than one space between Request-Line elements", at: doubleSpace)
    }
    guard spaces == 2 else {
      if spaces < 2 {
        throw error("a Request-Line needs a method, a Request-URI and a SIP version")
      }
      throw error("spaces inside the Request-URI", at: part2.lowerBound)
    }
    let method = bytes[part0]
    guard !method.isEmpty else {
      throw error("the Request-Line has no method", at: part0.lowerBound)
    }
    for (offset, byte) in method.enumerated() where !Syntax.isToken(byte) {
      throw error("the method is not a token", at: part0.lowerBound + offset)
    }
    let uri = bytes[part1]
    if uri.first == Syntax.less {
      throw error("the Request-URI must not be enclosed in <>", at: part1.lowerBound)
    }
    guard uri.contains(Syntax.colon) else {
      throw error("the Request-URI has no scheme", at: part1.lowerBound)
    }
    guard isVersion(bytes[part2]) else {
      throw error("the Request-Line does not end with a SIP version", at: part2.lowerBound)
    }
    return .request(
      method: Syntax.token(method), uri: Syntax.string(uri), version: Syntax.token(bytes[part2]))
  }

  /// SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT (case-insensitive "SIP").
  func isVersion(_ text: ArraySlice<UInt8>) -> Bool {
    // `SIP/2.0` as every message spells it, compared as one word; anything else by the grammar.
    if text.count == 7 {
      let word = text.withUnsafeBytes { bytes in
        bytes.loadUnaligned(as: UInt32.self) == UInt32(littleEndian: 0x2F50_4953)
          && bytes.loadUnaligned(fromByteOffset: 3, as: UInt32.self)
            == UInt32(littleEndian: 0x302E_322F)
      }
      if word { return true }
    }
    guard text.count >= 7, Syntax.equalsLowercase(text.prefix(4), "sip/") else { return false }
    let rest = text.dropFirst(4)
    guard let dot = rest.firstIndex(of: UInt8(ascii: ".")) else { return false }
    let major = rest[..<dot]
    let minor = rest[(dot + 1)...]
    return !major.isEmpty && !minor.isEmpty && major.allSatisfy(Syntax.isDigit)
      && minor.allSatisfy(Syntax.isDigit)
  }

  // MARK: Header fields (§7.3)

  /// One field: `name HCOLON value`, the value running over continuation lines that start with
  /// whitespace (§7.3.1), which are unfolded to one space each.
  mutating func parseField(lineEnd end: Int, into headers: inout [SIPHeaderField])
    throws(SIPParseError)
  {
    let start = index
    if Syntax.isWhitespace(bytes[start]) {
      throw error("a continuation line with no header before it", at: start)
    }
    var position = start
    // The name's last eight bytes packed as it is scanned: what tells which header it is.
    var tail: UInt64 = 0
    while position < end, Syntax.isToken(bytes[position]) {
      tail = KnownHeader.packing(bytes[position], into: tail)
      position += 1
    }
    let nameEnd = position
    let known = bytes.withUnsafeBufferPointer { bytes in
      KnownHeader(name: UnsafeBufferPointer(rebasing: bytes[start..<nameEnd]), tail: tail)
    }
    while position < end, Syntax.isWhitespace(bytes[position]) { position += 1 }
    guard nameEnd > start, position < end, bytes[position] == Syntax.colon else {
      if nameEnd == start {
        throw error("a header name must be a token", at: start)
      }
      throw error("a header line without a colon", at: position)
    }
    guard nameEnd - start <= SIPHeaderField.maxNameLength else {
      throw error("a header name longer than 65,535 bytes", at: start)
    }
    if known == .contentLength {
      contentLengthCount += 1
      contentLengthIndex = headers.count
    }
    position += 1
    while position < end, Syntax.isWhitespace(bytes[position]) { position += 1 }
    let valueLine = line
    let valueColumn = position - lineStart + 1
    var valueEnd = end
    // Continuation lines?
    var nextStart = end < bytes.count && bytes[end] == Syntax.cr ? end + 2 : end + 1
    if nextStart < bytes.count, Syntax.isWhitespace(bytes[nextStart]) {
      var value = Array(bytes[position..<end])
      var currentEnd = end
      while nextStart < bytes.count, Syntax.isWhitespace(bytes[nextStart]) {
        line += 1
        lineStart = nextStart
        guard let following = lineEnd(from: nextStart) else {
          throw error("the header section does not end with an empty line")
        }
        var contentStart = nextStart
        while contentStart < following, Syntax.isWhitespace(bytes[contentStart]) {
          contentStart += 1
        }
        while let last = value.last, Syntax.isWhitespace(last) { value.removeLast() }
        if contentStart < following {
          if !value.isEmpty { value.append(Syntax.space) }
          value.append(contentsOf: bytes[contentStart..<following])
        }
        currentEnd = following
        nextStart =
          following < bytes.count && bytes[following] == Syntax.cr ? following + 2 : following + 1
      }
      while let last = value.last, Syntax.isWhitespace(last) { value.removeLast() }
      advanceLine(from: currentEnd)
      let storage = Array(bytes[start..<nameEnd]) + value
      headers.append(
        SIPHeaderField(
          buffer: storage, start: 0, nameLength: nameEnd - start, valueOffset: nameEnd - start,
          end: storage.count, line: valueLine, column: valueColumn, known: known))
      return
    }
    while valueEnd > position, Syntax.isWhitespace(bytes[valueEnd - 1]) { valueEnd -= 1 }
    advanceLine(from: end)
    headers.append(
      SIPHeaderField(
        buffer: bytes, start: start, nameLength: nameEnd - start, valueOffset: position - start,
        end: valueEnd, line: valueLine, column: valueColumn, known: known))
  }
}

/// Byte searches the parser runs over every message.
package enum ByteScan {
  /// The index of the first LF in `buffer` at or after `start`, or `buffer.count`. Eight bytes
  /// at a time (a word compared with eight LFs at once: the classic has-zero-byte test, whose
  /// lowest flagged byte is always a true match): looking for each line's end byte by byte was
  /// a fifth of a message's parse.
  package static func firstLineFeed(in buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
    let count = buffer.count
    guard let base = buffer.baseAddress, start < count else { return count }
    var position = max(start, 0)
    let ones: UInt64 = 0x0101_0101_0101_0101
    let lineFeeds = ones &* UInt64(Syntax.lf)
    while count - position >= 8 {
      let word = UInt64(
        littleEndian: UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self))
      let matched = word ^ lineFeeds
      let flags = (matched &- ones) & ~matched & (ones &* 0x80)
      if flags != 0 { return position + flags.trailingZeroBitCount / 8 }
      position += 8
    }
    while position < count, base[position] != Syntax.lf { position += 1 }
    return position
  }
}
