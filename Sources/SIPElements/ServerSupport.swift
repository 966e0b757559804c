public import SIPCore
import SIPDialog
public import SIPServers
import SIPTransaction
public import Simulation

/// The location service of a domain (RFC 3261 §10): one ``LocationTable`` that its registrar
/// writes and its proxies and redirect servers read, with bindings removed at their expiry
/// instant (traced as `binding` events with `action` `expired`). An actor pinned to the
/// simulation's executor, so elements on the same simulation use it with `onDrivingThread`.
public actor LocationService: SimulationActor {
  /// The simulation's executor, which the actor is pinned to.
  public nonisolated let simulationExecutor: SimulationExecutor
  public nonisolated var unownedExecutor: UnownedSerialExecutor {
    simulationExecutor.asUnownedSerialExecutor()
  }
  nonisolated let network: Network
  /// The name its trace events carry as `element`.
  public nonisolated let name: String
  /// The bindings.
  ///
  /// Actor state, reached only by the actor's own code on the driving thread: the run-time
  /// exclusivity checks of an actor's stored properties (two per REGISTER here) are left out,
  /// as the endpoint leaves out its own.
  @exclusivity(unchecked) public private(set) var table = LocationTable()
  @exclusivity(unchecked) var expiryTimer: (at: Duration, handle: TimerHandle)?

  public init(network: Network, name: String = "location") {
    self.network = network
    self.name = name
    simulationExecutor = network.simulation.executor
  }

  var now: Duration { .microseconds(network.simulation.now.microseconds) }

  /// The live bindings of `aor`, best first (higher q, then earlier).
  public func lookup(_ aor: SIPURI) -> [Binding] { table.lookup(aor, at: now) }

  /// Processes a REGISTER (§10.3) and traces what changed.
  public func register(
    _ request: SIPMessage, policy: RegistrarPolicy, toTag: String, authenticatedUser: String?
  ) -> RegistrationResult {
    let result = Registration.process(
      request, table: &table, policy: policy, at: now, toTag: toTag,
      authenticatedUser: authenticatedUser)
    // Each list read in place (an array of the three lists, and the two joined to find the
    // soonest expiry, were three allocations and a copy of every binding per REGISTER).
    for binding in result.added { trace("added", binding) }
    for binding in result.refreshed { trace("refreshed", binding) }
    for binding in result.removed { trace("removed", binding) }
    // Only the bindings this request wrote can bring the next expiry closer; a timer left
    // early by a refresh or removal fires, finds nothing and re-arms.
    var soonest = result.added.lazy.map(\.expiresAt).min()
    if let refreshed = result.refreshed.lazy.map(\.expiresAt).min() {
      soonest = min(soonest ?? refreshed, refreshed)
    }
    armExpiry(at: soonest)
    return result
  }

  /// Provisions a binding without a REGISTER (a static contact).
  public func add(aor: SIPURI, contact: SIPURI, q: Double = 1) {
    table.add(aor: aor, contact: contact, q: q)
  }

  func trace(_ action: String, _ binding: Binding) {
    ElementTrace(network: network, element: name).record(
      "binding",
      [
        ("action", .string(action)), ("aor", .string(binding.aor)),
        ("contact", .string(binding.contact.uri.description)),
        ("expiresAt", .integer(SIPEndpoint.micros(binding.expiresAt))),
      ])
  }

  /// Arms the expiry timer for `next` unless it is armed sooner already; cancels it when the
  /// table is empty.
  func armExpiry(at next: Duration?) {
    if table.isEmpty, let timer = expiryTimer {
      network.simulation.cancel(timer.handle)
      expiryTimer = nil
    }
    guard let next, !table.isEmpty else { return }
    if let timer = expiryTimer {
      if timer.at <= next { return }
      network.simulation.cancel(timer.handle)
    }
    let handle = network.simulation.schedule(
      at: SimInstant(microseconds: SIPEndpoint.micros(next)), into: self
    ) { service in
      service.expiryTimer = nil
      for binding in service.table.removeExpired(at: service.now) {
        service.trace("expired", binding)
      }
      service.armExpiry(at: service.table.nextExpiry)
    }
    expiryTimer = (next, handle)
  }

  /// Whether its expiry timer is armed (it is while any binding lives).
  public var armedTimers: Int { expiryTimer == nil ? 0 : 1 }
}

