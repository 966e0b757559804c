/// Building responses and ACKs from requests, and editing the Via stack: the pieces every layer
/// above the parser needs (RFC 3261 §8.2.6, §17.1.1.3, §18.2.1).
extension SIPMessage {
  /// The response to this request, built as RFC 3261 §8.2.6.1 says: the From, Call-ID, CSeq and
  /// every Via copied in order, To copied with `toTag` added when the request's To has no tag
  /// (a 100 Trying is sent without one), Timestamp echoed for 100, and `Content-Length: 0`.
  ///
  /// - Parameter reason: the reason phrase; nil uses ``SIPMessage/defaultReason(for:)``.
  public func response(status: Int, reason: String? = nil, toTag: String? = nil) -> SIPMessage {
    var response = SIPMessage(
      startLine: .response(
        version: "SIP/2.0", status: status, reason: reason ?? Self.defaultReason(for: status)))
    // §8.2.6.2: Via fields in the same order, the other headers of the dialog copied.
    response.headers.reserveCapacity(headers.count + 2)
    // The fields are looked at in place (through the buffer, each name test borrows the
    // field); only those copied into the response are copied.
    headers.withUnsafeBufferPointer { fields in
      for index in fields.indices {
        let copied =
          fields[index].known == .via || fields[index].known == .from
          || fields[index].known == .callID || fields[index].known == .cseq
          || (status == 100 && fields[index].known == .timestamp)
        if copied { response.headers.append(fields[index]) }
      }
    }
    // The To is copied as it came (§8.2.6.2: the response's To equals the request's), with the
    // tag appended when it has none: no need to parse and re-print the address.
    if var to = firstIndex(.to).map({ headers[$0] }) {
      if let toTag, status != 100, NameAddress.tag(in: to.valueBytes) == nil {
        to = SIPHeaderField(
          nameBytes: to.nameBytes, valueBytes: to.valueBytes, tag: toTag, known: to.known)
      }
      if let cseqIndex = response.headers.firstIndex(where: { $0.known == .cseq }) {
        response.headers.insert(to, at: cseqIndex)
      } else {
        response.headers.append(to)
      }
    }
    // The shared field itself (appending by name and value compared both strings first).
    response.headers.append(SIPHeaderField.contentLengthZero)
    return response
  }

  /// A response that creates a dialog (a 101–299 to INVITE): ``response(status:reason:toTag:)``
  /// with every Record-Route of the request copied in order (RFC 3261 §12.1.1), so the caller
  /// learns the route set the proxies asked for.
  public func dialogResponse(status: Int, reason: String? = nil, toTag: String) -> SIPMessage {
    var response = response(status: status, reason: reason, toTag: toTag)
    let position = response.headers.firstIndex { $0.known == .from } ?? 0
    response.headers.insert(
      contentsOf: headers.filter { $0.known == .recordRoute }, at: position)
    return response
  }

  /// The ACK an INVITE client transaction sends for a non-2xx final `response` to this INVITE
  /// (RFC 3261 §17.1.1.3): same Request-URI, Call-ID, From, CSeq number, the To of the response,
  /// only the top Via of the INVITE (same branch), the INVITE's Route fields, and its credentials
  /// (§22.1).
  public func ackForNonSuccess(_ response: SIPMessage) -> SIPMessage {
    var ack = SIPMessage.request(method: "ACK", uri: requestURIText ?? "")
    if let via = fields("via").first, let top = vias.first {
      ack.append(via.name, top)
    }
    for field in headers where field.known == .maxForwards { ack.headers.append(field) }
    for field in headers where field.known == .from || field.known == .callID {
      ack.headers.append(field)
    }
    if let to = response.fields("to").first {
      ack.headers.append(to)
    } else if let to = fields("to").first {
      ack.headers.append(to)
    }
    if let cseq {
      ack.append("CSeq", "\(cseq.sequence) ACK")
    }
    for field in headers where field.known == .route { ack.headers.append(field) }
    // §22.1: the ACK carries every Authorization and Proxy-Authorization of its INVITE.
    for field in headers
    where field.known == .authorization || field.known == .proxyAuthorization {
      ack.headers.append(field)
    }
    ack.append("Content-Length", "0")
    return ack
  }

