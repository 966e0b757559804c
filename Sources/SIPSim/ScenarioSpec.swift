import Simulation

/// One step of a scenario's timeline: what a user agent does at a virtual instant.
public struct Step: Sendable, Decodable {
  public enum Action: Sendable {
    /// REGISTER with the registrar of the agent's domain (§10.2), its own contact and any
    /// `contacts` more; refreshes at half-time unless `refresh` is false.
    case register(ua: String, expires: UInt32, refresh: Bool, contacts: [String] = [])
    /// REGISTER with Expires 0 for its contact, or with `all` `Contact: *` (§10.2.2).
    case unregister(ua: String, all: Bool = false)
    /// REGISTER without Contact: asks for the current bindings (§10.2.3).
    case query(ua: String)
    /// INVITE `to` (a URI, or a host name standing for that UA's address of record); the call
    /// is known as `call` to later steps and expectations.
    case call(
      from: String, to: String, call: String, hangUpAfter: TimeSpan?, cancelAfter: TimeSpan?,
      offer: Bool)
    /// CANCEL the call (§9.1), sent by its caller.
    case cancel(call: String)
    /// BYE (§15) from `by` (a UA name; the caller when absent).
    case hangUp(call: String, by: String?)
    /// re-INVITE putting the call on hold or taking it off (§14, RFC 3264 §8.4).
    case reinvite(call: String, by: String?, hold: Bool)
    /// OPTIONS (§11), known as `request` to expectations.
    case options(from: String, to: String, request: String)
    /// A new answer policy from now on.
    case behaviour(ua: String, BehaviourSpec)
  }

  public var at: TimeSpan
  public var action: Action

  public init(at: TimeSpan, _ action: Action) {
    self.at = at
    self.action = action
  }

  static let actions = [
    "register", "unregister", "query", "call", "cancel", "hangup", "reinvite", "options",
    "behaviour",
  ]

  public init(from decoder: any Decoder) throws {
    let head = try decoder.container(keyedBy: AnyKey.self)
    let name = try head.required("action", as: String.self)
    let keys: [String]
    switch name {
    case "register": keys = ["ua", "expires", "refresh", "contacts"]
    case "unregister": keys = ["ua", "all"]
    case "query": keys = ["ua"]
    case "call": keys = ["from", "to", "call", "hangUpAfter", "cancelAfter", "offer"]
    case "cancel": keys = ["call"]
    case "hangup": keys = ["call", "by"]
    case "reinvite": keys = ["call", "by", "hold"]
    case "options": keys = ["from", "to", "request"]
    case "behaviour": keys = ["ua", "behaviour"]
    default:
      throw head.invalid(
        "action",
        "unknown action '\(name)'; expected one of: \(Self.actions.joined(separator: ", "))")
    }
    let c = try decoder.strictContainer(["at", "action"] + keys)
    at = try c.required("at")
    switch name {
    case "register":
      action = .register(
        ua: try c.required("ua"), expires: try c.optional("expires") ?? 3600,
        refresh: try c.optional("refresh") ?? true, contacts: try c.optional("contacts") ?? [])
    case "unregister":
      action = .unregister(ua: try c.required("ua"), all: try c.optional("all") ?? false)
    case "query": action = .query(ua: try c.required("ua"))
    case "call":
      action = .call(
        from: try c.required("from"), to: try c.required("to"), call: try c.required("call"),
        hangUpAfter: try c.optional("hangUpAfter"), cancelAfter: try c.optional("cancelAfter"),
        offer: try c.optional("offer") ?? true)
    case "cancel": action = .cancel(call: try c.required("call"))
    case "hangup": action = .hangUp(call: try c.required("call"), by: try c.optional("by"))
    case "reinvite":
      action = .reinvite(
        call: try c.required("call"), by: try c.optional("by"), hold: try c.optional("hold") ?? true
      )
    case "options":
      action = .options(
        from: try c.required("from"), to: try c.required("to"), request: try c.required("request"))
    default:
      action = .behaviour(ua: try c.required("ua"), try c.required("behaviour"))
    }
  }
}

/// A change to the network at a virtual instant (and its undoing at `until`).
public struct FaultSpec: Sendable, Decodable {
  public enum Kind: Sendable {
    /// Packets between the two hosts are dropped (`oneWay`: only first → second).
    case partition(String, String, oneWay: Bool)
    /// The host goes down: its sockets close, packets to it are dropped. `until` restarts it.
    case crash(String)
    case restart(String)
    /// The host gets `address` in place of its own (RFC 3665 §3.7): its agent re-INVITEs its
    /// calls and registers again from there.
    case move(String, address: String)
    /// New conditions for a link (both directions unless `oneWay`), or the default link when
    /// `from` and `to` are absent.
    case link(from: String?, to: String?, oneWay: Bool, LinkSpec)
  }

