import SIPCore
import SIPDialog
public import SIPElements
import SIPServers
import SIPTransaction
public import Simulation

/// What `sipsim run` may change in a topology without editing it.
public struct RunOptions: Sendable {
  public var seed: UInt64?
  /// Loss probability on every link (the default and each pair).
  public var loss: Double?
  /// Fixed latency of every link.
  public var latency: Duration?
  /// Uniform jitter of at most this much on every link (added to its latency).
  public var jitter: Duration?
  /// Duplication probability on every link.
  public var duplicate: Double?
  /// Reordering probability on every link (a datagram held back by the link's reorder delay).
  public var reorder: Double?
  public var duration: Duration?
  /// Keep packet payloads in the trace (the JSONL payload key, pcap, the SIP fields).
  public var keepPayloads: Bool

  public init(
    seed: UInt64? = nil, loss: Double? = nil, latency: Duration? = nil, duration: Duration? = nil,
    keepPayloads: Bool = true, jitter: Duration? = nil, duplicate: Double? = nil,
    reorder: Double? = nil
  ) {
    self.seed = seed
    self.loss = loss
    self.latency = latency
    self.jitter = jitter
    self.duplicate = duplicate
    self.reorder = reorder
    self.duration = duration
    self.keepPayloads = keepPayloads
  }

  /// `link` with what these options set on every link: the topology's own values give way.
  func applied(to link: LinkConditions) -> LinkConditions {
    var changed = link
    if let loss { changed.lossProbability = loss }
    if let latency { changed.latency = latency }
    if let jitter { changed.jitter = .uniform(max: jitter) }
    if let duplicate { changed.duplicateProbability = duplicate }
    if let reorder { changed.reorderProbability = reorder }
    return changed
  }
}

/// The result of a run: the trace (everything the renderers need) and each expectation that
/// did not hold.
public struct RunOutcome: Sendable {
  public var trace: [TraceEvent]
  /// Each unmet expectation or failed step, in the order the run checked them; empty when the
  /// run passed.
  public var unmet: [Unmet]
  /// One sentence per unmet expectation or failed step; empty when the run passed.
  public var failures: [String] { unmet.map(\.sentence) }
  /// One sentence per expectation that held (for `--verbose`).
  public var checks: [String]
  public var seed: UInt64
  public var duration: Duration
  public var passed: Bool { failures.isEmpty }
}

/// An expectation that did not hold, or a step or fault that failed: what was expected (or
/// the topology path that failed) and what happened instead. Kept apart so that runs over many
/// seeds (``Sweep``) can group failures by expectation while what was observed varies.
public struct Unmet: Sendable, Equatable {
  /// The expectation as the topology states it ("call 'c1' ends with 200"), or the path in the
  /// topology file of the step or fault that failed ("$.faults[0].address").
  public var expectation: String
  /// What happened instead ("it got 408"); empty when the expectation says it all.
  public var observed: String

  public init(_ expectation: String, observed: String = "") {
    self.expectation = expectation
    self.observed = observed
  }

  /// One sentence: "call 'c1' ends with 200: it got 408".
  public var sentence: String { observed.isEmpty ? expectation : "\(expectation): \(observed)" }
}

/// A topology made real: a ``Simulation`` and a ``Network`` holding one element actor per
/// host, the scenario's steps and faults scheduled at their virtual instants. ``run()`` runs it
/// and checks the expectations. Everything observable lands in ``network``'s trace; nothing
/// here depends on anything but the topology and the seed.
public final class TopologyRun: @unchecked Sendable {
  public let topology: Topology
  public let simulation: Simulation
  public let network: Network
  /// The virtual time to run, when fixed (`--duration`, the topology's `duration`); nil runs
  /// past the last step and fault until nothing is left over, up to ``settleLimit`` more.
  public let duration: Duration?
  /// The last scenario step or fault.
  public let lastInstant: Duration
  /// How long an open-ended run may go on settling after its last step (Timer C is 3 min).
  public static let settleLimit = Duration.seconds(600)
  /// User agents by host name, in topology order.
  public private(set) var agents: [(name: String, agent: UserAgent)] = []
  var proxies: [(String, Proxy)] = []
  var endpoints: [(String, SIPEndpoint)] = []
  var locations: [(domain: String, service: LocationService)] = []
  /// Elements kept alive here: an endpoint holds its element weakly.
  var keep: [AnyObject] = []
  /// Call-IDs by the scenario's call names, with the caller's name.
  var calls: [String: (caller: String, callID: String)] = [:]
  var requests: [String: (ua: String, callID: String)] = [:]
  /// Final statuses of requests outside calls (OPTIONS), by Call-ID.
  let outsideStatuses = StatusBook()
  var stepFailures: [Unmet] = []
  /// The paths of the network changes scheduled, by their instant (µs): a change that fails
  /// when it comes (a move to an address another host took meanwhile) is traced
  /// (`change-failed`) and named here by its path.
  var changePaths: [Int64: [String]] = [:]
  let timers: TimerSettings

