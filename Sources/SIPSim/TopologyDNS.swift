import Simulation

/// A topology's DNS records beyond its hosts' `domains`: address records for names that are
/// not hosts, and the SRV and NAPTR records RFC 3263 reads to find a domain's SIP servers (and
/// to fail over between them).
///
/// ```json
/// "dns": {
///   "a": [{"name": "backup.biloxi.example.com", "addresses": ["10.0.0.9"]}],
///   "srv": [{"name": "_sip._udp.biloxi.example.com", "priority": 10, "weight": 0,
///            "port": 5060, "target": "proxy1"}],
///   "naptr": [{"name": "biloxi.example.com", "order": 10, "preference": 10, "flags": "s",
///              "service": "SIP+D2U", "replacement": "_sip._udp.biloxi.example.com"}]
/// }
/// ```
public struct DNSSpec: Sendable, Decodable {
  public var a: [AddressRecordSpec]
  public var srv: [SRVRecordSpec]
  public var naptr: [NAPTRRecordSpec]

  public init(
    a: [AddressRecordSpec] = [], srv: [SRVRecordSpec] = [], naptr: [NAPTRRecordSpec] = []
  ) {
    self.a = a
    self.srv = srv
    self.naptr = naptr
  }

  public var isEmpty: Bool { a.isEmpty && srv.isEmpty && naptr.isEmpty }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.strictContainer(["a", "srv", "naptr"])
    a = try c.optional("a") ?? []
    srv = try c.optional("srv") ?? []
    naptr = try c.optional("naptr") ?? []
  }
}

/// An address record (`A`/`AAAA`): `name` resolves to `addresses`.
public struct AddressRecordSpec: Sendable, Decodable {
  public var name: String
  /// IPv4 or IPv6 literals.
  public var addresses: [String]

  public init(name: String, addresses: [String]) {
    self.name = name
    self.addresses = addresses
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.strictContainer(["name", "addresses"])
    name = try c.domainName("name")
    addresses = try c.required("addresses")
    if addresses.isEmpty { throw c.invalid("addresses", "an address record needs an address") }
  }
}

/// A service record (`SRV`, RFC 2782): `_sip._udp.biloxi.example.com` is served at `target`
/// (a host's name, one of its `domains`, or an `a` record's name; `.` for none) on `port`.
/// Lower `priority` first; among equal priorities, `weight` shares the choices.
public struct SRVRecordSpec: Sendable, Decodable {
  public var name: String
  public var priority: UInt16
  public var weight: UInt16
  public var port: UInt16
  public var target: String

  public init(name: String, priority: UInt16 = 0, weight: UInt16 = 0, port: UInt16, target: String)
  {
    self.name = name
    self.priority = priority
    self.weight = weight
    self.port = port
    self.target = target
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.strictContainer(["name", "priority", "weight", "port", "target"])
    name = try c.domainName("name")
    // `_service._protocol.domain`: the two labels with underscores are how RFC 2782 names them.
    let labels = name.split(separator: ".", omittingEmptySubsequences: false)
    guard labels.count >= 3, labels[0].count > 1, labels[0].hasPrefix("_"),
      labels[1].count > 1, labels[1].hasPrefix("_"), !labels[2].isEmpty
    else {
      throw c.invalid(
        "name",
        "'\(name)' is not an SRV name: write _service._protocol.domain "
          + "(_sip._udp.biloxi.example.com)")
    }
    priority = try c.sixteenBits("priority") ?? 0
    weight = try c.sixteenBits("weight") ?? 0
    guard let port = try c.sixteenBits("port", required: true), port > 0 else {
      throw c.invalid("port", "an SRV record's port is 1 to 65535")
    }
    self.port = port
    target = try c.domainName("target")
  }
}

/// A naming authority pointer record (`NAPTR`, RFC 3403) as RFC 3263 writes them: for the
/// domain `name`, the transport `service` (`SIP+D2U` UDP, `SIP+D2T` TCP, `SIPS+D2T` TLS) is
/// found at the SRV records named `replacement` (`flags` `s`). Lower `order` first, then lower
/// `preference`.
public struct NAPTRRecordSpec: Sendable, Decodable {
  public var name: String
  public var order: UInt16
  public var preference: UInt16
  public var flags: String
  public var service: String
  public var replacement: String