  public var at: TimeSpan
  /// When a partition is repaired or a crashed host restarts; never when absent.
  public var until: TimeSpan?
  public var kind: Kind

  public init(at: TimeSpan, until: TimeSpan? = nil, _ kind: Kind) {
    self.at = at
    self.until = until
    self.kind = kind
  }

  public init(from decoder: any Decoder) throws {
    let head = try decoder.container(keyedBy: AnyKey.self)
    let name = try head.required("kind", as: String.self)
    switch name {
    case "partition":
      let c = try decoder.strictContainer(["at", "until", "kind", "hosts", "oneWay"])
      let hosts = try c.required("hosts", as: [String].self)
      guard hosts.count == 2 else {
        throw c.invalid("hosts", "a partition is between exactly two hosts")
      }
      kind = .partition(hosts[0], hosts[1], oneWay: try c.optional("oneWay") ?? false)
      at = try c.required("at")
      until = try c.optional("until")
    case "crash", "restart":
      let c = try decoder.strictContainer(
        ["at", "kind", "host"] + (name == "crash" ? ["until"] : []))
      let host = try c.required("host", as: String.self)
      kind = name == "crash" ? .crash(host) : .restart(host)
      at = try c.required("at")
      until = try c.optional("until")
    case "move":
      let c = try decoder.strictContainer(["at", "kind", "host", "address"])
      let host = try c.required("host", as: String.self)
      let text = try c.required("address", as: String.self)
      guard IPAddress(text) != nil else {
        throw c.invalid("address", "'\(text)' is not an IPv4 or IPv6 address")
      }
      kind = .move(host, address: text)
      at = try c.required("at")
      until = nil
    case "link":
      let extra = ["at", "kind", "from", "to", "oneWay"]
      let c = try decoder.strictContainer(LinkSpec.keys + extra)
      let from = try c.optional("from", as: String.self)
      let to = try c.optional("to", as: String.self)
      if (from == nil) != (to == nil) {
        throw decoder.invalid("a link change names both 'from' and 'to', or neither (the default)")
      }
      kind = .link(
        from: from, to: to, oneWay: try c.optional("oneWay") ?? false,
        try LinkSpec(decoder: decoder, extraKeys: extra))
      at = try c.required("at")
      until = nil
    default:
      throw head.invalid(
        "kind", "unknown fault '\(name)'; expected partition, crash, restart, move or link")
    }
    if let until, until.duration <= at.duration {
      throw decoder.invalid("'until' (\(until)) must come after 'at' (\(at))")
    }
  }
}

/// A fault aimed at particular messages: drop, delay or duplicate the `nth` (1-based) UDP
/// datagram that matches every criterion given, and the `count - 1` matches after it.
/// Retransmissions are messages too: the second INVITE a client sends is match 2.
public struct MessageFault: Sendable, Decodable {
  public enum Action: Sendable, Equatable {
    case drop
    case delay(TimeSpan)
    case duplicate
  }

  public var action: Action
  /// A request method (`INVITE`, `ACK`, …).
  public var method: String?
  /// A response status (`180`, `200`, …).
  public var status: Int?
  /// Sender and receiver host names.
  public var from: String?
  public var to: String?
  public var nth: Int
  public var count: Int

  public init(
    _ action: Action, method: String? = nil, status: Int? = nil, from: String? = nil,
    to: String? = nil, nth: Int = 1, count: Int = 1
  ) {
    self.action = action
    self.method = method
    self.status = status
    self.from = from
    self.to = to
    self.nth = nth
    self.count = count
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.strictContainer([
      "action", "delay", "method", "status", "from", "to", "nth", "count",
    ])
    let name = try c.required("action", as: String.self)
    // Only a delay reads 'delay': on a drop or a duplicate it would be silently ignored.
    if name != "delay", c.contains("delay") {
      throw c.invalid("delay", "'delay' applies to a 'delay' fault, not to '\(name)'")
    }
    switch name {
    case "drop": action = .drop
    case "duplicate": action = .duplicate
    case "delay":
      guard let delay = try c.optional("delay", as: TimeSpan.self) else {
        throw c.invalid("delay", "a 'delay' fault needs 'delay' (a time span)")
      }
      action = .delay(delay)
    default:
      throw c.invalid("action", "unknown action '\(name)'; expected drop, delay or duplicate")
    }
    method = try c.optional("method")
    status = try c.optional("status")
    if method != nil, status != nil {
      throw decoder.invalid("match a request 'method' or a response 'status', not both")
    }
    from = try c.optional("from")
    to = try c.optional("to")
    nth = try c.optional("nth") ?? 1
    count = try c.optional("count") ?? 1
    if nth < 1 { throw c.invalid("nth", "'nth' counts from 1") }
    if count < 1 { throw c.invalid("count", "'count' is at least 1") }
  }
}

