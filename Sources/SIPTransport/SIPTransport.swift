public import SIPCore

/// The transport protocols SIP runs over here. TLS is modelled as a stream transport for `sips`
/// URIs: it frames and fails like TCP; there is no cryptography in the simulation.
public enum SIPTransportProtocol: String, Sendable, Hashable, CaseIterable {
  case udp = "UDP"
  case tcp = "TCP"
  case tls = "TLS"

  /// Whether the transport is reliable (§17: Timers A, E, G unused; D, I, J, K zero).
  public var isReliable: Bool { self != .udp }

  /// The default port (§19.1.2: 5060, 5061 for TLS).
  public var defaultPort: Int { self == .tls ? 5061 : 5060 }

  /// The protocol named in a Via's sent-protocol, case-insensitively.
  public init?(viaTransport: String) {
    self.init(rawValue: viaTransport.uppercased())
  }

  // A raw-value enum hashes and compares its raw String by default (the standard library's
  // RawRepresentable implementations): these are hashed and compared on every message and timer,
  // so they use the case's position instead.
  var ordinal: UInt8 {
    switch self {
    case .udp: 0
    case .tcp: 1
    case .tls: 2
    }
  }

  public static func == (lhs: Self, rhs: Self) -> Bool { lhs.ordinal == rhs.ordinal }

  public func hash(into hasher: inout Hasher) { hasher.combine(ordinal) }
}

/// Where a message goes or came from: an IP address (as text), a port and a transport. No
/// simulator type appears here, so a real-network runtime can use the same rules (ARCHITECTURE.md).
public struct SIPPeer: Sendable, Hashable, Comparable, CustomStringConvertible {
  public var host: String
  public var port: Int
  public var transport: SIPTransportProtocol

  public init(host: String, port: Int, transport: SIPTransportProtocol) {
    self.host = host
    self.port = port
    self.transport = transport
  }

  public var description: String { "\(host):\(port)/\(transport.rawValue)" }

  public static func < (lhs: SIPPeer, rhs: SIPPeer) -> Bool {
    (lhs.host, lhs.port, lhs.transport.rawValue) < (rhs.host, rhs.port, rhs.transport.rawValue)
  }
}

/// What an element knows of a stream connection it holds (TCP, or TLS): the state its own socket
/// is in. A peer's crash does not show here until a write meets the reset (see
/// ``TransportRules/reuses(_:)``).
public enum HeldConnection: Sendable, Hashable {
  /// Being opened: a message waits for the handshake.
  case connecting
  /// Open as far as this side knows.
  case open
  /// Closed under the element without its asking: its own host crashed and took the socket.
  case closed
}

/// The rules of RFC 3261 §18 and RFC 3581, as pure functions over messages. An element's
/// transport shell calls them around its sockets.
public enum TransportRules {
  /// The magic cookie every RFC 3261 branch starts with (§8.1.1.7).
  public static let magicCookie = "z9hG4bK"

  /// A fresh branch: the magic cookie and 16 hex digits drawn from `random` (the seeded source
  /// in a simulation, so branches are unique and reproducible).
  public static func newBranch<R: RandomNumberGenerator>(using random: inout R) -> String {
    String(lowercaseHex: random.next(), minimumDigits: 16, prefix: magicCookie)
  }

  /// The Via a client puts on top of a request it sends (§18.1.1): its sent-by, the transport
  /// actually used, the branch, and an empty `rport` asking for symmetric responses (RFC 3581
  /// §3).
  public static func via(
    sentBy host: String, port: Int, transport: SIPTransportProtocol, branch: String,
    requestRport: Bool = true
  ) -> Via {
    var parameters = [SIPParameter("branch", branch)]
    if requestRport { parameters.append(SIPParameter("rport")) }
    return Via(transport: transport.rawValue, host: host, port: port, parameters: parameters)
  }

  /// §18.1.1: a request within 200 bytes of the path MTU, or over 1300 bytes when the MTU is not
  /// known, must go over a congestion-controlled transport (TCP) instead of UDP.
  public static func mustUseStream(messageSize: Int, pathMTU: Int?) -> Bool {
    if let pathMTU { return messageSize > pathMTU - 200 }
    return messageSize > 1300
  }

