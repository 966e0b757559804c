/// A whole simulation as data: hosts and their SIP roles, domains, links, users, a scenario
/// timeline, faults and what must come out of it. Topology files (`Topologies/*.json`) decode
/// into it; examples and tests build it in Swift. Every object refuses keys it does not know,
/// and every error names its JSON path (``TopologyError``).
public struct Topology: Sendable, Decodable {
  /// A short name (`default`, `rfc3665-3.2`); the file name when loaded from a file.
  public var name: String
  /// One line for `sipsim list`.
  public var summary: String
  /// What it teaches, in a few sentences (printed by `sipsim run --verbose`).
  public var notes: String?
  /// The seed of every random draw; `sipsim run --seed` overrides it.
  public var seed: UInt64
  /// How much virtual time to run; `--duration` overrides it. Default: to the last scenario
  /// step or fault, then on, a virtual second at a time, until nothing is left over (every
  /// transaction ended, every timer but registration refreshes run out), 10 minutes at most.
  public var duration: TimeSpan?
  /// T1, T2, T4 for every element (RFC 3261 §17.1.1.1, §17.1.2.2; defaults 500 ms, 4 s, 5 s).
  public var timers: TimerSpec
  public var links: LinksSpec
  public var hosts: [HostSpec]
  /// Address, SRV and NAPTR records beyond the hosts' `domains` (RFC 3263 server location).
  public var dns: DNSSpec
  public var users: [UserSpec]
  public var scenario: [Step]
  public var faults: [FaultSpec]
  public var messageFaults: [MessageFault]
  public var expect: Expectations

  public init(
    name: String, summary: String = "", notes: String? = nil, seed: UInt64 = 1,
    duration: TimeSpan? = nil, timers: TimerSpec = TimerSpec(), links: LinksSpec = LinksSpec(),
    hosts: [HostSpec], users: [UserSpec] = [], scenario: [Step] = [], faults: [FaultSpec] = [],
    messageFaults: [MessageFault] = [], expect: Expectations = Expectations(),
    dns: DNSSpec = DNSSpec()
  ) {
    self.name = name
    self.summary = summary
    self.notes = notes
    self.seed = seed
    self.duration = duration
    self.timers = timers
    self.links = links
    self.hosts = hosts
    self.dns = dns
    self.users = users
    self.scenario = scenario
    self.faults = faults
    self.messageFaults = messageFaults
    self.expect = expect
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.strictContainer([
      "name", "summary", "notes", "seed", "duration", "timers", "links", "hosts", "users",
      "scenario", "faults", "messageFaults", "expect", "dns",
    ])
    name = try c.optional("name") ?? ""
    summary = try c.optional("summary") ?? ""
    notes = try c.optional("notes")
    seed = try c.optional("seed") ?? 1
    duration = try c.optional("duration")
    timers = try c.optional("timers") ?? TimerSpec()
    links = try c.optional("links") ?? LinksSpec()
    hosts = try c.required("hosts")
    dns = try c.optional("dns") ?? DNSSpec()
    users = try c.optional("users") ?? []
    scenario = try c.optional("scenario") ?? []
    faults = try c.optional("faults") ?? []
    messageFaults = try c.optional("messageFaults") ?? []
    expect = try c.optional("expect") ?? Expectations()
  }
}

/// RFC 3261's timer base values for every element of a topology.
public struct TimerSpec: Sendable, Decodable {
  public var t1: TimeSpan
  public var t2: TimeSpan
  public var t4: TimeSpan

  public init(
    t1: TimeSpan = TimeSpan(.milliseconds(500)), t2: TimeSpan = TimeSpan(.seconds(4)),
    t4: TimeSpan = TimeSpan(.seconds(5))
  ) {
    self.t1 = t1
    self.t2 = t2
    self.t4 = t4
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.strictContainer(["t1", "t2", "t4"])
    let fallback = TimerSpec()
    t1 = try c.optional("t1") ?? fallback.t1
    t2 = try c.optional("t2") ?? fallback.t2
    t4 = try c.optional("t4") ?? fallback.t4
    // A zero T1 would retransmit forever at one instant (Timer A doubles from T1).
    for (key, span) in [("t1", t1), ("t2", t2), ("t4", t4)] where span.duration < .milliseconds(1) {
      throw c.invalid(AnyKey(stringValue: key), "\(key) must be at least 1ms, not \(span)")
    }
    if t2.duration < t1.duration {
      throw c.invalid(
        "t2", "T2 (\(t2)) caps retransmission intervals: it cannot be below T1 (\(t1))")
    }
  }
}