  public init(
    name: String, order: UInt16, preference: UInt16 = 0, flags: String = "s", service: String,
    replacement: String
  ) {
    self.name = name
    self.order = order
    self.preference = preference
    self.flags = flags
    self.service = service
    self.replacement = replacement
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.strictContainer([
      "name", "order", "preference", "flags", "service", "replacement",
    ])
    name = try c.domainName("name")
    guard let order = try c.sixteenBits("order", required: true) else {
      throw c.invalid("order", "missing")
    }
    self.order = order
    preference = try c.sixteenBits("preference") ?? 0
    flags = try c.optional("flags") ?? "s"
    // RFC 3403 §4.1 flags are letters; RFC 3263 uses `s` (and no flag ends the lookup).
    guard ["", "s", "a", "u", "p"].contains(flags.lowercased()) else {
      throw c.invalid(
        "flags", "NAPTR flags are 's' (SRV follows), 'a', 'u', 'p' or empty, not '\(flags)'")
    }
    service = try c.required("service")
    if service.isEmpty {
      throw c.invalid("service", "a NAPTR record needs a service (SIP+D2U, SIP+D2T, SIPS+D2T)")
    }
    replacement = try c.domainName("replacement")
  }
}

extension KeyedDecodingContainer where Key == AnyKey {
  /// A DNS name: non-empty, no spaces.
  func domainName(_ key: AnyKey) throws -> String {
    let name = try required(key, as: String.self)
    guard !name.isEmpty, !name.contains(where: { $0 == " " }) else {
      throw invalid(key, "'\(name)' is not a DNS name")
    }
    return name
  }

  /// A 16-bit DNS field (0 to 65535); nil when absent and not `required`.
  func sixteenBits(_ key: AnyKey, required: Bool = false) throws -> UInt16? {
    let value = try required ? self.required(key, as: Int.self) : optional(key, as: Int.self)
    guard let value else { return nil }
    guard let bits = UInt16(exactly: value) else {
      throw invalid(key, "\(key.stringValue) is 0 to 65535, not \(value)")
    }
    return bits
  }
}

extension TopologyValidator {
  /// Cross-references of the DNS records: every SRV target resolves (a host, a host's domain, an
  /// `a` record, or `.`) and every `s` NAPTR names SRV records the file has. A dangling name is
  /// nearly always a typo, and would show only as a call failing over or failing.
  func validateDNS(hostNames: [String]) throws(TopologyError) {
    let dns = topology.dns
    var resolvable = Set(hostNames.map { $0.lowercased() })
    for host in topology.hosts {
      for domain in host.domains { resolvable.insert(domain.lowercased()) }
    }
    for (index, record) in dns.a.enumerated() {
      for (slot, text) in record.addresses.enumerated() where IPAddress(text) == nil {
        throw TopologyError(
          path: "$.dns.a[\(index)].addresses[\(slot)]",
          message: "'\(text)' is not an IPv4 or IPv6 address")
      }
      resolvable.insert(record.name.lowercased())
    }
    let serviceNames = Set(dns.srv.map { $0.name.lowercased() })
    for (index, record) in dns.srv.enumerated()
    where record.target != "." && !resolvable.contains(record.target.lowercased()) {
      throw TopologyError(
        path: "$.dns.srv[\(index)].target",
        message: "'\(record.target)' resolves to nothing: name a host, one of its domains, "
          + "an address record in dns.a, or '.' for no service")
    }
    for (index, record) in dns.naptr.enumerated()
    where record.flags.lowercased() == "s"
      && !serviceNames.contains(record.replacement.lowercased())
    {
      throw TopologyError(
        path: "$.dns.naptr[\(index)].replacement",
        message: "no SRV record named '\(record.replacement)' in dns.srv")
    }
  }
}