  /// The CANCEL for this request (RFC 3261 §9.1): its Request-URI, Call-ID, To, From, Route,
  /// Max-Forwards and CSeq number, with CSeq method CANCEL and no body. It has no Via: the
  /// sender adds one with the request's branch, so it matches the same server transaction.
  public func cancelRequest() -> SIPMessage {
    var cancel = SIPMessage.request(method: "CANCEL", uri: requestURIText ?? "")
    for field in headers
    where field.known == .route || field.known == .to || field.known == .from
      || field.known == .callID || field.known == .maxForwards
    {
      cancel.headers.append(field)
    }
    cancel.append("CSeq", "\(cseq?.sequence ?? 1) CANCEL")
    cancel.append("Content-Length", "0")
    return cancel
  }

  /// Adds a field just before Content-Length, which the builders here keep last.
  public mutating func insertBeforeLength(_ name: String, _ value: String) {
    insertBeforeLength(SIPHeaderField(name: name, value: value))
  }

  /// Adds a field whose typed value prints its own bytes just before Content-Length (a
  /// registrar's 200 lists every binding so: printing each to a `String` first cost an
  /// allocation and a copy per Contact).
  public mutating func insertBeforeLength(_ name: String, _ value: some HeaderValueWriter) {
    insertBeforeLength(SIPHeaderField(name: name, value: value))
  }

  private mutating func insertBeforeLength(_ field: SIPHeaderField) {
    if let index = firstIndex(.contentLength) {
      headers.insert(field, at: index)
    } else {
      headers.append(field)
    }
  }

  /// Replaces the topmost Via value, splitting a comma-separated first Via field when needed so
  /// the others keep their bytes (a server adds `received` / `rport` this way, RFC 3581 §4).
  public mutating func replaceTopVia(_ via: Via) {
    guard let index = firstIndex(.via) else {
      prepend("Via", via)
      return
    }
    let rest = Self.afterFirstValue(headers[index])
    headers[index] = SIPHeaderField(name: headers[index].name, value: via)
    if let rest { headers.insert(rest, at: index + 1) }
  }

  /// Writes `;received=<received>` after the top Via value and `=<rport>` after its empty
  /// `rport` parameter, straight into the bytes (§18.2.1, RFC 3581 §4), every other byte kept as
  /// it came: every request a server receives over UDP is stamped, and parsing the Via to print
  /// it again cost more than the rest of its arrival. For a Via as this package prints one, the
  /// result is what printing the stamped Via gives. Returns false and changes nothing when the
  /// edit is not plain: quotes, a `received` already there, an `rport` with a value or several,
  /// whitespace inside the parameters, `rport` given without an empty `rport` or the other way
  /// round; the caller then prints the stamped Via (``replaceTopVia(_:)``).
  package mutating func stampTopVia(received: String, rport: Int?) -> Bool {
    guard let index = firstIndex(.via) else { return false }
    let field = headers[index]
    let value = field.valueBytes
    // One pass over the first value: where it ends (the first comma: quotes, which could hide
    // one, send the Via to be printed again), and where its empty `rport` name ends.
    let scan = value.withUnsafeBufferPointer { bytes -> (end: Int, rportEnd: Int?)? in
      var position = 0
      let count = bytes.count
      // sent-protocol and sent-by hold no `;`.
      while position < count, bytes[position] != Syntax.semicolon {
        let byte = bytes[position]
        if byte == Syntax.comma { break }
        guard byte != Syntax.quote else { return nil }
        position += 1
      }
      var rportEnd: Int?
      while position < count, bytes[position] == Syntax.semicolon {
        position += 1
        let nameStart = position
        while position < count, Syntax.isToken(bytes[position]) { position += 1 }
        let length = position - nameStart
        // `received` already there, or any parameter name spelled otherwise than re-printing
        // would, goes to the printer.
        if length == 8, Syntax.lower(bytes[nameStart]) == UInt8(ascii: "r"),
          Syntax.lower(bytes[nameStart + 2]) == UInt8(ascii: "c")
        {
          return nil
        }
        if length == 5, Syntax.lower(bytes[nameStart]) == UInt8(ascii: "r"),
          Syntax.lower(bytes[nameStart + 1]) == UInt8(ascii: "p")
        {
          guard rportEnd == nil, bytes[nameStart] == UInt8(ascii: "r"),
            bytes[nameStart + 1] == UInt8(ascii: "p"), bytes[nameStart + 2] == UInt8(ascii: "o"),
            bytes[nameStart + 3] == UInt8(ascii: "r"), bytes[nameStart + 4] == UInt8(ascii: "t")
          else { return nil }
          rportEnd = position
        }
        if position < count, bytes[position] == Syntax.equals {
          guard rportEnd != position else { return nil }
          position += 1
          while position < count, bytes[position] != Syntax.semicolon,
            bytes[position] != Syntax.comma
          {
            guard bytes[position] != Syntax.quote, !Syntax.isWhitespace(bytes[position]) else {
              return nil
            }
            position += 1
          }
        }
      }
      guard position == count || bytes[position] == Syntax.comma else { return nil }
      return (position, rportEnd)
    }
    guard let scan, (rport == nil) == (scan.rportEnd == nil) else { return false }
    let base = value.startIndex
    let split = base + (scan.rportEnd ?? scan.end)
    let end = base + scan.end
    let stamped = SIPHeaderField(
      nameBytes: field.nameBytes, head: value[base..<split], rport: rport,
      tail: value[split..<end], received: received)
    let rest = end < value.endIndex ? HeaderValueSplitter.trim(value[(end + 1)...]) : []
    headers[index] = stamped
    if !rest.isEmpty {
      headers.insert(SIPHeaderField(nameBytes: field.nameBytes, valueBytes: rest), at: index + 1)
    }
    return true
  }