  /// §18.2.1 and RFC 3581 §4: what a server does to the top Via of a request that arrived from
  /// `source`. It adds `received` when the sent-by host differs from the source address (or
  /// whenever `rport` was asked for) and fills an empty `rport` with the source port.
  public static func stampReceived(_ request: inout SIPMessage, source: SIPPeer) {
    stampReceived(&request, topVia: request.topVia, source: source)
  }

  /// ``stampReceived(_:source:)`` with the request's top Via already parsed; returns the top
  /// Via as it now is.
  @discardableResult
  public static func stampReceived(_ request: inout SIPMessage, topVia: Via?, source: SIPPeer)
    -> Via?
  {
    var via = topVia
    stampReceived(&request, topVia: &via, source: source)
    return via
  }

  /// ``stampReceived(_:source:)`` with the request's top Via already parsed, stamped in place
  /// (a server's endpoint keeps it for its transaction layer: returned, the Via's parameters
  /// were copied to be changed).
  public static func stampReceived(
    _ request: inout SIPMessage, topVia via: inout Via?, source: SIPPeer
  ) {
    // Moved out and back: changed in place, not copied.
    guard var stamped = via.take() else { return }
    defer { via = stamped }
    guard let stamp = stampReceived(&request, leaving: stamped, source: source) else { return }
    apply(stamp, to: &stamped)
  }

  /// What a server stamped on a request's top Via: `received` (the source address), and the
  /// source port as `rport` when the client asked for it (§18.2.1, RFC 3581 §4).
  public struct ReceivedStamp: Sendable, Hashable {
    public var received: String
    public var rport: Int?
  }

  /// ``stampReceived(_:source:)`` on the request's bytes, leaving the parsed top Via `via` as it
  /// came; returns what it stamped (nil: nothing). A server whose transaction layer keys by the
  /// magic-cookie branch and sent-by, which the stamp does not change, keeps the Via unchanged:
  /// editing its parameters to match the bytes cost a tenth of a REGISTER's processing.
  @discardableResult
  public static func stampReceived(
    _ request: inout SIPMessage, leaving via: Via, source: SIPPeer
  ) -> ReceivedStamp? {
    let asksRport = via.rport != nil
    guard via.host != source.host || asksRport else { return nil }
    let stamp = ReceivedStamp(received: source.host, rport: asksRport ? source.port : nil)
    // The bytes are stamped in place, the rest of the Via as it came (the usual case); a Via
    // the in-place edit does not handle is printed again.
    if !request.stampTopVia(received: source.host, rport: stamp.rport) {
      var stamped = via
      apply(stamp, to: &stamped)
      request.replaceTopVia(stamped)
    }
    return stamp
  }

  /// `via` as `stamp` leaves it: `received` replaced, an `rport` filled.
  static func apply(_ stamp: ReceivedStamp, to via: inout Via) {
    via.parameters.removeAll { $0.isNamed("received") }
    via.parameters.append(SIPParameter("received", stamp.received))
    if let rport = stamp.rport,
      let index = via.parameters.firstIndex(where: { $0.isNamed("rport") })
    {
      via.parameters[index] = SIPParameter("rport", String(rport))
    }
  }

  /// Where a server sends a response by its top Via (§18.2.2, RFC 3581 §4): to `received` (or
  /// the sent-by host) at the `rport` value (or the sent-by port, or the transport's default
  /// port), over the Via's transport. `maddr` wins over both (multicast is not modelled; the
  /// address is used as a unicast one). Over a reliable transport, with `rport` stamped, this
  /// is the request's source, the far end of the connection it came on; when that connection is
  /// no longer open the response goes where ``reliableResponseDestination(topVia:source:held:)``
  /// says.
  public static func responseDestination(for response: SIPMessage) -> SIPPeer? {
    responseDestination(topVia: response.topVia)
  }

