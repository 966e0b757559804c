/// A response an element would send (status and reason phrase).
public struct SuggestedResponse: Sendable, Hashable, CustomStringConvertible {
  public var status: Int
  public var reason: String
  public init(_ status: Int, _ reason: String) {
    self.status = status
    self.reason = reason
  }
  public var description: String { "\(status) \(reason)" }
}

/// The verdict on a parsed message, drawing the line RFC 4475 draws.
public enum MessageVerdict: Sendable, Hashable {
  /// Well-formed, and nothing for an element to object to.
  case acceptable
  /// Well-formed but semantically odd: an element would answer this (416, 420, 415, …).
  case answer(SuggestedResponse)
  /// Broken: the error, and the response a UAS would send to a request (nil for a response,
  /// which an element discards, §18.1.2).
  case invalid(SIPParseError, SuggestedResponse?)

  public var isValid: Bool {
    if case .invalid = self { return false }
    return true
  }
}

extension SIPMessage {
  /// Methods this package knows (RFC 3261 and common extensions); others get 501 (§8.2.1).
  public static let knownMethods: Set<String> = [
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "PRACK", "SUBSCRIBE",
    "NOTIFY", "UPDATE", "MESSAGE", "REFER", "PUBLISH",
  ]

  /// Validates what parsing left unchecked: every known header's grammar, single-valued headers,
  /// the mandatory headers of §8.1.1, the version, the CSeq method; then what a UAS would answer
  /// to a well-formed request it cannot accept (§8.2: 501, 416, 420, 415, 406; 483 for a proxy).
  public func check(supportedExtensions: [String] = []) -> MessageVerdict {
    let isRequest = self.isRequest
    func invalid(_ error: SIPParseError, _ status: Int, _ reason: String) -> MessageVerdict {
      .invalid(error, isRequest ? SuggestedResponse(status, reason) : nil)
    }
    // 1. Grammar of every known header.
    for field in headers {
      do {
        try HeaderGrammar.validate(field)
      } catch {
        let name = HeaderName.displayName(field.canonicalName)
        return invalid(
          SIPParseError(
            "bad \(name) header: \(error.reason)", line: field.line,
            column: field.column + error.offset, header: field.name), 400, "Bad \(name) Header")
      }
    }
    // 2. One value in a single-valued header.
    for name in HeaderName.singleValued {
      let fields = headers.filter { $0.isNamed(name) }
      guard let first = fields.first else { continue }
      let split = HeaderName.neverSplit.contains(name) ? 1 : values(name).count
      if fields.count > 1 || split > 1 {
        let culprit = fields.count > 1 ? fields[1] : first
        let display = HeaderName.displayName(name)
        return invalid(
          SIPParseError(
            "more than one \(display) value", line: culprit.line, column: culprit.column,
            header: culprit.name), 400, "Multiple \(display) Values")
      }
    }
    // 3. Mandatory headers (§8.1.1; Max-Forwards is left out so RFC 2543 requests pass, §8.1.1.6).
    let headerEnd = (headers.last?.line ?? 1) + 1
    for name in ["to", "from", "cseq", "call-id", "via"] where value(name) == nil {
      let display = HeaderName.displayName(name)
      return invalid(
        SIPParseError("missing \(display) header", line: headerEnd, column: 1), 400,
        "Missing \(display) Header")
    }
    // 4. Version.
    if version.uppercased() != "SIP/2.0" {
      return invalid(
        SIPParseError("unsupported SIP version \(version)", line: 1, column: 1), 505,
        "Version Not Supported")
    }
    guard case .request(let method, let uriText, _) = startLine else { return .acceptable }
    // 5. CSeq method matches the request method (§8.1.1.5).
    if let cseq, cseq.method != method {
      let field = headers.first { $0.known == .cseq }
      let known = Self.knownMethods.contains(method)
      return invalid(
        SIPParseError(
          "the CSeq method \(cseq.method) does not match the request method \(method)",
          line: field?.line ?? 1, column: field?.column ?? 1, header: field?.name),
        known ? 400 : 501, known ? "CSeq Method Does Not Match" : "Not Implemented")
    }
    // 6. The Request-URI.
    let column = method.utf8.count + 2
    let uri: SIPURI
    do {
      uri = try SIPURI(uriText)
    } catch {
      return invalid(
        SIPParseError("bad Request-URI: \(error.reason)", line: 1, column: column + error.offset),
        400, "Bad Request-URI")
    }
    if uri.isSIP && !uri.headers.isEmpty {
      return invalid(
        SIPParseError(
          "the Request-URI must not contain headers (§19.1.5)", line: 1, column: column),
        400, "Bad Request-URI")
    }
    // What a UAS would answer, in the order of §8.2.
    if !Self.knownMethods.contains(method) {
      return .answer(SuggestedResponse(501, "Not Implemented"))
    }
    if !uri.isSIP && uri.scheme != "tel" {
      return .answer(SuggestedResponse(416, "Unsupported URI Scheme"))
    }
    let supported = Set(supportedExtensions.map { $0.lowercased() })
    let unsupported = (require + proxyRequire).filter { !supported.contains($0.lowercased()) }
    if !unsupported.isEmpty && method != "ACK" && method != "CANCEL" {
      return .answer(SuggestedResponse(420, "Bad Extension"))
    }
    if method == "INVITE", !body.isEmpty {
      if let type = contentType, !type.matches("application", "sdp"),
        !type.matches("multipart", "mixed"), !type.matches("multipart", "alternative")
      {
        return .answer(SuggestedResponse(415, "Unsupported Media Type"))
      }
    }
    if method == "INVITE", value("accept") != nil,
      !accept.contains(where: { $0.matches("application", "sdp") })
    {
      return .answer(SuggestedResponse(406, "Not Acceptable"))
    }
    if maxForwards == 0 {
      return .answer(SuggestedResponse(483, "Too Many Hops"))
    }
    return .acceptable
  }
}

extension HeaderName {
  /// The usual spelling of a canonical (lower-case long) name: `call-id` → `Call-ID`.
  static func displayName(_ canonical: String) -> String {
    switch canonical {
    case "call-id": return "Call-ID"
    case "cseq": return "CSeq"
    case "www-authenticate": return "WWW-Authenticate"
    case "mime-version": return "MIME-Version"
    default:
      return canonical.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }
        .joined(separator: "-")
    }
  }
}