/// What every server element shares: a name in the trace, tags and nonces from its seeded
/// source, and the answers a server gives to requests that are not its business.
struct ServerCore {
  let network: Network
  let element: String
  var random: SimRandom

  init(network: Network, element: String) {
    self.network = network
    self.element = element
    random = network.simulation.random(stream: "server \(element)")
  }

  var now: Duration { .microseconds(network.simulation.now.microseconds) }

  /// A To tag: eight lower-case hex digits of the next random number's low 32 bits.
  mutating func tag() -> String {
    String(lowercaseHex: random.next() & 0xffff_ffff, minimumDigits: 8)
  }

  func record(_ event: String, _ fields: @autoclosure () -> [(String, TraceValue)]) {
    ElementTrace(network: network, element: element).record(event, fields())
  }

  func log(_ text: @autoclosure () -> String) {
    ElementTrace(network: network, element: element).log(text())
  }

  /// §9.2 for a server that answers at once: 200 when the INVITE it cancels still has a
  /// server transaction, 481 otherwise; the INVITE was already answered, so nothing else.
  func cancelAnswer(_ cancel: SIPMessage, endpoint: SIPEndpoint) -> SIPMessage {
    let target = TransactionKey.inviteServer(cancelledBy: cancel)
    let known = endpoint.onDrivingThread { endpoint in
      target.flatMap { endpoint.state(of: $0) } != nil
    }
    return cancel.response(
      status: known ? 200 : 481, reason: known ? nil : "Call/Transaction Does Not Exist")
  }

  /// OPTIONS gets 200 with Allow (§11.2); any other method this server does not take, 405
  /// with Allow (§8.2.1).
  mutating func answerOther(_ request: SIPMessage, allow: String) -> SIPMessage {
    var response = request.response(
      status: request.method == "OPTIONS" ? 200 : 405, toTag: tag())
    response.insertBeforeLength("Allow", allow)
    return response
  }

  /// A registrar's answer to REGISTER: §10.3 steps 3 and 4 with Digest when `digest` is given
  /// (401 + WWW-Authenticate, `stale=true` for an expired nonce), then
  /// ``LocationService/register(_:policy:toTag:authenticatedUser:)``.
  mutating func registerResponse(
    _ request: SIPMessage, digest: inout DigestServer?, location: LocationService,
    policy: RegistrarPolicy
  ) -> SIPMessage {
    var user: String?
    if var server = digest {
      let verdict = server.verify(request, header: "Authorization", at: now)
      defer { digest = server }
      switch verdict {
      case .authorized(let name):
        user = name
      case .missing, .stale, .rejected:
        if case .rejected(let reason) = verdict { log("REGISTER refused: \(reason)") }
        return challenge(request, digest: &server, proxy: false, stale: verdict == .stale)
      }
    }
    // The parts passed, not captured: a capturing closure was two allocations per REGISTER.
    return location.onDrivingThread(passing: (request, policy, tag(), user)) { location, call in
      location.register(call.0, policy: call.1, toTag: call.2, authenticatedUser: call.3).response
    }
  }

  /// A challenge response (401 with WWW-Authenticate, or 407 with Proxy-Authenticate).
  mutating func challenge(
    _ request: SIPMessage, digest: inout DigestServer, proxy: Bool, stale: Bool
  ) -> SIPMessage {
    let challenge = digest.challenge(at: now, random: random.next(), stale: stale)
    var response = request.response(status: proxy ? 407 : 401, toTag: tag())
    response.insertBeforeLength(
      proxy ? "Proxy-Authenticate" : "WWW-Authenticate", challenge.headerValue)
    return response
  }
}

/// Whether `uri` names this element (§16.4): no user part, and its address, host name or one of
/// the domains it serves, on its port or none.
func namesElement(_ uri: SIPURI, endpoint: SIPEndpoint, domains: [String]) -> Bool {
  guard uri.user == nil else { return false }
  let host = uri.host
  let named =
    host.equalsIgnoringASCIICase(endpoint.addressText)
    || host.equalsIgnoringASCIICase(endpoint.hostName)
    || domains.contains { $0.equalsIgnoringASCIICase(host) }
  return named && (uri.port == nil || uri.port == Int(endpoint.address.port))
}