  /// Builds the simulation; throws naming the JSON path of the first inconsistency.
  public init(_ topology: Topology, options: RunOptions = RunOptions()) throws(TopologyError) {
    try TopologyValidator(topology).validate()
    self.topology = topology
    let seed = options.seed ?? topology.seed
    simulation = Simulation(seed: seed)
    let base = options.applied(to: Self.conditions(topology.links.default, over: LinkConditions()))
    network = Network(simulation: simulation, defaultLink: base)
    network.trace.keepsPayloads = options.keepPayloads
    timers = TimerSettings(
      t1: topology.timers.t1.duration, t2: topology.timers.t2.duration,
      t4: topology.timers.t4.duration)
    lastInstant =
      (topology.scenario.map(\.at.duration)
      + topology.faults.map { $0.until?.duration ?? $0.at.duration })
      .max() ?? .zero
    duration = options.duration ?? topology.duration?.duration
    do {
      try build(options: options, base: base)
    } catch let error as TopologyError {
      throw error
    } catch {
      throw TopologyError(path: "$.hosts", message: "\(error)")
    }
    schedule()
  }

  static func conditions(_ spec: LinkSpec, over base: LinkConditions) -> LinkConditions {
    var link = base
    if let latency = spec.latency { link.latency = latency.duration }
    if let scale = spec.paretoScale {
      link.jitter = .pareto(
        scale: scale.duration, shape: 1.5, max: spec.jitter?.duration ?? scale.duration * 10)
    } else if let jitter = spec.jitter {
      link.jitter = jitter.duration == .zero ? .none : .uniform(max: jitter.duration)
    }
    if let loss = spec.loss { link.lossProbability = loss }
    if let duplicate = spec.duplicate { link.duplicateProbability = duplicate }
    if let reorder = spec.reorder { link.reorderProbability = reorder }
    if let mtu = spec.mtu { link.mtu = mtu }
    return link
  }

  // MARK: Building

  func location(for domains: [String]) -> LocationService {
    let key = domains.first ?? ""
    if let found = locations.first(where: { $0.domain == key }) { return found.service }
    let service = LocationService(network: network, name: "location \(key)")
    locations.append((key, service))
    return service
  }

  func digest(for domains: [String]) -> DigestServer {
    let realm = domains.first ?? ""
    var users: [String: String] = [:]
    for user in topology.users where user.domain == realm { users[user.user] = user.password }
    return DigestServer(realm: realm, users: users)
  }

  static func uri(_ text: String, path: String) throws(TopologyError) -> SIPURI {
    let full = text.contains(":") ? text : "sip:" + text
    do { return try SIPURI(full) } catch {
      throw TopologyError(path: path, message: "'\(text)' is not a SIP URI: \(error)")
    }
  }

