public import SIPCore

/// A service record (`SRV`, RFC 2782) as server location reads it: the name it was found
/// under is the query's, so only the answer's parts are here.
public struct SRVRecord: Sendable, Hashable {
  /// Lower is tried first.
  public var priority: UInt16
  /// Among records of one priority, the share of choices each gets (RFC 2782).
  public var weight: UInt16
  public var port: UInt16
  /// The host name whose address records give the server's addresses (`.`: no service).
  public var target: String

  public init(priority: UInt16, weight: UInt16, port: UInt16, target: String) {
    self.priority = priority
    self.weight = weight
    self.port = port
    self.target = target
  }
}

/// A naming authority pointer record (`NAPTR`, RFC 3403) as RFC 3263 §4.1 reads it: which
/// transports a domain's SIP servers offer, in what order, and the SRV name of each.
public struct NAPTRRecord: Sendable, Hashable {
  /// Lower is preferred; records of a lower order are used before any of a higher one.
  public var order: UInt16
  /// Among records of one order, lower is preferred.
  public var preference: UInt16
  /// `s`: the replacement is an SRV name (the only flag RFC 3263 uses).
  public var flags: String
  /// `SIP+D2U` (UDP), `SIP+D2T` (TCP), `SIPS+D2T` (TLS over TCP), `SIP+D2S` (SCTP), …
  public var service: String
  /// The SRV name to query next (`_sip._udp.biloxi.example.com`).
  public var replacement: String

  public init(
    order: UInt16, preference: UInt16, flags: String, service: String, replacement: String
  ) {
    self.order = order
    self.preference = preference
    self.flags = flags
    self.service = service
    self.replacement = replacement
  }
}

/// Where server location reads DNS: a simulated network's name service in a simulation, a real
/// resolver in a real-network runtime. The resolver is pure over it: the same records (and the
/// same random draws) give the same targets.
public protocol ServerLocationRecords {
  /// Whether any NAPTR or SRV record exists at all. When none does, every name goes straight to
  /// its address records, with no query for either: most simulations have none, and every
  /// request sent to a name asks.
  var hasServiceRecords: Bool { get }
  /// The NAPTR records of `domain`, in any order.
  func naptrRecords(_ domain: String) -> [NAPTRRecord]
  /// The SRV records named `name` (`_sip._udp.biloxi.example.com`), in any order.
  func srvRecords(_ name: String) -> [SRVRecord]
  /// The addresses (`A`, `AAAA`) of `domain`, as a URI's host writes them (IPv6 in brackets).
  func addresses(_ domain: String) -> [String]
}

/// How RFC 3263 §4.1 chose the transport, and §4.2 the addresses and ports.
public enum LocationRule: String, Sendable, Hashable {
  /// A numeric IP address: used as it is (§4.1, §4.2).
  case numeric
  /// An explicit port: the name's address records at that port (§4.2).
  case port
  /// The URI's `transport` parameter chose the transport; SRV records for it, else address
  /// records at its default port (§4.1, §4.2).
  case transportParameter = "transport-parameter"
  /// NAPTR records chose the transport and named the SRV records (§4.1).
  case naptr = "NAPTR"
  /// No NAPTR records; an SRV query for a transport the client supports found some (§4.1).
  case srv = "SRV"
  /// Neither: UDP (TLS for `sips`) and the name's address records at the default port (§4.1,
  /// §4.2).
  case address = "A"
}

/// The result of locating the servers for one URI: the targets in the order to try them, and
/// what was looked up on the way (for the trace).
public struct ServerLocation: Sendable, Equatable {
  /// Where to send, first to last (RFC 3263 §4.3: on failure, the next).
  public var targets: [SIPPeer]
  public var rule: LocationRule
  /// The transport chosen (nil when none could be: an unsupported `transport` parameter).
  public var transport: SIPTransportProtocol?
  /// The queries made and what they answered, in order (`NAPTR biloxi.example.com: SIP+D2U`,
  /// `SRV _sip._udp.biloxi.example.com: 2`), for a trace to show.
  public var queries: [String]
  /// Whether NAPTR or SRV records were queried (a resolution worth tracing).
  public var queriedServiceRecords: Bool { rule == .naptr || rule == .srv || !queries.isEmpty }