/// How packets cross one link (one direction): the kernel's `LinkConditions` as JSON. Keys left
/// out keep the value of the link it refines (the default link for a pair).
public struct LinkSpec: Sendable, Decodable {
  public var latency: TimeSpan?
  /// Uniform jitter on [0, jitter].
  public var jitter: TimeSpan?
  /// Heavy-tailed (Pareto) jitter with this scale instead, cut at `jitter` (or 10 × scale).
  public var paretoScale: TimeSpan?
  public var loss: Double?
  public var duplicate: Double?
  public var reorder: Double?
  public var mtu: Int?

  public init(
    latency: TimeSpan? = nil, jitter: TimeSpan? = nil, paretoScale: TimeSpan? = nil,
    loss: Double? = nil, duplicate: Double? = nil, reorder: Double? = nil, mtu: Int? = nil
  ) {
    self.latency = latency
    self.jitter = jitter
    self.paretoScale = paretoScale
    self.loss = loss
    self.duplicate = duplicate
    self.reorder = reorder
    self.mtu = mtu
  }

  static let keys = ["latency", "jitter", "paretoScale", "loss", "duplicate", "reorder", "mtu"]

  public init(from decoder: any Decoder) throws {
    try self.init(decoder: decoder, extraKeys: [])
  }

  init(decoder: any Decoder, extraKeys: [String]) throws {
    let c = try decoder.strictContainer(Self.keys + extraKeys)
    latency = try c.optional("latency")
    jitter = try c.optional("jitter")
    paretoScale = try c.optional("paretoScale")
    for (key, value) in [("loss", "loss"), ("duplicate", "duplicate"), ("reorder", "reorder")] {
      if let p = try c.optional(AnyKey(stringValue: key), as: Double.self), !(0...1).contains(p) {
        throw c.invalid(AnyKey(stringValue: key), "\(value) probability \(p) is not in 0...1")
      }
    }
    loss = try c.optional("loss")
    duplicate = try c.optional("duplicate")
    reorder = try c.optional("reorder")
    mtu = try c.optional("mtu")
    if let mtu, mtu < 68 { throw c.invalid("mtu", "an MTU of \(mtu) bytes is below IPv4's 68") }
  }
}

/// A per-pair link override: `from` → `to`, and back too unless `oneWay`.
public struct PairLinkSpec: Sendable, Decodable {
  public var from: String
  public var to: String
  public var oneWay: Bool
  public var link: LinkSpec

  public init(from: String, to: String, oneWay: Bool = false, link: LinkSpec) {
    self.from = from
    self.to = to
    self.oneWay = oneWay
    self.link = link
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.strictContainer(LinkSpec.keys + ["from", "to", "oneWay"])
    from = try c.required("from")
    to = try c.required("to")
    oneWay = try c.optional("oneWay") ?? false
    link = try LinkSpec(decoder: decoder, extraKeys: ["from", "to", "oneWay"])
  }
}

/// The default link and the per-pair overrides.
public struct LinksSpec: Sendable, Decodable {
  public var `default`: LinkSpec
  public var pairs: [PairLinkSpec]

  public init(default: LinkSpec = LinkSpec(), pairs: [PairLinkSpec] = []) {
    self.default = `default`
    self.pairs = pairs
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.strictContainer(["default", "pairs"])
    self.default = try c.optional("default") ?? LinkSpec()
    pairs = try c.optional("pairs") ?? []
  }
}

/// A subscriber: who may authenticate to the servers of `domain` (RFC 3261 §22), and the
/// credentials a user agent whose address of record is `user@domain` answers challenges with.
public struct UserSpec: Sendable, Decodable {
  public var user: String
  public var domain: String
  public var password: String