  func build(options: RunOptions, base: LinkConditions) throws {
    for (index, spec) in topology.hosts.enumerated() {
      let path = "$.hosts[\(index)]"
      var addresses: [IPAddress] = []
      for (slot, text) in spec.addresses.enumerated() {
        guard let address = IPAddress(text) else {
          throw TopologyError(
            path: "\(path).addresses[\(slot)]", message: "'\(text)' is not an IPv4 or IPv6 address")
        }
        addresses.append(address)
      }
      let host: Host
      do { host = try network.addHost(spec.name, addresses: addresses) } catch {
        // A taken address is the addresses' fault; anything else (a second name) the name's.
        let key = if case .addressInUse = error { "addresses" } else { "name" }
        throw TopologyError(path: "\(path).\(key)", message: error.description)
      }
      for domain in spec.domains { network.addAddressRecord(domain, host.addresses) }
      network.trace.record(
        TraceEvent(
          time: 0, event: "host",
          fields: [
            ("name", .string(spec.name)),
            ("address", .string(host.addresses.map(\.description).joined(separator: " "))),
            ("role", .string(spec.role.name)),
            ("domains", .string(spec.domains.joined(separator: " "))),
          ]))
    }
    addRecords(topology.dns)
    for (index, pair) in topology.links.pairs.enumerated() {
      let changed = options.applied(to: Self.conditions(pair.link, over: base))
      do {
        try network.setLink(changed, from: pair.from, to: pair.to, oneWay: pair.oneWay)
      } catch {
        throw TopologyError(path: "$.links.pairs[\(index)]", message: error.description)
      }
    }
    for (index, spec) in topology.hosts.enumerated() {
      let path = "$.hosts[\(index)]"
      do {
        try buildElement(spec, path: path)
      } catch let error as TopologyError {
        throw error
      } catch {
        throw TopologyError(path: path, message: "cannot start its \(spec.role.name): \(error)")
      }
    }
    installMessageFaults()
  }

  /// The file's DNS records, into the network's name service, each traced at 0 (`dns`) so a
  /// trace says what its elements resolved against. The validator checked every address.
  func addRecords(_ dns: DNSSpec) {
    func trace(_ type: String, _ name: String, _ value: String) {
      network.trace.record(
        TraceEvent(
          time: 0, event: "dns",
          fields: [("type", .string(type)), ("name", .string(name)), ("value", .string(value))]))
    }
    for record in dns.a {
      let addresses = record.addresses.compactMap { IPAddress($0) }
      network.addAddressRecord(record.name, addresses)
      trace("A", record.name, addresses.map(\.description).joined(separator: " "))
    }
    for record in dns.srv {
      network.addServiceRecord(
        ServiceRecord(
          name: record.name, priority: record.priority, weight: record.weight, port: record.port,
          target: record.target))
      trace(
        "SRV", record.name, "\(record.priority) \(record.weight) \(record.port) \(record.target)")
    }
    for record in dns.naptr {
      network.addNamingAuthorityRecord(
        NamingAuthorityRecord(
          name: record.name, order: record.order, preference: record.preference,
          flags: record.flags, service: record.service, replacement: record.replacement))
      trace(
        "NAPTR", record.name,
        "\(record.order) \(record.preference) \"\(record.flags)\" \"\(record.service)\" \(record.replacement)"
      )
    }
  }

