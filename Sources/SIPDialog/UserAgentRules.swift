public import SIPCore

/// What a user agent server supports, which its inspections (§8.2) compare requests against and
/// its OPTIONS answer (§11.2) advertises.
public struct UACapabilities: Sendable, Hashable {
  /// Methods it implements (Allow).
  public var methods: [String]
  /// Option tags it supports (Supported); a Require naming any other gets 420 (§8.2.2.3).
  public var extensions: [String]
  /// Body types it understands (Accept).
  public var contentTypes: [String]
  /// Content codings (Accept-Encoding).
  public var encodings: [String]
  /// Languages (Accept-Language).
  public var languages: [String]

  public init(
    methods: [String] = ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"],
    extensions: [String] = [], contentTypes: [String] = ["application/sdp"],
    encodings: [String] = ["identity"], languages: [String] = ["en"]
  ) {
    self.methods = methods
    self.extensions = extensions
    self.contentTypes = contentTypes
    self.encodings = encodings
    self.languages = languages
  }

  /// The headers an OPTIONS answer carries (§11.2) and a 405 / 415 / 420 names.
  public var allowHeader: String { methods.joined(separator: ", ") }
  public var acceptHeader: String { contentTypes.joined(separator: ", ") }
}

/// A response a server inspection decided on: the status, its reason and the headers that
/// explain it (Allow, Unsupported, Accept, …).
public struct Rejection: Sendable, Hashable, CustomStringConvertible {
  public var status: Int
  public var reason: String
  public var headers: [SIPParameter]

  public init(_ status: Int, _ reason: String, headers: [SIPParameter] = []) {
    self.status = status
    self.reason = reason
    self.headers = headers
  }

  /// The response to `request` (§8.2.6) with this status, reason and headers.
  public func response(to request: SIPMessage, toTag: String?) -> SIPMessage {
    var response = request.response(status: status, reason: reason, toTag: toTag)
    for header in headers {
      response.headers.insert(
        SIPHeaderField(name: header.name, value: header.value ?? ""),
        at: max(0, response.headers.count - 1))
    }
    return response
  }

  public var description: String { "\(status) \(reason)" }
}

/// The UAS core's inspections of a new request (RFC 3261 §8.2), in the RFC's order: the
/// request is well formed (400 naming what is wrong), the method is known and allowed (501,
/// 405 with Allow, §8.2.1), the Request-URI scheme is understood (416, §8.2.2.1), every Require
/// tag is supported (420 with Unsupported, §8.2.2.3), the body can be processed (415 with
/// Accept, Accept-Encoding, Accept-Language, §8.2.3). Merged requests (482, §8.2.2.2) need
/// memory and are ``MergedRequestDetector``'s job.
public enum UASInspection {
  /// The methods RFC 3261 and its common extensions define: one of these not implemented gets
  /// 405; any other method gets 501 (§8.2.1, §21.5.2).
  public static let knownMethods: Set<String> = [
    "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY",
    "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
  ]

  /// The first inspection `request` fails, or nil when the core may process it.
  public static func check(_ request: SIPMessage, capabilities: UACapabilities) -> Rejection? {
    guard let method = request.method else { return Rejection(400, "Not a request") }
    // §8.1.1: the six header fields every request carries, each read once, in this order (an
    // array of all six read them all, and the CSeq twice, before looking at any).
    func missing(_ name: String) -> Rejection {
      Rejection(400, "Missing or malformed \(name) header")
    }
    guard request.to != nil else { return missing("To") }
    guard request.from != nil else { return missing("From") }
    guard request.callID != nil else { return missing("Call-ID") }
    guard let cseq = request.cseq else { return missing("CSeq") }
    guard request.topVia != nil else { return missing("Via") }
    guard request.maxForwards != nil else { return missing("Max-Forwards") }
    if cseq.method != method {
      return Rejection(400, "CSeq method \(cseq.method) does not match \(method)")
    }
    if !capabilities.methods.contains(method) {
      if knownMethods.contains(method) {
        return Rejection(
          405, "Method Not Allowed",
          headers: [SIPParameter("Allow", capabilities.allowHeader)])
      }
      return Rejection(501, "Not Implemented")
    }
    guard let uri = request.requestURI, uri.scheme == "sip" || uri.scheme == "sips" else {
      return Rejection(416, "Unsupported URI Scheme")
    }
    // §8.2.2.3: ACK and CANCEL are never rejected for Require.
    if method != "ACK" && method != "CANCEL" {
      let unsupported = request.require.filter { !capabilities.extensions.contains($0) }
      if !unsupported.isEmpty {
        return Rejection(
          420, "Bad Extension",
          headers: [SIPParameter("Unsupported", unsupported.joined(separator: ", "))])
      }
    }
    // §8.2.3: a body of a type, coding or language the UAS cannot process.
    if !request.body.isEmpty {
      let type = request.contentType
      let typeOK =
        type.map { type in
          capabilities.contentTypes.contains {
            $0.lowercasedIfNeeded == "\(type.type)/\(type.subtype)"
          }
        } ?? false
      let codingOK = request.contentEncoding.allSatisfy {
        capabilities.encodings.contains($0.lowercased())
      }
      let language = request.value("content-language").map {
        $0.split(separator: ",").map { $0.trimmingSpaces.lowercased() }
      }
      let languageOK =
        language?.allSatisfy { tag in capabilities.languages.contains { tag.hasPrefix($0) } }
        ?? true
      if !typeOK || !codingOK || !languageOK {
        return Rejection(
          415, "Unsupported Media Type",
          headers: [
            SIPParameter("Accept", capabilities.acceptHeader),
            SIPParameter("Accept-Encoding", capabilities.encodings.joined(separator: ", ")),
            SIPParameter("Accept-Language", capabilities.languages.joined(separator: ", ")),
          ])
      }
    }
    return nil
  }
}