  public init(user: String, domain: String, password: String) {
    self.user = user
    self.domain = domain
    self.password = password
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.strictContainer(["user", "domain", "password"])
    user = try c.required("user")
    domain = try c.required("domain")
    password = try c.required("password")
  }
}

/// What a host is: its name, addresses, the domains that resolve to it, and its SIP role.
public struct HostSpec: Sendable, Decodable {
  public var name: String
  /// IPv4 or IPv6 literals; empty gives the next `10.0.0.N`.
  public var addresses: [String]
  /// Domain names whose address records point here (`atlanta.example.com`).
  public var domains: [String]
  public var role: Role

  public init(name: String, addresses: [String] = [], domains: [String] = [], role: Role) {
    self.name = name
    self.addresses = addresses
    self.domains = domains
    self.role = role
  }

  public enum Role: Sendable {
    case userAgent(UASpec)
    case proxy(ProxySpec)
    case statelessProxy(StaticBindings)
    case registrar(RegistrarSpec)
    case redirect(RedirectSpec)
    case b2bua(B2BUASpec)
    /// A host with no SIP element: a dead server to fail over from, or a place for faults.
    case none

    public var name: String {
      switch self {
      case .userAgent: "ua"
      case .proxy: "proxy"
      case .statelessProxy: "stateless-proxy"
      case .registrar: "registrar"
      case .redirect: "redirect"
      case .b2bua: "b2bua"
      case .none: "none"
      }
    }
  }

  static let commonKeys = ["name", "addresses", "domains", "role"]

  public init(from decoder: any Decoder) throws {
    let head = try decoder.container(keyedBy: AnyKey.self)
    let roleName = try head.required("role", as: String.self)
    let roleKeys: [String]
    switch roleName {
    case "ua": roleKeys = UASpec.keys
    case "proxy": roleKeys = ProxySpec.keys
    case "stateless-proxy": roleKeys = StaticBindings.keys
    case "registrar": roleKeys = RegistrarSpec.keys
    case "redirect": roleKeys = RedirectSpec.keys
    case "b2bua": roleKeys = B2BUASpec.keys
    case "none": roleKeys = []
    default:
      throw head.invalid(
        "role",
        "unknown role '\(roleName)'; expected ua, proxy, stateless-proxy, registrar, redirect, "
          + "b2bua or none")
    }
    let c = try decoder.strictContainer(Self.commonKeys + roleKeys)
    name = try c.required("name")
    if name.isEmpty || name.contains(where: { $0 == " " || $0 == ":" }) {
      throw c.invalid("name", "a host name must be non-empty, without spaces or ':'")
    }
    addresses = try c.optional("addresses") ?? []
    domains = try c.optional("domains") ?? []
    switch roleName {
    case "ua": role = .userAgent(try UASpec(c))
    case "proxy": role = .proxy(try ProxySpec(c))
    case "stateless-proxy": role = .statelessProxy(try StaticBindings(c))
    case "registrar": role = .registrar(try RegistrarSpec(c))
    case "redirect": role = .redirect(try RedirectSpec(c))
    case "b2bua": role = .b2bua(try B2BUASpec(c))
    default: role = .none
    }
  }
}

/// A user agent's settings.
public struct UASpec: Sendable {
  /// Its address of record, `sip:alice@atlanta.example.com`.
  public var aor: String
  public var displayName: String?
  /// The outbound proxy for requests outside dialogs (§8.1.2), a URI or a domain.
  public var proxy: String?
  /// Proxies to fail over to when the outbound proxy does not answer (RFC 3263 §4.3).
  public var fallbackProxies: [String]
  /// How it answers INVITEs.
  public var behaviour: BehaviourSpec
  /// Codecs it offers, by name, preferred first.
  public var codecs: [String]?
  /// The password it answers challenges with, when it differs from its entry in `users` (a
  /// user who mistyped it, RFC 3665 §2.5).
  public var password: String?
  /// The `Expires` (whole seconds, 0 to 2^32 − 1 as RFC 3261 §20.19 allows) on the INVITEs of
  /// the calls it places: unanswered by then, it CANCELs them (§13.2.1). See
  /// `UAConfiguration.inviteExpires`.
  public var inviteExpires: UInt32?
  /// The agent's own Timer C (`UAConfiguration.timerC`): how long its INVITE may wait in
  /// Proceeding for a final response before it CANCELs it. `.default` keeps the agent's (4
  /// minutes); `.off` waits for ever, as RFC 3261's Figure 5 does (key `"timerC": "off"`).
  public var timerC: TimerCSpec