  func buildElement(_ spec: HostSpec, path: String) throws {
    switch spec.role {
    case .userAgent(let ua):
      let aor = try Self.uri(ua.aor, path: "\(path).aor")
      let credentials = topology.users.filter { $0.user == aor.user && $0.domain == aor.host }
        .map { CredentialStore.Account(username: $0.user, password: ua.password ?? $0.password) }
      var configuration = UAConfiguration(
        outboundProxy: try ua.proxy.map { text throws(TopologyError) in
          try Self.uri(text, path: "\(path).proxy")
        },
        fallbackProxies: try ua.fallbackProxies.enumerated().map {
          (slot, text) throws(TopologyError) in
          try Self.uri(text, path: "\(path).fallbackProxies[\(slot)]")
        },
        credentials: credentials.isEmpty ? nil : CredentialStore(accounts: credentials))
      if let codecs = ua.codecs { configuration.codecs = codecs }
      configuration.inviteExpires = ua.inviteExpires
      switch ua.timerC {
      case .default: break
      case .off: configuration.timerC = nil
      case .after(let span): configuration.timerC = span.duration
      }
      let agent = try UserAgent(
        network: network, host: spec.name, aor: aor, displayName: ua.displayName,
        behaviour: ua.behaviour.behaviour, configuration: configuration, timers: timers)
      agents.append((spec.name, agent))
      endpoints.append((spec.name, agent.endpoint))
      let book = outsideStatuses
      simulation.inspect {
        agent.assumeIsolated { agent in
          agent.onEvent { _, event in
            if case .response(let callID, let method, let status) = event, method == "OPTIONS",
              status >= 200
            {
              book.statuses[callID] = status
            }
          }
        }
      }
    case .proxy(let proxy):
      let location = try location(for: spec.domains, provisioning: proxy.bindings, path: path)
      let configuration = ProxyConfiguration(
        domains: spec.domains, recordRoute: proxy.recordRoute,
        forking: proxy.forking == "sequential" ? .sequential : .parallel,
        timerC: proxy.timerC?.duration ?? .seconds(181),
        branchTimeout: proxy.branchTimeout?.duration,
        authentication: proxy.authenticate ? digest(for: spec.domains) : nil,
        registrar: proxy.registrar ? RegistrarPolicy(domains: spec.domains) : nil,
        noResponseStatus: proxy.noResponseStatus ?? 408, noResponseReason: proxy.noResponseReason,
        recursesOnRedirect: proxy.recurse)
      let element = try Proxy(
        network: network, host: spec.name, location: location, configuration: configuration,
        timers: timers)
      proxies.append((spec.name, element))
      endpoints.append((spec.name, element.endpoint))
      keep.append(element)
    case .statelessProxy(let statics):
      let location = try location(for: spec.domains, provisioning: statics.bindings, path: path)
      let element = try StatelessProxy(
        network: network, host: spec.name, location: location, domains: spec.domains)
      endpoints.append((spec.name, element.endpoint))
      keep.append(element)
    case .registrar(let registrar):
      let element = try Registrar(
        network: network, host: spec.name, location: location(for: spec.domains),
        policy: RegistrarPolicy(domains: spec.domains, minExpires: registrar.minExpires),
        authentication: registrar.authenticate ? digest(for: spec.domains) : nil, timers: timers)
      endpoints.append((spec.name, element.endpoint))
      keep.append(element)
    case .redirect(let redirect):
      let location = try location(for: spec.domains, provisioning: redirect.bindings, path: path)
      let element = try RedirectServer(
        network: network, host: spec.name, location: location, status: redirect.status)
      endpoints.append((spec.name, element.endpoint))
      keep.append(element)
    case .b2bua(let b2bua):
      let target = try Self.uri(b2bua.target, path: "\(path).target")
      let element = try B2BUA(
        network: network, host: spec.name, aor: try Self.uri(b2bua.aor, path: "\(path).aor"),
        configuration: UAConfiguration(
          outboundProxy: try b2bua.proxy.map { text throws(TopologyError) in
            try Self.uri(text, path: "\(path).proxy")
          }), timers: timers, route: { _ in target })
      endpoints.append((spec.name, element.inbound.endpoint))
      endpoints.append((spec.name + " (outbound)", element.outbound.endpoint))
      agents.append((spec.name + " (inbound)", element.inbound))
      agents.append((spec.name + " (outbound)", element.outbound))
      keep.append(element)
    case .none:
      break
    }
  }

  /// The location service of `domains`, with `bindings` (the host's static contacts) added.
  func location(for domains: [String], provisioning bindings: [BindingSpec], path: String)
    throws(TopologyError) -> LocationService
  {
    let service = location(for: domains)
    for (slot, binding) in bindings.enumerated() {
      let aor = try Self.uri(binding.aor, path: "\(path).bindings[\(slot)].aor")
      let contact = try Self.uri(binding.contact, path: "\(path).bindings[\(slot)].contact")
      simulation.inspect {
        service.assumeIsolated { $0.add(aor: aor, contact: contact, q: binding.q) }
      }
    }
    return service
  }

  // MARK: Faults aimed at messages

