/// Frames SIP messages out of a byte stream (TCP, TLS): RFC 3261 §18.3.
///
/// Feed bytes as they arrive, in any chunks (one byte at a time works); `next()` returns each
/// complete message. On a stream the body length must come from Content-Length, so a message
/// without one is an error that names it; CRLFs between messages (keep-alives, RFC 5626 §3.5.1)
/// are skipped. A framing error cannot be recovered from: the framer stays failed and the
/// connection should be closed.
public struct SIPStreamFramer: Sendable {
  private var buffer: [UInt8] = []
  private var consumed = 0
  private var failure: SIPParseError?
  /// The largest header section accepted before giving up (a peer that never sends CRLFCRLF).
  public let maximumHeaderBytes: Int
  /// Keep-alive CRLFs skipped so far.
  public private(set) var keepAlives = 0

  public init(maximumHeaderBytes: Int = 65_536) {
    self.maximumHeaderBytes = maximumHeaderBytes
  }

  /// Bytes received and not yet framed into a message.
  public var pendingByteCount: Int { buffer.count - consumed }

  public mutating func append(_ bytes: some Sequence<UInt8>) {
    buffer.append(contentsOf: bytes)
  }

  /// The next complete message, nil when more bytes are needed, or the framing error.
  public mutating func next() throws(SIPParseError) -> SIPMessage? {
    if let failure { throw failure }
    // Skip keep-alive CRLFs between messages.
    while consumed < buffer.count, buffer[consumed] == Syntax.cr || buffer[consumed] == Syntax.lf {
      if buffer[consumed] == Syntax.lf { keepAlives += 1 }
      consumed += 1
    }
    compact()
    guard !buffer.isEmpty else { return nil }
    guard let headerEnd = headerSectionEnd() else {
      if buffer.count > maximumHeaderBytes {
        let error = SIPParseError(
          "no end of the header section within \(maximumHeaderBytes) bytes", line: 1, column: 1)
        failure = error
        throw error
      }
      return nil
    }
    var parser = MessageParser(bytes: buffer)
    do {
      let message = try parser.parseMessage(stream: true)
      consumed = parser.index
      return message
    } catch {
      if parser.incomplete { return nil }
      _ = headerEnd
      failure = error
      throw error
    }
  }

  /// Where the header section ends (index after CRLFCRLF, or LFLF), if it has.
  private func headerSectionEnd() -> Int? {
    var index = 0
    while index < buffer.count {
      if buffer[index] == Syntax.lf {
        if index + 1 < buffer.count, buffer[index + 1] == Syntax.lf { return index + 2 }
        if index + 2 < buffer.count, buffer[index + 1] == Syntax.cr, buffer[index + 2] == Syntax.lf
        {
          return index + 3
        }
      }
      index += 1
    }
    return nil
  }

  private mutating func compact() {
    if consumed > 0 {
      buffer.removeFirst(consumed)
      consumed = 0
    }
  }
}
