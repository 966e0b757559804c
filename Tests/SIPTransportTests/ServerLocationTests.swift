import SIPCore
import SIPTransport
import Testing

/// A record store for the tests: records by name, in the order given.
struct Records: ServerLocationRecords {
  var naptr: [String: [NAPTRRecord]] = [:]
  var srv: [String: [SRVRecord]] = [:]
  var a: [String: [String]] = [:]
  var hasServiceRecords: Bool { !naptr.isEmpty || !srv.isEmpty }
  func naptrRecords(_ domain: String) -> [NAPTRRecord] { naptr[domain] ?? [] }
  func srvRecords(_ name: String) -> [SRVRecord] { srv[name] ?? [] }
  func addresses(_ domain: String) -> [String] { a[domain] ?? [] }
}

/// A generator that answers the numbers it is given, in turn (then 0), and counts the draws.
struct Scripted: RandomNumberGenerator {
  var values: [UInt64]
  var draws = 0
  init(_ values: [UInt64] = []) { self.values = values }
  mutating func next() -> UInt64 {
    draws += 1
    return values.isEmpty ? 0 : values.removeFirst()
  }
}

/// A small seeded generator (SplitMix64's step), for the statistical test.
struct Mixer: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

@Suite struct ServerLocationTests {
  static func srv(_ priority: UInt16, _ weight: UInt16, _ port: UInt16, _ target: String)
    -> SRVRecord
  {
    SRVRecord(priority: priority, weight: weight, port: port, target: target)
  }

  static func naptr(_ order: UInt16, _ preference: UInt16, _ service: String, _ name: String)
    -> NAPTRRecord
  {
    NAPTRRecord(
      order: order, preference: preference, flags: "s", service: service, replacement: name)
  }

  /// biloxi.example.com with every kind of record the rules read.
  static let full = Records(
    naptr: [
      "naptr.example.com": [
        naptr(20, 10, "SIP+D2U", "_sip._udp.naptr.example.com"),
        naptr(10, 20, "SIP+D2U", "_sip._udp.naptr.example.com"),
        naptr(10, 10, "SIP+D2T", "_sip._tcp.naptr.example.com"),
        naptr(10, 30, "SIPS+D2T", "_sips._tcp.naptr.example.com"),
      ],
      "tls.example.com": [
        naptr(20, 10, "SIP+D2U", "_sip._udp.naptr.example.com"),
        naptr(10, 10, "SIPS+D2T", "_sips._tcp.naptr.example.com"),
      ],
      "sctp.example.com": [
        naptr(10, 10, "SIP+D2S", "_sip._sctp.sctp.example.com"),
        naptr(20, 10, "SIP+D2U", "_sip._udp.sctp.example.com"),
      ],
      "empty.example.com": [
        naptr(10, 10, "SIP+D2T", "_sip._tcp.empty.example.com"),
        naptr(20, 10, "SIP+D2U", "_sip._udp.empty.example.com"),
      ],
    ],
    srv: [
      "_sip._udp.biloxi.example.com": [
        srv(20, 0, 5070, "p2.biloxi"), srv(10, 0, 5060, "p1.biloxi"),
      ],
      "_sip._tcp.biloxi.example.com": [srv(10, 0, 5080, "p1.biloxi")],
      "_sips._tcp.biloxi.example.com": [srv(10, 0, 5061, "p2.biloxi")],
      "_sip._tcp.tcp.example.com": [srv(10, 0, 5090, "p1.biloxi")],
      "_sip._udp.naptr.example.com": [srv(10, 0, 5060, "p1.biloxi")],
      "_sip._tcp.naptr.example.com": [srv(10, 0, 5062, "p2.biloxi")],
      "_sips._tcp.naptr.example.com": [srv(10, 0, 5063, "p1.biloxi")],
      "_sip._udp.sctp.example.com": [srv(10, 0, 5064, "p1.biloxi")],
      "_sip._udp.empty.example.com": [srv(10, 0, 5065, "p2.biloxi")],
      "_sip._udp.dead.example.com": [
        srv(10, 0, 5060, "."), srv(20, 0, 5060, "nowhere.biloxi"), srv(30, 0, 5066, "p1.biloxi"),
      ],
    ],
    a: [
      "biloxi.example.com": ["10.0.0.5", "10.0.0.6"],
      "p1.biloxi": ["10.0.0.3"],
      "p2.biloxi": ["10.0.0.4", "[2001:db8::4]"],
      "atlanta.example.com": ["10.0.0.8"],
    ])