  /// Removes the topmost Via value (a response leaving a proxy, §16.7 step 3; a client checks
  /// there is exactly one left, §18.1.2).
  public mutating func removeTopVia() {
    removeFirstValue(of: "via")
  }

  /// Removes the first value of the header `canonical` (a lower-case long name), splitting a
  /// comma-separated field so the other values keep their bytes: the top Via, or the first
  /// Route a proxy takes off (§16.4).
  public mutating func removeFirstValue(of canonical: String) {
    guard let index = firstIndex(named: canonical) else { return }
    if let rest = Self.afterFirstValue(headers[index]) {
      headers[index] = rest
    } else {
      headers.remove(at: index)
    }
  }

  /// The values after the first of a comma-separated field, as a field of their own with
  /// their bytes unchanged; nil when the field holds one value.
  static func afterFirstValue(_ field: SIPHeaderField) -> SIPHeaderField? {
    let value = field.valueBytes
    let end = HeaderValueSplitter.partEnd(value, from: value.startIndex)
    guard end < value.endIndex else { return nil }
    let rest = HeaderValueSplitter.trim(value[(end + 1)...])
    guard !rest.isEmpty else { return nil }
    return SIPHeaderField(nameBytes: field.nameBytes, valueBytes: rest)
  }

  /// The reason phrase RFC 3261 §21 gives a status code (and RFC 3265/6026-era common ones);
  /// for an unknown code, the phrase of its class.
  public static func defaultReason(for status: Int) -> String {
    switch status {
    case 100: "Trying"
    case 180: "Ringing"
    case 181: "Call Is Being Forwarded"
    case 182: "Queued"
    case 183: "Session Progress"
    case 200: "OK"
    case 202: "Accepted"
    case 300: "Multiple Choices"
    case 301: "Moved Permanently"
    case 302: "Moved Temporarily"
    case 305: "Use Proxy"
    case 380: "Alternative Service"
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 402: "Payment Required"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 405: "Method Not Allowed"
    case 406: "Not Acceptable"
    case 407: "Proxy Authentication Required"
    case 408: "Request Timeout"
    case 410: "Gone"
    case 413: "Request Entity Too Large"
    case 414: "Request-URI Too Long"
    case 415: "Unsupported Media Type"
    case 416: "Unsupported URI Scheme"
    case 420: "Bad Extension"
    case 421: "Extension Required"
    case 423: "Interval Too Brief"
    case 480: "Temporarily Unavailable"
    case 481: "Call/Transaction Does Not Exist"
    case 482: "Loop Detected"
    case 483: "Too Many Hops"
    case 484: "Address Incomplete"
    case 485: "Ambiguous"
    case 486: "Busy Here"
    case 487: "Request Terminated"
    case 488: "Not Acceptable Here"
    case 491: "Request Pending"
    case 493: "Undecipherable"
    case 500: "Server Internal Error"
    case 501: "Not Implemented"
    case 502: "Bad Gateway"
    case 503: "Service Unavailable"
    case 504: "Server Time-out"
    case 505: "Version Not Supported"
    case 513: "Message Too Large"
    case 600: "Busy Everywhere"
    case 603: "Decline"
    case 604: "Does Not Exist Anywhere"
    case 606: "Not Acceptable"
    case ..<200: "Provisional"
    case ..<300: "Success"
    case ..<400: "Redirection"
    case ..<500: "Client Error"
    case ..<600: "Server Error"
    default: "Global Failure"
    }
  }
}