  func installMessageFaults() {
    guard !topology.messageFaults.isEmpty else { return }
    let rules = topology.messageFaults
    let counts = Counter(rules.count)
    let network = network
    var names: [IPAddress: String] = [:]
    for host in network.allHosts { for address in host.addresses { names[address] = host.name } }
    let firstNames = names
    // The host an address belongs to as the datagram is sent: a host that moved is found at
    // its new address; an address nobody has any more still names the host it was first.
    let hostName: @Sendable (IPAddress) -> String? = { address in
      network.host(for: address)?.name ?? firstNames[address]
    }
    network.datagramFault = { datagram in
      let head = MessageHead(datagram.payload)
      var outcome = PacketFault.pass
      for (index, rule) in rules.enumerated() {
        if let method = rule.method, head.method != method { continue }
        if let status = rule.status, head.status != status { continue }
        if let from = rule.from, hostName(datagram.from.address) != from { continue }
        if let to = rule.to, hostName(datagram.to.address) != to { continue }
        counts.values[index] += 1
        let seen = counts.values[index]
        // `seen - nth < count`, not `seen < nth + count`: a huge count must not overflow.
        guard seen >= rule.nth, seen - rule.nth < rule.count, outcome == .pass else { continue }
        switch rule.action {
        case .drop: outcome = .drop
        case .duplicate: outcome = .duplicate
        case .delay(let span): outcome = .delay(span.duration)
        }
        network.trace.record(
          TraceEvent(
            time: network.simulation.now.microseconds, event: "message-fault",
            from: datagram.from, to: datagram.to, transport: .udp,
            fields: [
              ("rule", .integer(Int64(index))), ("action", .string(rule.action.name)),
              ("match", .integer(Int64(seen))), ("summary", .string(head.summary)),
            ]))
      }
      return outcome
    }
  }

  // MARK: The timeline

  func schedule() {
    for (index, step) in topology.scenario.enumerated() {
      _ = simulation.schedule(at: SimInstant(microseconds: micros(step.at.duration))) {
        [self] in
        perform(step, path: "$.scenario[\(index)]")
      }
    }
    for (index, fault) in topology.faults.enumerated() {
      let path = "$.faults[\(index)]"
      switch fault.kind {
      case .partition(let a, let b, let oneWay):
        change(oneWay ? .partitionOneWay(from: a, to: b) : .partition(a, b), at: fault.at, path)
        if let until = fault.until {
          change(oneWay ? .repairOneWay(from: a, to: b) : .repair(a, b), at: until, path)
        }
      case .crash(let host):
        change(.crash(host), at: fault.at, path)
        if let until = fault.until { change(.restart(host), at: until, path) }
      case .restart(let host):
        change(.restart(host), at: fault.at, path)
      case .move(let host, let text):
        // The decoder refuses anything but an address; a topology built in Swift may not.
        if let address = IPAddress(text) {
          // The host was checked; what can fail is the address (another host's).
          change(.move(host, to: address), at: fault.at, "\(path).address")
        } else {
          stepFailures.append(
            Unmet("\(path).address", observed: "'\(text)' is not an IPv4 or IPv6 address"))
        }
      case .link(let from, let to, let oneWay, let spec):
        if let from, let to {
          let current = (try? network.link(from: from, to: to)) ?? network.defaultLink
          let updated = Self.conditions(spec, over: current)
          change(.link(from: from, to: to, updated), at: fault.at, path)
          if !oneWay {
            let back = (try? network.link(from: to, to: from)) ?? network.defaultLink
            change(.link(from: to, to: from, Self.conditions(spec, over: back)), at: fault.at, path)
          }
        } else {
          change(.defaultLink(Self.conditions(spec, over: network.defaultLink)), at: fault.at, path)
        }
      }
    }
  }

  func change(_ change: NetworkChange, at span: TimeSpan, _ path: String) {
    let at = micros(span.duration)
    do {
      try network.schedule(change, at: SimInstant(microseconds: at))
      changePaths[at, default: []].append(path)
    } catch {
      stepFailures.append(Unmet(path, observed: "\(error)"))
    }
  }

  func micros(_ duration: Duration) -> Int64 { SIPEndpoint.micros(duration) }

  func agent(named name: String) -> UserAgent? {
    agents.first { $0.name == name }?.agent
  }

  func target(_ text: String) -> SIPURI? {
    if let agent = agent(named: text) { return agent.aor }
    return try? Self.uri(text, path: "")
  }