  /// A user agent's Timer C setting, as a topology writes it.
  public enum TimerCSpec: Sendable, Equatable {
    case `default`
    case off
    case after(TimeSpan)
  }

  public init(
    aor: String, displayName: String? = nil, proxy: String? = nil, fallbackProxies: [String] = [],
    behaviour: BehaviourSpec = BehaviourSpec(kind: .answer), codecs: [String]? = nil,
    inviteExpires: UInt32? = nil, timerC: TimerCSpec = .default
  ) {
    self.timerC = timerC
    self.inviteExpires = inviteExpires
    self.aor = aor
    self.displayName = displayName
    self.proxy = proxy
    self.fallbackProxies = fallbackProxies
    self.behaviour = behaviour
    self.codecs = codecs
  }

  static let keys = [
    "aor", "displayName", "proxy", "fallbackProxies", "behaviour", "codecs", "password",
    "inviteExpires", "timerC",
  ]

  init(_ c: KeyedDecodingContainer<AnyKey>) throws {
    aor = try c.required("aor")
    displayName = try c.optional("displayName")
    proxy = try c.optional("proxy")
    fallbackProxies = try c.optional("fallbackProxies") ?? []
    behaviour = try c.optional("behaviour") ?? BehaviourSpec(kind: .answer)
    codecs = try c.optional("codecs")
    password = try c.optional("password")
    timerC = .default
    if (try? c.decode(String.self, forKey: "timerC")) == "off" {
      timerC = .off
    } else if let span: TimeSpan = try c.optional("timerC") {
      timerC = .after(span)
    }
    inviteExpires = nil
    if c.contains("inviteExpires") {
      // Read as a number and checked here, so every wrong value, a string or a fraction as
      // much as a number out of range, gets one sentence: the range §20.19 allows, and what
      // was written.
      let number = try? c.decode(Double.self, forKey: "inviteExpires")
      guard let value = number, value.rounded(.towardZero) == value, value >= 0,
        value <= Double(UInt32.max)
      else {
        let text = try? c.decode(String.self, forKey: "inviteExpires")
        let shown =
          number.map { abs($0) < 1e15 && $0.rounded() == $0 ? String(Int64($0)) : "\($0)" }
          ?? text.map { "'\($0)'" }
          ?? ((try? c.decodeNil(forKey: "inviteExpires")) == true ? "null" : "a list or an object")
        throw c.invalid(
          "inviteExpires",
          "expected a whole number of seconds from 0 to 4294967295 (RFC 3261 §20.19), not \(shown)"
        )
      }
      inviteExpires = UInt32(value)
    }
  }
}

/// How a user agent answers a call (see `UABehaviour`).
public struct BehaviourSpec: Sendable, Decodable {
  public enum Kind: String, Sendable, CaseIterable {
    /// 200 after `after` (the transaction sends 100 Trying at 200 ms).
    case answer
    /// 180 at once, 200 after `for` (or `status` after `for`, when given: RFC 3665 §3.11).
    case ring
    /// `status` at once.
    case reject
    case busy
    case unavailable
    /// 180 and never a final response: the caller must CANCEL.
    case noAnswer
    /// Ring for `for`, answer, hang up `talk` after the ACK.
    case answerThenHangUp
    /// A broken callee (RFC 3261 §9.2 not followed): 180 at once, 200 after `for`, and a CANCEL
    /// gets 200 but the INVITE no 487, so the caller gives it up 64·T1 after its CANCEL (§9.1).
    case ignoreCancel

    /// The keys besides `kind` this behaviour reads: any other is refused, since a `talk` on a
    /// `busy` callee would otherwise be silently ignored.
    var keys: [String] {
      switch self {
      case .answer: ["after"]
      case .ring: ["for", "status"]
      case .reject: ["status"]
      case .busy, .unavailable, .noAnswer: []
      case .answerThenHangUp: ["for", "talk"]
      case .ignoreCancel: ["for"]
      }
    }
  }