  /// One row per rule of RFC 3263 §4.1 and §4.2: the URI, the rule that decided, and the
  /// targets in order (`host:port/TRANSPORT`).
  @Test(arguments: [
    // §4.1/§4.2: a numeric address is used as it is: UDP for sip, TLS for sips.
    ("sip:bob@10.0.0.9", "numeric", "10.0.0.9:5060/UDP"),
    ("sips:bob@10.0.0.9", "numeric", "10.0.0.9:5061/TLS"),
    ("sip:bob@10.0.0.9:5099;transport=tcp", "numeric", "10.0.0.9:5099/TCP"),
    ("sip:bob@[2001:db8::1]", "numeric", "[2001:db8::1]:5060/UDP"),
    // §8.1.2 / §18.1.1: maddr wins over the host.
    ("sip:bob@biloxi.example.com;maddr=10.0.0.7", "numeric", "10.0.0.7:5060/UDP"),
    // §4.2: an explicit port: the name's addresses at that port, no SRV even where it exists.
    (
      "sip:bob@biloxi.example.com:5072", "port",
      "10.0.0.5:5072/UDP 10.0.0.6:5072/UDP"
    ),
    ("sips:bob@biloxi.example.com:5072", "port", "10.0.0.5:5072/TLS 10.0.0.6:5072/TLS"),
    // §4.1: the transport parameter; §4.2: SRV for that transport.
    ("sip:bob@biloxi.example.com;transport=tcp", "transport-parameter", "10.0.0.3:5080/TCP"),
    (
      "sip:bob@biloxi.example.com;transport=tls", "transport-parameter",
      "10.0.0.4:5061/TLS [2001:db8::4]:5061/TLS"
    ),
    (
      "sips:bob@biloxi.example.com;transport=tcp", "transport-parameter",
      "10.0.0.4:5061/TLS [2001:db8::4]:5061/TLS"
    ),
    // … and without SRV for it, the name's addresses at the default port.
    ("sip:bob@atlanta.example.com;transport=tcp", "transport-parameter", "10.0.0.8:5060/TCP"),
    // A transport this simulation does not model: no target.
    ("sip:bob@biloxi.example.com;transport=sctp", "transport-parameter", ""),
    ("sips:bob@biloxi.example.com;transport=udp", "transport-parameter", ""),
    // §4.1: NAPTR by order then preference; sips keeps only SIPS+D2T.
    ("sip:bob@naptr.example.com", "NAPTR", "10.0.0.4:5062/TCP [2001:db8::4]:5062/TCP"),
    ("sips:bob@naptr.example.com", "NAPTR", "10.0.0.3:5063/TLS"),
    // A sip URI keeps SIPS records (the client supports TLS).
    ("sip:bob@tls.example.com", "NAPTR", "10.0.0.3:5063/TLS"),
    // A service the client does not support (SCTP) is passed over.
    ("sip:bob@sctp.example.com", "NAPTR", "10.0.0.3:5064/UDP"),
    // A NAPTR whose SRV name has no records: the next one.
    ("sip:bob@empty.example.com", "NAPTR", "10.0.0.4:5065/UDP [2001:db8::4]:5065/UDP"),
    // §4.1: no NAPTR: SRV for the transports supported, UDP first; priorities ascending.
    (
      "sip:bob@biloxi.example.com", "SRV",
      "10.0.0.3:5060/UDP 10.0.0.4:5070/UDP [2001:db8::4]:5070/UDP"
    ),
    ("sip:bob@tcp.example.com", "SRV", "10.0.0.3:5090/TCP"),
    ("sips:bob@biloxi.example.com", "SRV", "10.0.0.4:5061/TLS [2001:db8::4]:5061/TLS"),
    // RFC 2782: a "." target is no service; a target without addresses gives no target.
    ("sip:bob@dead.example.com", "SRV", "10.0.0.3:5066/UDP"),
    // §4.1/§4.2: nothing at all: UDP (TLS for sips) to the addresses at the default port.
    ("sip:bob@atlanta.example.com", "A", "10.0.0.8:5060/UDP"),
    ("sips:bob@atlanta.example.com", "A", "10.0.0.8:5061/TLS"),
    ("sip:bob@unknown.example.com", "A", ""),
  ])
  func rule(uri text: String, rule: String, targets: String) throws {
    let uri = try SIPURI(text)
    var random = Scripted()
    let location = ServerLocator.locate(uri, records: Self.full, random: &random)
    #expect(location.rule.rawValue == rule, "\(text)")
    #expect(location.targets.map(\.description).joined(separator: " ") == targets, "\(text)")
  }

  /// With no NAPTR or SRV record anywhere, no query is made: a name is its address records.
  @Test func noServiceRecordsMeansNoQuery() throws {
    let records = Records(a: ["biloxi.example.com": ["10.0.0.5", "10.0.0.6"]])
    var random = Scripted()
    let location = ServerLocator.locate(
      try SIPURI("sip:bob@biloxi.example.com"), records: records, random: &random)
    #expect(location.rule == .address)
    #expect(location.queries.isEmpty)
    #expect(!location.queriedServiceRecords)
    #expect(location.targets.map(\.description) == ["10.0.0.5:5060/UDP", "10.0.0.6:5060/UDP"])
    #expect(random.draws == 0)
  }