  func perform(_ step: Step, path: String) {
    func fail(_ message: String) {
      stepFailures.append(Unmet(path, observed: message))
      network.trace.record(
        TraceEvent(
          time: simulation.now.microseconds, event: "scenario-error",
          fields: [("step", .string(path)), ("text", .string(message))]))
    }
    func on(_ name: String, _ body: @Sendable (isolated UserAgent) -> Void) {
      guard let agent = agent(named: name) else { return fail("no user agent '\(name)'") }
      agent.assumeIsolated { body($0) }
    }
    func live(_ call: String, by: String?) -> (agent: String, callID: String)? {
      guard let placed = calls[call] else {
        fail("call '\(call)' has not been placed yet")
        return nil
      }
      let who = by ?? placed.caller
      // Through proxies the callee's call has the same Call-ID; behind a B2BUA it has another.
      guard let agent = agent(named: who),
        agent.assumeIsolated({ $0.liveCalls.contains(placed.callID) })
      else {
        fail("'\(who)' has no live call '\(call)' (\(placed.callID))")
        return nil
      }
      return (who, placed.callID)
    }
    network.trace.record(
      TraceEvent(
        time: simulation.now.microseconds, event: "scenario",
        fields: [("step", .string(path)), ("action", .string(step.action.summary))]))
    switch step.action {
    case .register(let ua, let expires, let refresh, let contacts):
      var extra: [SIPURI] = []
      for text in contacts {
        guard let uri = try? Self.uri(text, path: "") else {
          return fail("'\(text)' is not a SIP URI")
        }
        extra.append(uri)
      }
      on(ua) { [extra] agent in
        let registrar = SIPURI(host: agent.aor.host)
        agent.register(with: registrar, expires: expires, refresh: refresh, extraContacts: extra)
      }
    case .unregister(let ua, let all):
      on(ua) { $0.unregister(all: all) }
    case .query(let ua):
      on(ua) { $0.queryRegistrations() }
    case .call(let from, let to, let name, let hangUpAfter, let cancelAfter, let offer):
      guard let uri = target(to) else { return fail("'\(to)' is not a SIP URI or UA name") }
      on(from) { agent in
        let callID = agent.call(
          uri, offer: offer, hangUpAfter: hangUpAfter?.duration,
          cancelAfter: cancelAfter?.duration)
        calls[name] = (from, callID)
      }
    case .cancel(let call):
      guard let live = live(call, by: nil) else { return }
      on(live.agent) { $0.cancel(live.callID) }
    case .hangUp(let call, let by):
      guard let live = live(call, by: by) else { return }
      on(live.agent) { $0.hangUp(live.callID) }
    case .reinvite(let call, let by, let hold):
      guard let live = live(call, by: by) else { return }
      on(live.agent) { $0.reinvite(live.callID, hold: hold) }
    case .options(let from, let to, let name):
      guard let uri = target(to) else { return fail("'\(to)' is not a SIP URI or UA name") }
      on(from) { agent in requests[name] = (from, agent.options(uri)) }
    case .behaviour(let ua, let behaviour):
      on(ua) { $0.setBehaviour(behaviour.behaviour) }
    }
  }

  // MARK: Running and checking