  /// ``responseDestination(for:)`` from a top Via already parsed: a server works it out once,
  /// when the request arrives, for every response its transaction will send.
  ///
  /// With `stamp`, `topVia` is the Via as it came and `stamp` what the server stamped on it
  /// (``stampReceived(_:leaving:source:)``): the same peer the stamped Via gives, since the
  /// stamp's `received` and `rport` are the ones the stamped Via would carry (a Via without
  /// `rport` gets none).
  public static func responseDestination(topVia: Via?, stamp: ReceivedStamp? = nil) -> SIPPeer? {
    guard let via = topVia,
      let transport = SIPTransportProtocol(viaTransport: via.transport)
    else { return nil }
    if let maddr = via.maddr {
      return SIPPeer(host: maddr, port: via.port ?? transport.defaultPort, transport: transport)
    }
    let host = stamp?.received ?? via.received ?? via.host
    if let port = stamp?.rport ?? (via.rport ?? nil).flatMap({ Int($0) }) {
      return SIPPeer(host: host, port: port, transport: transport)
    }
    return SIPPeer(host: host, port: via.port ?? transport.defaultPort, transport: transport)
  }

  /// §18.2.2, first bullet: where a response over a reliable transport goes. Over the
  /// connection its request came on (`source`, the far end that connection is indexed by)
  /// "if that connection is still open" (`held`: the state of the connection the element holds
  /// to `source`, nil for none); else over a new connection to the top Via's `received` (or its
  /// sent-by host) at the sent-by port, or the transport's default port. Never `rport`: RFC 3581
  /// §4 changes only the rule for unreliable transports, and the source port it records is the
  /// client's ephemeral one, where nothing listens. Nor `maddr`: the second bullet, which
  /// names it, begins "Otherwise" and so covers only unreliable transports. Nil when the top
  /// Via names no transport.
  ///
  /// A connection closed under the element (its own host crashed) is no longer open. One the
  /// *client* lost still looks open here: the element finds out only when its write meets the
  /// reset, which is a transport error of the server transaction (§18.4) if it is still alive.
  /// §17.2.4 would first have RFC 3263's procedures deliver the response elsewhere (for a
  /// numeric sent-by, a new connection to it); that is not modelled: the response is lost.
  ///
  /// The Via is read only when the connection cannot be reused (an endpoint passes
  /// `response.topVia`: parsing it for every response on an open connection was waste).
  public static func reliableResponseDestination(
    topVia: @autoclosure () -> Via?, source: SIPPeer, held: HeldConnection?
  ) -> SIPPeer? {
    if let held, reuses(held) { return source }
    guard let via = topVia(), let transport = SIPTransportProtocol(viaTransport: via.transport)
    else { return nil }
    return SIPPeer(
      host: via.received ?? via.host, port: via.port ?? transport.defaultPort,
      transport: transport)
  }

  /// §18: whether an element sends on the stream connection it holds to a message's far end
  /// (connections are indexed by the far end's address, port and transport, and shared by the
  /// client and server sides). One being opened or open is reused: a message waits for the
  /// handshake or is written at once. One closed under the element, its socket taken by its own
  /// host's crash, is not: the element knows it is dead, so the message goes over a new
  /// connection instead of failing on it (the dead one's transactions get a transport error,
  /// §18.4, as for any connection that fails).
  ///
  /// A connection whose *peer* crashed or restarted is another matter: nothing tells this side,
  /// it stays ``HeldConnection/open``, and the next write on it meets the peer's reset one round
  /// trip later, as with a real TCP stack. That is "a connection failure" when the transport
  /// user asked for a request to be sent, which the transport layer reports (§18.4): a transport
  /// error of every transaction on the connection, which a UAC treats as 503 (§8.1.3.1). RFC
  /// 3261 asks for no retry over a new connection then; trying another server is the TU's
  /// business (RFC 3263 §4.3), and RFC 5626's keep-alives, which find a dead flow before it is
  /// used, are not modelled.
  public static func reuses(_ held: HeldConnection) -> Bool {
    held != .closed
  }

  /// §18.1.2: a client discards a response whose top Via sent-by is not its own.
  public static func isForUs(_ response: SIPMessage, sentBy host: String, port: Int) -> Bool {
    isForUs(topVia: response.topVia, sentBy: host, port: port)
  }

  /// ``isForUs(_:sentBy:port:)`` with the response's top Via already parsed.
  public static func isForUs(topVia: Via?, sentBy host: String, port: Int) -> Bool {
    guard let via = topVia else { return false }
    return via.host.equalsIgnoringASCIICase(host) && (via.port ?? 5060) == port
  }
}