  /// The first target of a full resolution is the peer a URI names directly whenever no SRV
  /// or NAPTR record can change it (what an element sends to without resolving).
  @Test(arguments: [
    "sip:bob@10.0.0.9", "sips:bob@10.0.0.9:5099", "sip:bob@biloxi.example.com;maddr=10.0.0.7",
    "sip:bob@biloxi.example.com;transport=tcp", "sip:bob@biloxi.example.com;transport=tls",
    "sips:bob@biloxi.example.com", "sip:bob@biloxi.example.com:5072",
  ])
  func directPeerIsTheFirstTargetWithoutServiceRecords(text: String) throws {
    let uri = try SIPURI(text)
    let records = Records(a: ["biloxi.example.com": ["10.0.0.5"]])
    var random = Scripted()
    let located = ServerLocator.locate(uri, records: records, random: &random)
    let direct = ServerLocator.directPeer(for: uri)
    #expect(located.targets.first?.port == direct.port)
    #expect(located.targets.first?.transport == direct.transport)
    let host = direct.host == "biloxi.example.com" ? "10.0.0.5" : direct.host
    #expect(located.targets.first?.host == host)
  }

  @Test(arguments: [
    ("10.0.0.1", true), ("255.255.255.255", true), ("[2001:db8::1]", true), ("2001:db8::1", true),
    ("256.0.0.1", false), ("10.0.0", false), ("10.0.0.1.2", false), ("10..0.1", false),
    ("biloxi.example.com", false), ("1000.0.0.1", false), ("10.0.0.", false), ("", false),
  ])
  func numericHosts(host: String, numeric: Bool) {
    #expect(ServerLocator.isNumeric(host) == numeric, "\(host)")
  }

  @Test func srvNames() {
    #expect(ServerLocator.srvName(.udp, domain: "b.com") == "_sip._udp.b.com")
    #expect(ServerLocator.srvName(.tcp, domain: "b.com") == "_sip._tcp.b.com")
    #expect(ServerLocator.srvName(.tls, domain: "b.com") == "_sips._tcp.b.com")
    #expect(ServerLocator.transport(forService: "sip+d2u") == .udp)
    #expect(ServerLocator.transport(forService: "SIP+D2S") == nil)
  }

  // MARK: RFC 2782 ordering

  /// Priorities ascending, and one record per priority draws nothing.
  @Test func priorityOrderDrawsNothingForSingleRecords() {
    let records = [Self.srv(30, 5, 1, "c"), Self.srv(10, 5, 1, "a"), Self.srv(20, 5, 1, "b")]
    var random = Scripted()
    let ordered = ServerLocator.orderSRV(records, random: &random)
    #expect(ordered.map(\.target) == ["a", "b", "c"])
    #expect(random.draws == 0)
  }

  /// The draw picks the first record whose running sum of weights reaches it: weights 10 and
  /// 30 put `a` first for draws 0…10 and `b` first for 11…40.
  @Test(arguments: [(UInt64(0), "a b"), (10, "a b"), (11, "b a"), (40, "b a"), (41, "a b")])
  func weightedChoice(draw: UInt64, order: String) {
    let records = [Self.srv(10, 10, 1, "a"), Self.srv(10, 30, 1, "b")]
    var random = Scripted([draw])
    let ordered = ServerLocator.orderSRV(records, random: &random)
    #expect(ordered.map(\.target).joined(separator: " ") == order)
    #expect(random.draws == 1)
  }

  /// Zero-weight records are listed first, so only a draw of 0 picks one among weighted ones.
  @Test func zeroWeightsComeFirstInTheRunningSum() {
    let records = [Self.srv(10, 10, 1, "a"), Self.srv(10, 0, 1, "z")]
    var zero = Scripted([0])
    #expect(ServerLocator.orderSRV(records, random: &zero).map(\.target) == ["z", "a"])
    var one = Scripted([1])
    #expect(ServerLocator.orderSRV(records, random: &one).map(\.target) == ["a", "z"])
  }

  /// Over many draws, weights 10 and 30 put the heavier record first 30 times in 41 (RFC 2782
  /// draws from 0 through the total, inclusive: 0 goes to the first record listed); and the
  /// same seed gives the same order.
  @Test func weightsShareTheChoices() {
    let records = [Self.srv(10, 10, 1, "light"), Self.srv(10, 30, 1, "heavy")]
    var random = Mixer(state: 42)
    var heavyFirst = 0
    let trials = 4000
    for _ in 0..<trials
    where ServerLocator.orderSRV(records, random: &random).first?.target == "heavy" {
      heavyFirst += 1
    }
    let share = Double(heavyFirst) / Double(trials)
    #expect(share > 0.69 && share < 0.77, "\(share)")
    var first = Mixer(state: 7)
    var second = Mixer(state: 7)
    let many = (0..<6).map { Self.srv(UInt16($0 % 2), UInt16($0 * 7), 1, "t\($0)") }
    #expect(
      ServerLocator.orderSRV(many, random: &first) == ServerLocator.orderSRV(many, random: &second))
  }

  @Test func naptrOrderThenPreference() {
    let records = [
      Self.naptr(20, 1, "a", "x"), Self.naptr(10, 30, "b", "x"), Self.naptr(10, 20, "c", "x"),
      Self.naptr(10, 20, "d", "x"),
    ]
    #expect(ServerLocator.orderNAPTR(records).map(\.service) == ["c", "d", "b", "a"])
  }
}