  public var kind: Kind
  public var after: TimeSpan?
  public var ringFor: TimeSpan?
  public var status: Int?
  public var talk: TimeSpan?

  public init(
    kind: Kind, after: TimeSpan? = nil, ringFor: TimeSpan? = nil, status: Int? = nil,
    talk: TimeSpan? = nil
  ) {
    self.kind = kind
    self.after = after
    self.ringFor = ringFor
    self.status = status
    self.talk = talk
  }

  /// `"busy"` or `{"kind": "ring", "for": "2s"}`.
  public init(from decoder: any Decoder) throws {
    if let text = try? decoder.singleValueContainer().decode(String.self) {
      guard let kind = Kind(rawValue: text) else { throw decoder.invalid(Self.unknown(text)) }
      self.init(kind: kind)
      try validate(decoder)
      return
    }
    let c = try decoder.strictContainer(["kind", "after", "for", "status", "talk"])
    let text = try c.required("kind", as: String.self)
    guard let kind = Kind(rawValue: text) else {
      throw c.invalid("kind", Self.unknown(text))
    }
    let unused = c.allKeys.map(\.stringValue).filter { $0 != "kind" && !kind.keys.contains($0) }
    if let key = unused.sorted().first {
      let takes =
        kind.keys.isEmpty
        ? "it takes no other key"
        : "it takes " + kind.keys.map { "'\($0)'" }.joined(separator: ", ")
      throw c.invalid(AnyKey(stringValue: key), "'\(key)' does not apply to '\(text)' (\(takes))")
    }
    self.init(
      kind: kind, after: try c.optional("after"), ringFor: try c.optional("for"),
      status: try c.optional("status"), talk: try c.optional("talk"))
    try validate(decoder)
  }

  func validate(_ decoder: any Decoder) throws {
    switch kind {
    case .reject:
      guard let status, (400...699).contains(status) else {
        throw decoder.invalid("'reject' needs a 'status' from 400 to 699")
      }
    case .ring:
      if let status, !(300...699).contains(status) {
        throw decoder.invalid("a ring ends with 200 or a 'status' from 300 to 699, not \(status)")
      }
    case .answerThenHangUp:
      if talk == nil { throw decoder.invalid("'answerThenHangUp' needs 'talk' (a time span)") }
    case .ignoreCancel:
      // No default: how long it rings decides whether its 200 comes before or after the
      // caller's give-up, which is the lesson, so the file says it.
      if ringFor == nil {
        throw decoder.invalid("'ignoreCancel' needs 'for' (a time span: when its 200 comes)")
      }
    default: break
    }
  }

  static func unknown(_ text: String) -> String {
    "unknown behaviour '\(text)'; expected one of: "
      + Kind.allCases.map(\.rawValue).joined(separator: ", ")
  }
}

/// Contacts provisioned without a REGISTER: `{"aor": …, "contact": …, "q": 0.5}`.
public struct BindingSpec: Sendable, Decodable {
  public var aor: String
  public var contact: String
  public var q: Double

  public init(aor: String, contact: String, q: Double = 1) {
    self.aor = aor
    self.contact = contact
    self.q = q
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.strictContainer(["aor", "contact", "q"])
    aor = try c.required("aor")
    contact = try c.required("contact")
    q = try c.optional("q") ?? 1
    if !(0...1).contains(q) { throw c.invalid("q", "q \(q) is not in 0...1") }
  }
}

/// The static bindings of a server that looks targets up (stateless proxy, redirect server).
public struct StaticBindings: Sendable {
  public var bindings: [BindingSpec]
  public init(bindings: [BindingSpec] = []) { self.bindings = bindings }
  static let keys = ["bindings"]
  init(_ c: KeyedDecodingContainer<AnyKey>) throws {
    bindings = try c.optional("bindings") ?? []
  }
}