extension Substring {
  var trimmingSpaces: String {
    String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
  }
}

/// Merged-request detection (RFC 3261 §8.2.2.2): a request without a To tag whose From tag,
/// Call-ID and CSeq match a request already received on a *different* transaction arrived twice
/// through a forking proxy; the second copy gets 482 (Loop Detected).
public struct MergedRequestDetector: Sendable {
  struct Seen: Hashable {
    var fromTag: String
    var callID: String
    var cseq: CSeq
  }
  var seen: [Seen: (branch: String, expires: Int64)] = [:]
  /// The same entries by expiry: requests come in time order and each is kept for `memory`,
  /// so forgetting takes from the front. (Filtering the table on every request rehashed every
  /// entry kept, about 1% of a call at a steady load.)
  var expiring: [(expires: Int64, key: Seen)] = []
  /// How long a request is remembered: the life of its server transaction (64·T1 by default).
  public var memory: Int64

  public init(memoryMicroseconds: Int64 = 32_000_000) { memory = memoryMicroseconds }

  /// True when `request` (received at `now`, in microseconds) is a merged copy of one received
  /// on another transaction (identified by `branch`).
  public mutating func isMerged(_ request: SIPMessage, branch: String, now: Int64) -> Bool {
    guard request.toTag == nil, let fromTag = request.fromTag, let callID = request.callID,
      let cseq = request.cseq
    else { return false }
    forget(before: now)
    let key = Seen(fromTag: fromTag, callID: callID, cseq: cseq)
    if let earlier = seen[key], earlier.branch != branch { return true }
    let expires = now + memory
    if let last = expiring.last, last.expires > expires {
      // Out of time order (a caller's own clock, or a shorter memory): keep the order whole.
      expiring.append((expires, key))
      expiring.sort { $0.expires < $1.expires }
    } else {
      expiring.append((expires, key))
    }
    seen[key] = (branch, expires)
    return false
  }

  /// Forgets what expired at or before `now`.
  private mutating func forget(before now: Int64) {
    var expired = 0
    while expired < expiring.count, expiring[expired].expires <= now {
      let (expires, key) = expiring[expired]
      expired += 1
      // Seen again since (a retransmission), the entry waits for its later expiry.
      if seen[key]?.expires == expires { seen[key] = nil }
    }
    // A move of what is kept (a few dozen entries at a steady load) beats keeping a front
    // index in every agent.
    if expired > 0 { expiring.removeFirst(expired) }
  }
}

/// How a UAC core reads a final response (RFC 3261 §8.1.3): an unknown code is treated as the
/// x00 of its class (§8.1.3.2); 401/407, 3xx, 415, 416 and 420 have their own handling.
public enum ResponseRules {
  /// The codes §21 defines (and 6xx): anything else is treated as its class's x00.
  public static let knownCodes: Set<Int> = [
    100, 180, 181, 182, 183, 200, 300, 301, 302, 305, 380, 400, 401, 402, 403, 404, 405, 406,
    407, 408, 410, 413, 414, 415, 416, 420, 421, 423, 480, 481, 482, 483, 484, 485, 486, 487,
    488, 491, 493, 500, 501, 502, 503, 504, 505, 513, 600, 603, 604, 606,
  ]

  /// The code a UAC acts on: `status` when known, else its class's x00 (§8.1.3.2); a
  /// provisional response other than 100 stays as it is (§8.1.3.2 treats unknown 1xx as 183).
  public static func effectiveStatus(_ status: Int) -> Int {
    if knownCodes.contains(status) { return status }
    if (101...199).contains(status) { return 183 }
    return (status / 100) * 100
  }
}

/// Redirection (RFC 3261 §8.1.3.4): the Contacts of 3xx responses form a target set tried in
/// q-value order (highest first; ties in the order received); a URI already tried or pending is
/// not added again, so redirect loops end; at most `limit` targets are ever tried.
public struct RedirectTargets: Sendable, Hashable {
  public private(set) var tried: [SIPURI] = []
  public private(set) var pending: [SIPURI] = []
  var pendingQ: [Double] = []
  public let limit: Int

  public init(first: SIPURI, limit: Int = 5) {
    tried = [first]
    self.limit = limit
  }