  public init(
    targets: [SIPPeer], rule: LocationRule, transport: SIPTransportProtocol?,
    queries: [String] = []
  ) {
    self.targets = targets
    self.rule = rule
    self.transport = transport
    self.queries = queries
  }
}

/// RFC 3263 §4 (Locating SIP Servers): from a URI to the ordered (transport, address, port)
/// targets a client tries, with RFC 2782's ordering of SRV records. Pure: the records come
/// through ``ServerLocationRecords`` and the weighted choice draws from the generator passed
/// in (a simulation passes a seeded one, so a run is reproduced exactly).
///
/// The target host is the URI's `maddr` when it has one, else its host (RFC 3261 §8.1.2,
/// §18.1.1; RFC 3263 §4 calls it TARGET).
public enum ServerLocator {
  /// The NAPTR services this simulation's transports answer (RFC 3263 §4.1, §9): SCTP
  /// (`SIP+D2S`, `SIPS+D2S`) is not modelled, so those records are passed over.
  public static func transport(forService service: String) -> SIPTransportProtocol? {
    switch service.uppercased() {
    case "SIP+D2U": .udp
    case "SIP+D2T": .tcp
    case "SIPS+D2T": .tls
    default: nil
    }
  }

  /// The SRV name for `transport` at `domain` (RFC 3263 §4.1, RFC 2782): `_sip._udp`,
  /// `_sip._tcp`, and `_sips._tcp` for TLS (TLS runs over TCP).
  public static func srvName(_ transport: SIPTransportProtocol, domain: String) -> String {
    switch transport {
    case .udp: "_sip._udp." + domain
    case .tcp: "_sip._tcp." + domain
    case .tls: "_sips._tcp." + domain
    }
  }

  /// The host a request for `uri` goes to: `maddr` when present, else the host.
  public static func targetHost(of uri: SIPURI) -> String {
    uri.parameter("maddr").flatMap { $0 } ?? uri.host
  }