  /// Runs for ``duration`` of virtual time (or to the last step, then second by second until
  /// nothing is left over) and checks the expectations.
  public func run() -> RunOutcome {
    if let duration {
      simulation.run(for: duration)
    } else {
      simulation.run(until: SimInstant(microseconds: micros(lastInstant)))
      let limit = micros(lastInstant + Self.settleLimit)
      repeat {
        simulation.run(for: .seconds(1))
      } while simulation.now.microseconds < limit && !leftovers().isEmpty
    }
    var failures = stepFailures
    for failed in network.trace.events(named: "change-failed") {
      let paths = changePaths[failed.time]?.joined(separator: " or ") ?? "a network change"
      failures.append(Unmet(paths, observed: failed.field("reason")?.description ?? "failed"))
    }
    var checks: [String] = []
    func check(_ holds: Bool, _ text: String, _ observed: String) {
      if holds { checks.append(text) } else { failures.append(Unmet(text, observed: observed)) }
    }
    let expect = topology.expect
    for outcome in expect.calls {
      guard let placed = calls[outcome.call], let agent = agent(named: placed.caller) else {
        failures.append(Unmet("call '\(outcome.call)' was never placed"))
        continue
      }
      let record = simulation.inspect { agent.assumeIsolated { $0.record(of: placed.callID) } }
      let status = record?.status.map(String.init) ?? "no final response"
      if let answered = outcome.answered {
        check(
          record?.wasAnswered == answered,
          "call '\(outcome.call)' \(answered ? "is answered" : "is not answered")",
          "it was\(record?.wasAnswered == true ? "" : " not") answered (status \(status))")
      }
      if let expected = outcome.status {
        check(
          record?.status == expected, "call '\(outcome.call)' ends with \(expected)",
          "it got \(status)")
      }
    }
    for sequence in expect.sequences {
      let subject: String
      var callID: String?
      if let call = sequence.call {
        subject = "call '\(call)'"
        callID = calls[call]?.callID
      } else {
        let name = sequence.registration ?? ""
        subject = "registration of '\(name)'"
        callID = agent(named: name).flatMap { agent in
          simulation.inspect { agent.assumeIsolated { $0.registration?.callID } }
        }
      }
      let observed =
        callID.map {
          Self.sent(
            network.trace.events, callID: $0, from: sequence.from.map { micros($0.duration) } ?? 0,
            until: sequence.until.map { micros($0.duration) } ?? .max)
        } ?? []
      check(
        Self.matches(observed, sequence.messages),
        "\(subject) sends \(Self.list(sequence.messages))",
        "it sent \(Self.list(observed.map(\.token)))")
    }
    for outcome in expect.requests {
      guard let sent = requests[outcome.name] else {
        failures.append(Unmet("request '\(outcome.name)' was never sent"))
        continue
      }
      let status = outsideStatuses.statuses[sent.callID]
      check(
        status == outcome.status, "request '\(outcome.name)' gets \(outcome.status)",
        "it got \(status.map(String.init) ?? "no final response")")
    }
    for outcome in expect.registrations {
      guard let agent = agent(named: outcome.name) else { continue }
      let status = simulation.inspect { agent.assumeIsolated { $0.registration?.status } }
      check(
        status == outcome.status, "'\(outcome.name)' registration ends with \(outcome.status)",
        "it got \(status.map(String.init) ?? "no final response")")
    }
    if expect.nothingLeftOver {
      let left = leftovers() + timerSlotTrouble()
      check(left.isEmpty, "nothing left over", left.joined(separator: "; "))
    }
    return RunOutcome(
      trace: network.trace.events, unmet: failures, checks: checks,
      seed: simulation.seed, duration: .microseconds(simulation.now.microseconds))
  }

  /// The method or status code of each SIP message sent with `callID` in [from, until), with
  /// its instant, retransmissions included.
  static func sent(_ events: [TraceEvent], callID: String, from: Int64, until: Int64) -> [(
    time: Int64, token: String
  )] {
    events.compactMap { event in
      guard event.event == "send", event.time >= from, event.time < until,
        event.field("callId")?.description == callID,
        let summary = event.field("summary")?.description
      else { return nil }
      return (event.time, Statistics.kind(summary))
    }
  }

  /// Tokens as an expectation's line prints them: an empty list (a window in which nothing
  /// may be sent) is "nothing", not a blank.
  static func list(_ tokens: [String]) -> String {
    tokens.isEmpty ? "nothing" : tokens.joined(separator: ", ")
  }

  /// Whether `observed` is `expected` up to the order of messages sent at the same instant (a
  /// proxy's 100 Trying and the INVITE it forwards leave together).
  static func matches(_ observed: [(time: Int64, token: String)], _ expected: [String]) -> Bool {
    guard observed.count == expected.count else { return false }
    var index = 0
    while index < observed.count {
      var end = index + 1
      while end < observed.count, observed[end].time == observed[index].time { end += 1 }
      let got = observed[index..<end].map(\.token).sorted()
      let want = expected[index..<end].map { token in
        token.first?.isNumber == true
          ? String(token.prefix(3)) : String(token.prefix { $0 != " " })
      }.sorted()
      if got != want { return false }
      index = end
    }
    return true
  }

  /// Lines an endpoint logged about its timer slots (a timer it could not arm, a slot it and
  /// its layer disagree about): bugs, which "nothing left over" reports. Apart from
  /// ``leftovers()``, which the run settles on: a line never goes away. Read from the trace, so
  /// a run that does not record one finds none.
  public func timerSlotTrouble() -> [String] {
    network.trace.events(named: "log").compactMap { event in
      guard case .string(let text) = event.field("text"),
        text.hasPrefix(SIPEndpoint.timerSlotTrouble)
      else { return nil }
      return "\(event.field("element")?.description ?? "?"): \(text)"
    }
  }