/// What must hold when the run ends; `sipsim run` exits 1 naming each one that does not.
public struct Expectations: Sendable, Decodable {
  /// A call's outcome at its caller: answered or not, and the INVITE's final status.
  public struct CallOutcome: Sendable, Decodable {
    public var call: String
    public var answered: Bool?
    public var status: Int?
    public init(call: String, answered: Bool? = nil, status: Int? = nil) {
      self.call = call
      self.answered = answered
      self.status = status
    }
    public init(from decoder: any Decoder) throws {
      let c = try decoder.strictContainer(["call", "answered", "status"])
      call = try c.required("call")
      answered = try c.optional("answered")
      status = try c.optional("status")
    }
  }

  /// The final status of an OPTIONS request, or of a UA's last REGISTER.
  public struct StatusOutcome: Sendable, Decodable {
    public var name: String
    public var status: Int
    public init(name: String, status: Int) {
      self.name = name
      self.status = status
    }
    init(from decoder: any Decoder, key: String) throws {
      let c = try decoder.strictContainer([key, "status"])
      name = try c.required(AnyKey(stringValue: key))
      status = try c.required("status")
    }
    public init(from decoder: any Decoder) throws { try self.init(from: decoder, key: "name") }
  }

  struct RequestOutcome: Decodable {
    var value: StatusOutcome
    init(from decoder: any Decoder) throws {
      value = try StatusOutcome(from: decoder, key: "request")
    }
  }

  struct RegistrationOutcome: Decodable {
    var value: StatusOutcome
    init(from decoder: any Decoder) throws { value = try StatusOutcome(from: decoder, key: "ua") }
  }

  /// The messages of one call (or one agent's registrations) in the order they were sent,
  /// retransmissions included, each as its method or status code: RFC 3665's `Sequence:`
  /// lines. Messages sent at the same virtual instant may come in either order.
  public struct MessageSequence: Sendable, Decodable {
    public var call: String?
    public var registration: String?
    public var messages: [String]
    public var from: TimeSpan?
    public var until: TimeSpan?
    public init(
      call: String? = nil, registration: String? = nil, messages: [String], from: TimeSpan? = nil,
      until: TimeSpan? = nil
    ) {
      self.call = call
      self.registration = registration
      self.messages = messages
      self.from = from
      self.until = until
    }
    public init(from decoder: any Decoder) throws {
      let c = try decoder.strictContainer(["call", "registration", "messages", "from", "until"])
      call = try c.optional("call")
      registration = try c.optional("registration")
      if (call == nil) == (registration == nil) {
        throw decoder.invalid("name a 'call' or a 'registration' (a UA), one of them")
      }
      messages = try c.required("messages")
      from = try c.optional("from")
      until = try c.optional("until")
    }
  }

  public var calls: [CallOutcome]
  public var sequences: [MessageSequence]
  public var requests: [StatusOutcome]
  public var registrations: [StatusOutcome]
  /// When the run ends: no packet in flight, no transaction, call, proxy context or timer
  /// (registration refreshes and binding expiries excepted). True unless said otherwise.
  public var nothingLeftOver: Bool

  public init(
    calls: [CallOutcome] = [], sequences: [MessageSequence] = [], requests: [StatusOutcome] = [],
    registrations: [StatusOutcome] = [], nothingLeftOver: Bool = true
  ) {
    self.calls = calls
    self.sequences = sequences
    self.requests = requests
    self.registrations = registrations
    self.nothingLeftOver = nothingLeftOver
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.strictContainer([
      "calls", "sequences", "requests", "registrations", "nothingLeftOver",
    ])
    calls = try c.optional("calls") ?? []
    sequences = try c.optional("sequences") ?? []
    requests = (try c.optional("requests", as: [RequestOutcome].self) ?? []).map(\.value)
    registrations =
      (try c.optional("registrations", as: [RegistrationOutcome].self) ?? []).map(\.value)
    nothingLeftOver = try c.optional("nothingLeftOver") ?? true
  }
}