  /// Whether `host` is a numeric IP address (IPv4 dotted quad, or IPv6, bracketed or not).
  public static func isNumeric(_ host: String) -> Bool {
    let bytes = host.utf8
    if bytes.contains(UInt8(ascii: ":")) { return true }
    var parts = 0
    var digits = 0
    var value = 0
    for byte in bytes {
      if byte == UInt8(ascii: ".") {
        guard digits > 0 else { return false }
        parts += 1
        digits = 0
        value = 0
      } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
        digits += 1
        value = value * 10 + Int(byte - UInt8(ascii: "0"))
        guard digits <= 3, value <= 255 else { return false }
      } else {
        return false
      }
    }
    return parts == 3 && digits > 0
  }

  /// The transport a URI's `transport` parameter names (RFC 3263 §4.1: it is used when
  /// present): `tcp` is TLS for a `sips` URI (TLS over TCP). Nil when it names none this
  /// simulation models (`sctp`); `.some(nil)` when the URI has no such parameter.
  static func parameterTransport(_ uri: SIPURI, secure: Bool) -> SIPTransportProtocol?? {
    guard let value = uri.parameter("transport"), let name = value else { return .some(nil) }
    switch name.lowercased() {
    case "udp": return secure ? nil : .udp
    case "tcp": return secure ? .tls : .tcp
    case "tls": return .tls
    default: return nil
    }
  }

  /// The peer a URI names when no DNS lookup can change it (§4.1, §4.2): its target host (a
  /// numeric address, or a name the transport resolves to its first address), its port or the
  /// transport's default, and the transport its `transport` parameter names, else UDP (TLS for
  /// `sips`). What ``locate(_:supported:records:random:)`` answers first for a numeric host or
  /// an explicit port, and for any URI when no NAPTR or SRV record exists.
  public static func directPeer(for uri: SIPURI) -> SIPPeer {
    let secure = uri.scheme == "sips"
    // An unsupported transport parameter: UDP (TLS for sips), as the peer of a URI was before
    // server location; the full resolution finds no target for it.
    let transport = (parameterTransport(uri, secure: secure) ?? nil) ?? (secure ? .tls : .udp)
    return SIPPeer(
      host: targetHost(of: uri), port: uri.port ?? transport.defaultPort, transport: transport)
  }

  /// RFC 3263 §4.1 and §4.2: the targets for `uri`, in the order to try them.
  ///
  /// - Transport (§4.1): the `transport` parameter; else, for a numeric address or an explicit
  ///   port, UDP (TLS for `sips`); else the first NAPTR record (by order, then preference) with
  ///   flag `s` whose service the client supports (for `sips`, only `SIPS+D2T`) and whose SRV
  ///   name has records; else the first transport in `supported` whose SRV query
  ///   (`_sip._udp`, `_sip._tcp`; `_sips._tcp` for a `sips` URI) finds records; else UDP (TLS
  ///   for `sips`).
  /// - Addresses and ports (§4.2): a numeric address as it is, at the URI's port or the
  ///   default; a name with a port: each of its addresses at that port; else the SRV records of
  ///   the transport chosen, ordered by RFC 2782 (``orderSRV(_:random:)``), each target's
  ///   addresses at the record's port; with none, the name's addresses at the default port.
  ///
  /// An empty list means no server could be found (an unsupported transport, a name without
  /// addresses).
  public static func locate(
    _ uri: SIPURI, supported: [SIPTransportProtocol] = [.udp, .tcp, .tls],
    records: some ServerLocationRecords, random: inout some RandomNumberGenerator
  ) -> ServerLocation {
    let secure = uri.scheme == "sips"
    let host = targetHost(of: uri)
    let explicit = parameterTransport(uri, secure: secure)
    guard let chosen = explicit else {
      let name = uri.parameter("transport").flatMap { $0 } ?? ""
      return ServerLocation(
        targets: [], rule: .transportParameter, transport: nil,
        queries: ["transport '\(name)' not supported"])
    }
    let fallback: SIPTransportProtocol = secure ? .tls : .udp
    if isNumeric(host) {
      let transport = chosen ?? fallback
      return ServerLocation(
        targets: [
          SIPPeer(host: host, port: uri.port ?? transport.defaultPort, transport: transport)
        ],
        rule: .numeric, transport: transport)
    }
    if let port = uri.port {
      let transport = chosen ?? fallback
      return ServerLocation(
        targets: peers(records.addresses(host), port: port, transport), rule: .port,
        transport: transport)
    }
    let lookUp = records.hasServiceRecords
    var queries: [String] = []
    if let transport = chosen {
      // §4.2: an SRV query for the transport the parameter named.
      if lookUp, let found = srvTargets(host, transport, records, &random, &queries) {
        return ServerLocation(
          targets: found, rule: .transportParameter, transport: transport, queries: queries)
      }
      return ServerLocation(
        targets: peers(records.addresses(host), port: transport.defaultPort, transport),
        rule: .transportParameter, transport: transport, queries: queries)
    }
    if lookUp {
      // §4.1: NAPTR first.
      let pointers = records.naptrRecords(host)
      if !pointers.isEmpty {
        let usable = orderNAPTR(pointers).filter { record in
          guard record.flags.lowercased() == "s",
            let transport = transport(forService: record.service)
          else { return false }
          return supported.contains(transport) && (!secure || transport == .tls)
        }
        queries.append(
          "NAPTR \(host): "
            + (usable.isEmpty ? "none usable" : usable.map(\.service).joined(separator: " ")))
        for record in usable {
          guard let transport = transport(forService: record.service) else { continue }
          let found = srvRecords(record.replacement, records, &random, &queries)
          if !found.isEmpty {
            return ServerLocation(
              targets: targets(found, transport, records), rule: .naptr, transport: transport,
              queries: queries)
          }
        }
        // RFC 3263 §4.1 goes on to SRV queries only when there are no NAPTR records; records
        // there but none usable leave the client with its defaults, as here.
      } else {
        // §4.1: no NAPTR records: an SRV query per transport the client supports, in its order
        // of preference; `_sips` for a sips URI, which only TLS serves.
        for transport in supported where secure ? transport == .tls : transport != .tls {
          if let found = srvTargets(host, transport, records, &random, &queries) {
            return ServerLocation(
              targets: found, rule: .srv, transport: transport, queries: queries)
          }
        }
      }
    }
    // §4.1: nothing found: UDP for sip, TLS for sips; §4.2: address records, default port.
    return ServerLocation(
      targets: peers(records.addresses(host), port: fallback.defaultPort, fallback),
      rule: .address, transport: fallback, queries: queries)
  }

  /// The SRV query for `transport` at `domain`, ordered and resolved to targets; nil when it
  /// found no record (one query line added either way).
  static func srvTargets(
    _ domain: String, _ transport: SIPTransportProtocol, _ records: some ServerLocationRecords,
    _ random: inout some RandomNumberGenerator, _ queries: inout [String]
  ) -> [SIPPeer]? {
    let found = srvRecords(srvName(transport, domain: domain), records, &random, &queries)
    return found.isEmpty ? nil : targets(found, transport, records)
  }

  /// The SRV records named `name`, ordered by RFC 2782, without a `.` target; one query line.
  static func srvRecords(
    _ name: String, _ records: some ServerLocationRecords,
    _ random: inout some RandomNumberGenerator, _ queries: inout [String]
  ) -> [SRVRecord] {
    // RFC 2782: a target of "." means the service is decidedly not available there.
    let found = records.srvRecords(name).filter { $0.target != "." }
    let ordered = orderSRV(found, random: &random)
    queries.append(
      "SRV \(name): "
        + (ordered.isEmpty
          ? "none" : ordered.map { "\($0.target):\($0.port)" }.joined(separator: " ")))
    return ordered
  }

  /// Each SRV record's target's addresses at its port, in the records' order.
  static func targets(
    _ ordered: [SRVRecord], _ transport: SIPTransportProtocol, _ records: some ServerLocationRecords
  ) -> [SIPPeer] {
    ordered.flatMap { peers(records.addresses($0.target), port: Int($0.port), transport) }
  }

  static func peers(_ addresses: [String], port: Int, _ transport: SIPTransportProtocol)
    -> [SIPPeer]
  {
    addresses.map { SIPPeer(host: $0, port: port, transport: transport) }
  }

  /// NAPTR records by order, then preference (RFC 3403 §4.1); ties keep the order given.
  public static func orderNAPTR(_ records: [NAPTRRecord]) -> [NAPTRRecord] {
    records.enumerated().sorted { a, b in
      (a.element.order, a.element.preference, a.offset)
        < (b.element.order, b.element.preference, b.offset)
    }.map(\.element)
  }

  /// RFC 2782's order: priorities ascending; within one priority, a weighted random choice,
  /// repeated until every record is placed. For each choice the records not yet placed are
  /// listed with the zero-weight ones first, a running sum of weights is kept, a number is
  /// drawn uniformly from 0 through the total, and the first record whose running sum reaches
  /// it is placed next. A priority with one record draws nothing; so zero-weight records among
  /// weighted ones are rarely chosen before them, and all-zero weights are a uniform choice.
  ///
  /// Records of one priority keep the order given until drawn (the draw depends on it): callers
  /// pass them in a fixed order (the order added), never a dictionary's.
  public static func orderSRV(_ records: [SRVRecord], random: inout some RandomNumberGenerator)
    -> [SRVRecord]
  {
    guard records.count > 1 else { return records }
    let byPriority = records.enumerated().sorted {
      ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset)
    }.map(\.element)
    var ordered: [SRVRecord] = []
    ordered.reserveCapacity(records.count)
    var start = 0
    while start < byPriority.count {
      var end = start + 1
      while end < byPriority.count, byPriority[end].priority == byPriority[start].priority {
        end += 1
      }
      // Zero weights first, the rest after, each in the order given.
      var group =
        byPriority[start..<end].filter { $0.weight == 0 }
        + byPriority[start..<end].filter { $0.weight != 0 }
      while group.count > 1 {
        let total = group.reduce(UInt64(0)) { $0 + UInt64($1.weight) }
        // Modulo a total below 2^32: the bias is below 2^-32, and the draw is one number.
        let pick = random.next() % (total + 1)
        var sum: UInt64 = 0
        var chosen = group.count - 1
        for (index, record) in group.enumerated() {
          sum += UInt64(record.weight)
          if sum >= pick {
            chosen = index
            break
          }
        }
        ordered.append(group.remove(at: chosen))
      }
      ordered.append(contentsOf: group)
      start = end
    }
    return ordered
  }
}