  /// Adds a 3xx response's Contacts.
  public mutating func add(_ contacts: [ContactValue]) {
    for contact in contacts {
      guard let uri = contact.address?.uri else { continue }
      let seen = (tried + pending).contains { Self.same($0, uri) }
      if seen { continue }
      let q = contact.q ?? 1.0
      let index = pendingQ.firstIndex { $0 < q } ?? pendingQ.count
      pending.insert(uri, at: index)
      pendingQ.insert(q, at: index)
    }
  }

  /// The next target, or nil when none is left or the limit is reached.
  public mutating func next() -> SIPURI? {
    guard !pending.isEmpty, tried.count < limit else { return nil }
    pendingQ.removeFirst()
    let uri = pending.removeFirst()
    tried.append(uri)
    return uri
  }

  /// URI equality close enough for loop detection: scheme, user, host (case-insensitive), port.
  static func same(_ a: SIPURI, _ b: SIPURI) -> Bool {
    a.scheme == b.scheme && a.user == b.user && a.host.lowercased() == b.host.lowercased()
      && (a.port ?? 5060) == (b.port ?? 5060)
  }
}

/// The timing rules of INVITE sessions.
public enum SessionRules {
  /// §14.1: after a 491, the UAC waits a random time in units of 10 ms: 2.1–4 s when it owns
  /// the Call-ID (it sent the INVITE that created the dialog), 0–2 s otherwise. Drawn from
  /// `random` (the element's seeded source), so a seed reproduces the back-off.
  public static func glareBackoff(
    isCallIDOwner: Bool, using random: inout some RandomNumberGenerator
  ) -> Duration {
    let draw = random.next()
    let steps: UInt64 = isCallIDOwner ? 210 + draw % 191 : draw % 201
    return .milliseconds(Int64(steps) * 10)
  }

  /// §14.2: what a UAS answers to a re-INVITE on a dialog where an INVITE is already in progress:
  /// 491 when its own INVITE is pending (glare), 500 with Retry-After when it has not yet
  /// answered an earlier INVITE from the peer, nil when the re-INVITE may proceed.
  public static func reinviteConflict(outgoingPending: Bool, incomingPending: Bool) -> Rejection? {
    if incomingPending {
      return Rejection(500, "Server Internal Error")
    }
    if outgoingPending {
      return Rejection(491, "Request Pending")
    }
    return nil
  }

  /// §13.3.1.4: the interval before the next 2xx retransmission after one sent `interval`
  /// ago: doubled, at most T2.
  public static func next2xxInterval(after interval: Duration, t2: Duration) -> Duration {
    min(interval * 2, t2)
  }

  /// How long an INVITE stays valid (RFC 3261 §13.2.1, §13.3.1 step 1): its Expires header
  /// field, read as §20.19 and §25.1 define it, a single `delta-seconds` (`1*DIGIT`, whitespace
  /// around it allowed). The UAC CANCELs an invitation still unanswered when it lapses, and the
  /// UAS answers one it has not answered yet with 487.
  ///
  /// A number above §20.19's range (0 to 2^32 − 1) is read as 2^32 − 1 seconds, about 136
  /// years: the caller asked for longer than the field can say, and the clamp keeps the timer
  /// (virtual microseconds in an `Int64`) far from overflowing, however many digits come. A
  /// value that is not digits, or a second Expires field (the header is single-valued, §20.19),
  /// is ``InviteExpiry/malformed``.
  public static func inviteExpiry(of invite: SIPMessage) -> InviteExpiry {
    let fields = invite.fields(.expires)
    guard let field = fields.first else { return .unlimited }
    guard fields.count == 1 else { return .malformed }
    let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
    var value = Array(field.value.utf8.drop(while: isSpace))
    while let last = value.last, isSpace(last) { value.removeLast() }
    guard !value.isEmpty else { return .malformed }
    var seconds: UInt64 = 0
    for byte in value {
      guard (0x30...0x39).contains(byte) else { return .malformed }
      // Never above 2^32 − 1 before this step, so times ten plus nine fits in 64 bits.
      seconds = min(seconds * 10 + UInt64(byte - 0x30), UInt64(UInt32.max))
    }
    return .seconds(UInt32(clamping: seconds))
  }

  /// The instants (from the first send) at which a UAS sends its 2xx while no ACK comes:
  /// 0, T1, 3·T1, 7·T1, … with the interval capped at T2, until 64·T1 (§13.3.1.4).
  public static func successSchedule(t1: Duration, t2: Duration) -> [Duration] {
    var times: [Duration] = [.zero]
    var interval = t1
    var at = Duration.zero
    while at + interval < t1 * 64 {
      at += interval
      times.append(at)
      interval = next2xxInterval(after: interval, t2: t2)
    }
    return times
  }
}

/// What an INVITE's Expires header field says about how long the invitation stands (RFC 3261
/// §13.2.1, §13.3.1 step 1, §20.19): ``SessionRules/inviteExpiry(of:)`` reads it.
public enum InviteExpiry: Sendable, Hashable {
  /// No Expires: the invitation stands until it is answered or cancelled.
  case unlimited
  /// It lapses this many seconds after it was sent (at the UAC) or received (at the UAS).
  case seconds(UInt32)
  /// An Expires field that is not one `delta-seconds` (§25.1: `1*DIGIT`), or more than one.
  case malformed
}