  /// What is still alive, named: packets, kernel timers (beyond registration refreshes and
  /// binding expiries), transactions, calls, proxy contexts.
  public func leftovers() -> [String] {
    var found: [String] = []
    var kernel = network.leftovers
    var allowed = 0
    simulation.inspect {
      for (_, service) in locations { allowed += service.assumeIsolated { $0.armedTimers } }
      for (_, agent) in agents { allowed += agent.assumeIsolated { $0.refreshArmed ? 1 : 0 } }
    }
    kernel.timersArmed -= allowed
    if !kernel.isEmpty { found.append("network: \(kernel)") }
    simulation.inspect {
      for (name, endpoint) in endpoints {
        let counts = endpoint.assumeIsolated { ($0.liveTransactions.count, $0.armedTimers) }
        if counts.0 > 0 { found.append("\(name): \(counts.0) transaction(s) alive") }
        if counts.1 > 0 { found.append("\(name): \(counts.1) transaction timer(s) armed") }
      }
      for (name, agent) in agents {
        let live = agent.assumeIsolated { $0.liveCalls.count }
        if live > 0 { found.append("\(name): \(live) call(s) alive") }
      }
      for (name, proxy) in proxies {
        let live = proxy.assumeIsolated { $0.liveContexts }
        if live > 0 { found.append("\(name): \(live) response context(s) alive") }
      }
    }
    return found
  }
}

/// Statuses written by agent observers on the driving thread.
final class StatusBook: @unchecked Sendable {
  var statuses: [String: Int] = [:]
}

/// Match counters of message faults, touched only on the driving thread.
final class Counter: @unchecked Sendable {
  var values: [Int]
  init(_ count: Int) { values = Array(repeating: 0, count: count) }
}

/// The start line of a datagram, read without parsing the whole message.
struct MessageHead {
  var method: String?
  var status: Int?
  var summary: String

  init(_ bytes: [UInt8]) {
    let line = bytes.prefix { $0 != 13 && $0 != 10 }.prefix(200)
    summary = String(decoding: line, as: UTF8.self)
    if summary.hasPrefix("SIP/2.0 ") {
      status = Int(summary.dropFirst(8).prefix(3))
    } else {
      method = summary.split(separator: " ", maxSplits: 1).first.map(String.init)
    }
  }
}

extension MessageFault.Action {
  var name: String {
    switch self {
    case .drop: "drop"
    case .duplicate: "duplicate"
    case .delay(let span): "delay \(span)"
    }
  }
}

extension Step.Action {
  /// One line for the trace and the ladder.
  var summary: String {
    switch self {
    case .register(let ua, let expires, _, let contacts):
      "\(ua) registers (Expires \(expires))"
        + (contacts.isEmpty ? "" : " with \(contacts.joined(separator: ", "))")
    case .unregister(let ua, let all): "\(ua) unregisters" + (all ? " every contact" : "")
    case .query(let ua): "\(ua) asks for its bindings"
    case .call(let from, let to, let call, _, _, _): "\(from) calls \(to) [\(call)]"
    case .cancel(let call): "cancel [\(call)]"
    case .hangUp(let call, let by): "\(by ?? "caller") hangs up [\(call)]"
    case .reinvite(let call, let by, let hold):
      "\(by ?? "caller") re-INVITEs [\(call)] \(hold ? "hold" : "resume")"
    case .options(let from, let to, let request): "\(from) OPTIONS \(to) [\(request)]"
    case .behaviour(let ua, let behaviour): "\(ua) now \(behaviour.kind.rawValue)"
    }
  }
}

extension BehaviourSpec {
  /// The user agent behaviour it stands for.
  public var behaviour: UABehaviour {
    switch kind {
    case .answer: .answer(after: after?.duration ?? .zero)
    case .ring:
      if let status {
        .custom { [ringFor] agent, call in
          agent.ring(call.callID)
          agent.after(ringFor?.duration ?? .seconds(2)) { $0.reject(call.callID, status: status) }
        }
      } else {
        .ring(for: ringFor?.duration ?? .seconds(2))
      }
    case .reject: .reject(status: status ?? 486)
    case .busy: .busy
    case .unavailable: .unavailable
    case .noAnswer: .noAnswer
    case .answerThenHangUp:
      .answerThenHangUp(ringing: ringFor?.duration ?? .zero, talk: talk?.duration ?? .seconds(5))
    case .ignoreCancel: .ignoreCancel(ringing: ringFor?.duration ?? .seconds(2))
    }
  }
}