/// A stateful proxy's settings (RFC 3261 §16).
public struct ProxySpec: Sendable {
  public var recordRoute: Bool
  /// `parallel` or `sequential` (§16.6 forking).
  public var forking: String
  /// How long a sequential branch rings before the next one is tried.
  public var branchTimeout: TimeSpan?
  /// Timer C (§16.8), more than 3 minutes by default.
  public var timerC: TimeSpan?
  /// Challenge requests with 407 (§22.3) for the users of its first domain.
  public var authenticate: Bool
  /// Also the registrar of its domains (a co-located registrar, as in RFC 3665 §2).
  public var registrar: Bool
  public var bindings: [BindingSpec]
  /// What it answers upstream when no branch answered in time (408 by default; RFC 3665
  /// §3.10 shows 480 No Response).
  public var noResponseStatus: Int?
  public var noResponseReason: String?
  /// Try the contacts of a 3xx itself instead of passing it upstream (§16.7 step 4).
  public var recurse: Bool = false

  public init(
    recordRoute: Bool = true, forking: String = "parallel", branchTimeout: TimeSpan? = nil,
    timerC: TimeSpan? = nil, authenticate: Bool = false, registrar: Bool = false,
    bindings: [BindingSpec] = []
  ) {
    self.recordRoute = recordRoute
    self.forking = forking
    self.branchTimeout = branchTimeout
    self.timerC = timerC
    self.authenticate = authenticate
    self.registrar = registrar
    self.bindings = bindings
  }

  static let keys = [
    "recordRoute", "forking", "branchTimeout", "timerC", "authenticate", "registrar", "bindings",
    "noResponseStatus", "noResponseReason", "recurse",
  ]

  init(_ c: KeyedDecodingContainer<AnyKey>) throws {
    recordRoute = try c.optional("recordRoute") ?? true
    forking = try c.optional("forking") ?? "parallel"
    guard ["parallel", "sequential"].contains(forking) else {
      throw c.invalid("forking", "forking is 'parallel' or 'sequential', not '\(forking)'")
    }
    branchTimeout = try c.optional("branchTimeout")
    timerC = try c.optional("timerC")
    authenticate = try c.optional("authenticate") ?? false
    registrar = try c.optional("registrar") ?? false
    bindings = try c.optional("bindings") ?? []
    noResponseStatus = try c.optional("noResponseStatus")
    noResponseReason = try c.optional("noResponseReason")
    recurse = try c.optional("recurse") ?? false
    if let status = noResponseStatus, !(400...699).contains(status) {
      throw c.invalid("noResponseStatus", "a failure status is 400 to 699, not \(status)")
    }
  }
}

/// A registrar's settings (RFC 3261 §10.3).
public struct RegistrarSpec: Sendable {
  public var authenticate: Bool
  public var minExpires: UInt32
  public init(authenticate: Bool = false, minExpires: UInt32 = 60) {
    self.authenticate = authenticate
    self.minExpires = minExpires
  }
  static let keys = ["authenticate", "minExpires"]
  init(_ c: KeyedDecodingContainer<AnyKey>) throws {
    authenticate = try c.optional("authenticate") ?? false
    minExpires = try c.optional("minExpires") ?? 60
  }
}

/// A redirect server's settings (RFC 3261 §8.3).
public struct RedirectSpec: Sendable {
  /// 300, 301 or 302.
  public var status: Int
  public var bindings: [BindingSpec]
  public init(status: Int = 302, bindings: [BindingSpec] = []) {
    self.status = status
    self.bindings = bindings
  }
  static let keys = ["status", "bindings"]
  init(_ c: KeyedDecodingContainer<AnyKey>) throws {
    status = try c.optional("status") ?? 302
    guard [300, 301, 302].contains(status) else {
      throw c.invalid("status", "a redirect server answers 300, 301 or 302, not \(status)")
    }
    bindings = try c.optional("bindings") ?? []
  }
}

/// A back-to-back user agent: answers on one side, calls `target` on the other.
public struct B2BUASpec: Sendable {
  public var aor: String
  /// Where every incoming call goes.
  public var target: String
  /// The outbound proxy of its outgoing leg.
  public var proxy: String?
  public init(aor: String, target: String, proxy: String? = nil) {
    self.aor = aor
    self.target = target
    self.proxy = proxy
  }
  static let keys = ["aor", "target", "proxy"]
  init(_ c: KeyedDecodingContainer<AnyKey>) throws {
    aor = try c.required("aor")
    target = try c.required("target")
    proxy = try c.optional("proxy")
  }
}
