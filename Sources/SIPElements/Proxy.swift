import SIPCore
import SIPDialog
public import SIPServers
public import SIPTransaction
import SIPTransport
public import Simulation

/// How a stateful proxy behaves: its domains, forking, Record-Route, timers and whether it
/// authenticates or registers.
public struct ProxyConfiguration: Sendable {
  /// Domains it is responsible for: a Request-URI in one of them is looked up in the location
  /// service (§16.5); any other is forwarded as it is.
  public var domains: [String]
  /// Whether it adds itself to Record-Route of INVITEs, staying on the path of the dialog
  /// (§16.6 step 4).
  public var recordRoute: Bool
  /// Parallel or sequential (by q-value groups) forking to several bindings.
  public var forking: ForkingMode
  /// Timer C (§16.8): how long an INVITE branch may go without a provisional before it is
  /// cancelled (or, with none at all, counted as timed out). Over 3 minutes.
  public var timerC: Duration
  /// Sequential forking: how long a ringing target gets before it is cancelled and the next
  /// group tried; nil leaves it to Timer C.
  public var branchTimeout: Duration?
  /// Challenges requests that start a dialog or stand alone (no To tag; not ACK or CANCEL)
  /// with 407 + Proxy-Authenticate (§22.3).
  public var authentication: DigestServer?
  /// Registers users of its domains itself (a "SIP server"), with ``authentication`` as its
  /// 401 challenger.
  public var registrar: RegistrarPolicy?
  /// The status a branch that never answered counts as (Timer B / F, §16.7 step 1): 408 as the
  /// RFC says; RFC 3665 §3.10 shows a proxy sending 480 No Response instead.
  public var noResponseStatus: Int
  /// The reason phrase for ``noResponseStatus`` (nil: the standard one).
  public var noResponseReason: String?
  /// Option tags it supports (a Proxy-Require naming another gets 420).
  public var extensions: [String]
  /// Whether it tries the contacts of a 3xx itself (§16.7 step 4, "recursion") instead of
  /// passing the 3xx upstream: the caller then never sees the redirect. Only for a request
  /// whose Request-URI it is responsible for (one of its domains, looked up in its location
  /// service): §16.5 forbids adding targets otherwise.
  public var recursesOnRedirect: Bool

  public init(
    domains: [String], recordRoute: Bool = true, forking: ForkingMode = .parallel,
    timerC: Duration = .seconds(181), branchTimeout: Duration? = nil,
    authentication: DigestServer? = nil, registrar: RegistrarPolicy? = nil,
    noResponseStatus: Int = 408, noResponseReason: String? = nil, extensions: [String] = [],
    recursesOnRedirect: Bool = false
  ) {
    self.recursesOnRedirect = recursesOnRedirect
    self.domains = domains
    self.recordRoute = recordRoute
    self.forking = forking
    self.timerC = timerC
    self.branchTimeout = branchTimeout
    self.authentication = authentication
    self.registrar = registrar
    self.noResponseStatus = noResponseStatus
    self.noResponseReason = noResponseReason
    self.extensions = extensions
  }
}

/// A transaction-stateful proxy (RFC 3261 §16): it validates requests (§16.3), pre-processes
/// Route (§16.4), finds targets in the ``LocationService`` or the Request-URI (§16.5), forks
/// in parallel or by q-value groups (§16.6), Record-Routes, keeps a ``ResponseContext`` per
/// server transaction to choose what goes upstream (§16.7), runs Timer C (§16.8), cancels
/// pending branches (§16.10), answers 100 Trying at once, authenticates with 407 (§22.3) and
/// may act as its domain's registrar. ACK for 2xx and stray 2xx responses pass through
/// statelessly (RFC 6026).
///
/// Each branch's next hop is located by RFC 3263 (`ServerLocator`), and a branch whose server
/// fails (Timer B / F, a transport error, a 503) sends the same forwarded request to the next
/// server in the same branch of its response context (RFC 3263 §4.3): see
/// `failOver(_:_:_:reason:retryAfter:)`.
public actor Proxy: SimulationActor, TransactionCore {
  /// The simulation's executor, which the actor is pinned to.
  public nonisolated let simulationExecutor: SimulationExecutor
  public nonisolated var unownedExecutor: UnownedSerialExecutor {
    simulationExecutor.asUnownedSerialExecutor()
  }
  public nonisolated let endpoint: SIPEndpoint
  public nonisolated let location: LocationService?
  public nonisolated let configuration: ProxyConfiguration
  nonisolated let network: Network
  var digest: DigestServer?
  var core: ServerCore

  /// One forwarded request: its server transaction, the request as pre-processed, the
  /// response context, and per branch the client transaction and the copy it sent.
  final class Context {
    let serverKey: TransactionKey
    let request: SIPMessage
    let loopHash: String
    var response: ResponseContext
    var branches: [Branch]
    struct Branch {
      /// The live client transaction: after a fail-over, the one to the current server.
      var key: TransactionKey?
      var request: SIPMessage?
      /// The RFC 3263 servers of the request's next hop: the one it is on (`current`, where a
      /// CANCEL goes too) and those a failure moves it to (§4.3).
      var targets: ServerTargets?
      var peer: SIPPeer? { targets?.current }
      var timerC: TimerHandle?
      var ringTimer: TimerHandle?
      /// Armed with the branch's CANCEL: 64·T1 later a branch with no final response is given
      /// up (§9.1).
      var cancelWait: TimerHandle?
    }
    init(
      serverKey: TransactionKey, request: SIPMessage, loopHash: String, response: ResponseContext
    ) {
      self.serverKey = serverKey
      self.request = request
      self.loopHash = loopHash
      self.response = response
      branches = Array(repeating: Branch(), count: response.branches.count)
    }
  }
  var contexts: [TransactionKey: Context] = [:]
  var clients: [TransactionKey: (server: TransactionKey, branch: Int)] = [:]
  /// Its RFC 3263 state (random stream for SRV weights, servers out of use), made the first
  /// time a request needs more than its next hop's direct peer: never, in a network without
  /// SRV or NAPTR records where no server answered 503 with Retry-After.
  var locatorState: LocatorState?

  public init(
    network: Network, host: String, port: UInt16 = 5060, location: LocationService? = nil,
    configuration: ProxyConfiguration, timers: TimerSettings = .rfc3261
  ) throws(NetworkError) {
    let endpoint = try SIPEndpoint(network: network, host: host, port: port, timers: timers)
    self.endpoint = endpoint
    self.network = network
    (ownVias, recordRouteURI) = Self.ownParts(endpoint.addressText, Int(endpoint.address.port))
    simulationExecutor = network.simulation.executor
    self.location = location
    self.configuration = configuration
    digest = configuration.authentication
    core = ServerCore(network: network, element: host)
    let box = WeakBox<Proxy>()
    SIPEndpoint.attach(endpoint, on: network.simulation, to: box)
    box.value = self
  }

  /// Response contexts alive (one per request being forwarded).
  public var liveContexts: Int { contexts.count }

  /// Timer C, ring and cancel-wait timers armed.
  public var armedTimers: Int {
    contexts.values.reduce(0) { total, context in
      total
        + context.branches.reduce(0) {
          $0 + ($1.timerC == nil ? 0 : 1) + ($1.ringTimer == nil ? 0 : 1)
            + ($1.cancelWait == nil ? 0 : 1)
        }
    }
  }

  var ownAddress: String { endpoint.addressText }
  var ownPort: Int { Int(endpoint.address.port) }
  /// The `host:port` of its Vias (§16.3 step 4 looks for them), made once (and again if its
  /// host moves): every request asked.
  var ownVias: [String]
  /// What it puts in Record-Route (§16.6 step 4), made once (and again if its host moves):
  /// every INVITE forwarded asked.
  var recordRouteURI: SIPURI

  /// ``ownVias`` and ``recordRouteURI`` for a proxy listening at `address`, `port`.
  static func ownParts(_ address: String, _ port: Int) -> ([String], SIPURI) {
    (["\(address):\(port)"], SIPURI(host: address, port: port, parameters: [SIPParameter("lr")]))
  }

  /// A URI that names this proxy (no user part; its address, host name or a domain it serves).
  func isOwn(_ uri: SIPURI) -> Bool {
    namesElement(uri, endpoint: endpoint, domains: configuration.domains)
  }

  func serves(_ uri: SIPURI) -> Bool {
    configuration.domains.contains { $0.equalsIgnoringASCIICase(uri.host) }
  }

  // MARK: Events from the transaction layer

  func handle(_ event: TransactionEvent) {
    switch event {
    case .request(let request, nil):
      forwardStatelessly(request)
    case .request(let request, _) where request.method == "ACK":
      // An ACK an INVITE server transaction in Accepted passes up (RFC 6026 §8.7) is not a
      // request with a transaction of its own: no response comes to it, so a response context
      // made for it never ended (and took its INVITE's place, keyed alike). It goes on as an
      // ACK for a 2xx does.
      forwardStatelessly(request)
    case .request(let request, let key?):
      if request.method == "CANCEL", cancel(request, key: key) { return }
      receive(request, key: key)
    case .response(let response, let key):
      clientResponse(response, key: key)
    case .strayResponse(var response):
      // RFC 6026 §7.3: a 2xx with no client transaction left is forwarded statelessly.
      response.removeTopVia()
      core.log("forwarding a stray \(response.startLineText) statelessly")
      endpoint.onDrivingThread(passing: response) { $0.sendStateless($1) }
    case .unmatchable(let message, let reason):
      if message.isRequest, message.method != "ACK", message.topVia != nil {
        let bad = message.response(status: 400, reason: "Bad Request (\(reason))")
        endpoint.onDrivingThread(passing: bad) { $0.sendStateless($1) }
      }
    case .timeout(let key, let timer, _):
      if let (server, index) = clients[key] {
        if failOver(server, index, .timeout, reason: "Timer \(timer.rawValue)") { return }
        let status = configuration.noResponseStatus
        failBranch(server, index, status: status, reason: configuration.noResponseReason)
      }
    case .transportError(let key, _):
      if let (server, index) = clients[key] {
        if failOver(server, index, .transportError, reason: "transport error") { return }
        failBranch(server, index, status: 503, reason: nil)
      }
    case .moved:
      // Its Vias and Record-Routes name the new address from now on; dialogs that recorded
      // the old one lose their route through it, as they would with a real proxy that moved.
      (ownVias, recordRouteURI) = Self.ownParts(ownAddress, ownPort)
      core.log("moved: Via and Record-Route now name \(ownAddress):\(ownPort)")
    }
  }

  func respond(_ response: SIPMessage, in key: TransactionKey) {
    endpoint.onDrivingThread(passing: (response, key)) { endpoint, reply in
      endpoint.respond(reply.0, in: reply.1)
    }
  }

  // MARK: Requests (§16.3–16.6)

  func receive(_ received: SIPMessage, key: TransactionKey) {
    // Parsed once: validation, route pre-processing and the targets all read it.
    var requestURI = received.requestURI
    if let rejection = ProxyRules.validate(
      received, requestURI: requestURI, ownVias: ownVias, extensions: configuration.extensions)
    {
      core.log("refused \(received.startLineText): \(rejection)")
      respond(rejection.response(to: received, toTag: core.tag()), in: key)
      return
    }
    if received.method == "REGISTER", let policy = configuration.registrar, let location,
      let uri = requestURI, policy.serves(uri.host)
    {
      respond(
        core.registerResponse(received, digest: &digest, location: location, policy: policy),
        in: key)
      return
    }
    if var server = digest, received.toTag == nil, received.method != "CANCEL" {
      let verdict = server.verify(received, header: "Proxy-Authorization", at: core.now)
      if case .authorized = verdict {
        digest = server
      } else {
        if case .rejected(let reason) = verdict {
          core.log("407 for \(received.startLineText): \(reason)")
        }
        let challenge = core.challenge(
          received, digest: &server, proxy: true, stale: verdict == .stale)
        digest = server
        respond(challenge, in: key)
        return
      }
    }
    var request = received
    ProxyRules.preprocessRoutes(&request, requestURI: &requestURI, isOwn: isOwn)
    guard let uri = requestURI else { return }
    var targets: [(uri: SIPURI, q: Double)] = []
    // §16.5: only a proxy responsible for the Request-URI adds targets, so only then does it
    // recurse on a 3xx (one that forwards by Route or for another domain passes the 3xx on).
    var responsible = false
    if !request.routes.isEmpty || !serves(uri) {
      targets = [(uri, 1)]
    } else if uri.user == nil {
      // Addressed to this proxy itself.
      respond(
        core.answerOther(request, allow: "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"), in: key)
      return
    } else {
      let bindings = location?.onDrivingThread { $0.lookup(uri) } ?? []
      targets = bindings.map { ($0.contact.uri, $0.q) }
      responsible = true
      if targets.isEmpty {
        // §16.5: an empty target set is answered 480.
        respond(request.response(status: 480, toTag: core.tag()), in: key)
        return
      }
    }
    let isInvite = request.method == "INVITE"
    let context = Context(
      serverKey: key, request: request, loopHash: ProxyRules.loopHash(received),
      response: ResponseContext(
        targets: targets, mode: configuration.forking, isInvite: isInvite,
        recursesOnRedirect: configuration.recursesOnRedirect && responsible,
        requiresSIPS: uri.scheme == "sips"))
    contexts[key] = context
    perform(context.response.start(), in: context)
    // §16.2: a stateful proxy answers an INVITE with 100 Trying at once.
    if isInvite, !context.response.finalForwarded {
      respond(request.response(status: 100), in: key)
    }
    finishIfComplete(context)
  }

  /// ACK for a 2xx (or any request with no transaction) goes on by its Route or Request-URI
  /// (§16.7: ACK for 2xx is its own request; §16.11 for a stateless pass).
  func forwardStatelessly(_ received: SIPMessage) {
    var requestURI = received.requestURI
    if let rejection = ProxyRules.validate(received, requestURI: requestURI, ownVias: ownVias) {
      core.log("dropped \(received.startLineText): \(rejection)")
      return
    }
    var request = received
    ProxyRules.preprocessRoutes(&request, requestURI: &requestURI, isOwn: isOwn)
    guard var target = requestURI else { return }
    if request.routes.isEmpty, serves(target), target.user != nil,
      let first = location?.onDrivingThread({ $0.lookup(target) }).first
    {
      target = first.contact.uri
    }
    let (copy, hop) = ProxyRules.forward(request, to: target)
    // RFC 3263 §4.4: no transaction here to fail over in; one server per transaction.
    let peer =
      LocatorState.direct(locatorState, network: network)
      ? SIPPeer(uri: hop)
      : locator.statelessTarget(for: hop, transaction: ProxyRules.statelessBranch(received))
    endpoint.onDrivingThread(passing: (copy, peer)) { endpoint, send in
      _ = endpoint.sendRequest(send.0, to: send.1)
    }
  }

  /// §16.10: a CANCEL for a request with a response context is answered 200 here and cancels
  /// the pending branches; without one it is forwarded like any request.
  func cancel(_ cancel: SIPMessage, key: TransactionKey) -> Bool {
    guard let target = TransactionKey.inviteServer(cancelledBy: cancel),
      let context = contexts[target]
    else { return false }
    respond(cancel.response(status: 200), in: key)
    perform(context.response.cancelPending(), in: context)
    finishIfComplete(context)
    return true
  }

  func start(_ index: Int, in context: Context) {
    // Recursion on a 3xx adds targets to the response context: give them their branch state.
    while context.branches.count <= index { context.branches.append(Context.Branch()) }
    let branchInfo = context.response.branches[index]
    let isInvite = context.response.isInvite
    let (copy, hop) = ProxyRules.forward(
      context.request, to: branchInfo.target,
      recordRoute: isInvite && configuration.recordRoute ? recordRouteURI : nil)
    context.branches[index].request = copy
    context.branches[index].targets = targets(for: hop)
    guard let key = send(index, in: context), context.response.branches[index].isPending else {
      return
    }
    context.branches[index].key = key
    clients[key] = (context.serverKey, index)
    if isInvite {
      armTimerC(context, index)
      if configuration.forking == .sequential, let ring = configuration.branchTimeout {
        context.branches[index].ringTimer = schedule(after: ring, timer: "ring", context, index) {
          proxy, context in
          context.branches[index].ringTimer = nil
          proxy.core.log("target \(context.response.branches[index].target) rang too long")
          proxy.endIfUnanswered(context, index)
          proxy.perform(
            context.response.timerC(branch: index, timeout: proxy.synthesized(408, context)),
            in: context)
          proxy.finishIfComplete(context)
        }
      }
    }
  }

  /// Sends branch `index`'s forwarded request to its current server under a new Via branch (a
  /// new client transaction, §16.6 steps 8–10), whose loop-detection part is the context's.
  func send(_ index: Int, in context: Context) -> TransactionKey? {
    guard let request = context.branches[index].request,
      let peer = context.branches[index].targets?.current
    else { return nil }
    let branch = "z9hG4bK\(String(core.random.next(), radix: 16))-\(context.loopHash)"
    return endpoint.onDrivingThread(passing: (request, peer, branch)) { endpoint, send in
      endpoint.sendRequest(send.0, to: send.1, branch: send.2)
    }
  }

  func armTimerC(_ context: Context, _ index: Int) {
    // A provisional restarts it (§16.8): traced as armed again, not as cancelled and armed.
    if let old = context.branches[index].timerC { network.simulation.cancel(old) }
    context.branches[index].timerC = schedule(
      after: configuration.timerC, timer: "C", context, index
    ) { proxy, context in
      context.branches[index].timerC = nil
      proxy.endIfUnanswered(context, index)
      proxy.perform(
        context.response.timerC(branch: index, timeout: proxy.synthesized(408, context)),
        in: context)
      proxy.finishIfComplete(context)
    }
  }

  /// Arms the proxy's own timer `name` on branch `index` of `context` (Timer C of §16.6 step
  /// 11 and §16.8, the sequential ring timer, the §9.1 cancel-wait), traced as the transaction
  /// timers are: `timer-armed` with its duration, `timer-fired`, and `timer-cancelled` from
  /// ``stopTimers(_:_:)``, each naming the branch and, as `context`, the server transaction whose
  /// request the branch forwards (two calls at one proxy both have a branch 0), so a verbose
  /// ladder shows Timer C armed when the INVITE goes out.
  func schedule(
    after delay: Duration, timer name: String, _ context: Context, _ index: Int,
    _ body: @escaping @Sendable (isolated Proxy, Context) -> Void
  ) -> TimerHandle {
    let server = context.serverKey
    let micros = SIPEndpoint.micros(delay)
    let at = SimInstant(microseconds: network.simulation.now.microseconds + micros)
    core.record(
      "timer-armed",
      Self.timerFields(name, index, server) + [("duration", .integer(micros))])
    return network.simulation.schedule(at: at, into: self) { proxy in
      guard let context = proxy.contexts[server] else { return }
      proxy.core.record("timer-fired", Self.timerFields(name, index, server))
      body(proxy, context)
    }
  }

  /// A proxy timer's trace fields: its name, its branch, and the context's server transaction.
  static func timerFields(_ name: String, _ index: Int, _ server: TransactionKey) -> [(
    String, TraceValue
  )] {
    [
      ("timer", .string(name)), ("branch", .integer(Int64(index))),
      ("context", .string(server.description)),
    ]
  }

  /// A response this proxy makes up for a branch (timeout, transport error): built from the
  /// request as received, so its Vias are upstream's, like a downstream response once this
  /// proxy's Via is off.
  func synthesized(_ status: Int, _ context: Context, reason: String? = nil) -> SIPMessage {
    context.request.response(status: status, reason: reason, toTag: core.tag())
  }

  func failBranch(_ server: TransactionKey, _ index: Int, status: Int, reason: String?) {
    guard let context = contexts[server] else { return }
    stopTimers(context, index)
    perform(
      context.response.failed(synthesized(status, context, reason: reason), branch: index),
      in: context)
    finishIfComplete(context)
  }

  // MARK: Server location and fail-over (RFC 3263 §4)

  /// The proxy's RFC 3263 state, made on first need.
  var locator: LocatorState {
    if let made = locatorState { return made }
    let made = LocatorState(network: network, element: endpoint.hostName)
    locatorState = made
    return made
  }

  /// §16.6 step 7 and RFC 3263 §4: the servers of a forwarded request's next hop (its first
  /// Route, else its Request-URI) in the order to try them. With no SRV or NAPTR record in the
  /// network and no server out of use, the hop's direct peer, as before server location: one
  /// check per request, no lookup and no allocation; its name's other addresses are looked up
  /// only if that peer fails.
  func targets(for hop: SIPURI) -> ServerTargets {
    if LocatorState.direct(locatorState, network: network) { return ServerTargets(direct: hop) }
    return locator.targets(for: hop)
  }

  /// RFC 3263 §4.3 for branch `index` of the context of `server`, whose client transaction
  /// failed (`reason`: `Timer B`, `Timer F`, `transport error`, `503`): when the response
  /// context lets it (``ResponseContext/failsOver(branch:after:)``) and a server is left, the
  /// same forwarded request goes to the next server under a new branch, a new client
  /// transaction in the same branch of the response context, which goes on collecting
  /// (§16.7). That transaction gets its own Timer C (§16.6 step 11: one "for each client
  /// transaction"); the sequential ring timer, the target's, runs on; a CANCEL for the branch
  /// goes to the new transaction, and waits for its first provisional (§9.1). False when the
  /// branch is to end with the failure (no server left: the 408 / 503 made up for it, or the
  /// last server's 503, which §16.7 sends up as 500).
  ///
  /// A 503's Retry-After keeps that server out of use for the proxy's later requests (RFC
  /// 3261 §21.5.4).
  func failOver(
    _ server: TransactionKey, _ index: Int, _ failure: ResponseContext.BranchFailure,
    reason: String, retryAfter: UInt32? = nil
  ) -> Bool {
    guard let context = contexts[server], context.branches.indices.contains(index),
      context.response.failsOver(branch: index, after: failure),
      var targets = context.branches[index].targets
    else { return false }
    guard
      locator.failOver(
        &targets, reason: reason, method: context.request.method ?? "",
        callID: context.request.callID, retryAfter: retryAfter) != nil
    else { return false }
    // The failed transaction is not the branch's any more: a late event from it is ignored.
    if let old = context.branches[index].key { clients[old] = nil }
    context.branches[index].key = nil
    context.branches[index].targets = targets
    context.response.failedOver(branch: index)
    guard let key = send(index, in: context) else { return false }
    context.branches[index].key = key
    clients[key] = (server, index)
    if context.response.isInvite { armTimerC(context, index) }
    return true
  }

  // MARK: Responses (§16.7)

  func clientResponse(_ response: SIPMessage, key: TransactionKey) {
    guard let (server, index) = clients[key], let context = contexts[server],
      let status = response.status
    else {
      // A 2xx to an INVITE whose context has ended (a retransmission in Accepted, RFC 6026)
      // still goes up (§16.7 step 5). Any other response here is this proxy's own: the 200 to
      // a CANCEL it sent (§16.10) ends in its CANCEL client transaction, not upstream.
      if key.method == "INVITE", let status = response.status, (200..<300).contains(status) {
        handle(.strayResponse(response))
      }
      return
    }
    if status == 503,
      failOver(
        server, index, .serviceUnavailable, reason: "503", retryAfter: response.retryAfter?.seconds)
    {
      return
    }
    if status > 100 && status < 200 && context.response.isInvite {
      armTimerC(context, index)  // §16.8: a provisional refreshes Timer C.
    }
    if status >= 200 { stopTimers(context, index) }
    // §16.7 step 3: our Via comes off as the response arrives; what the context forwards (or
    // makes up) then goes out unchanged.
    var response = response
    response.removeTopVia()
    perform(context.response.receive(response, branch: index), in: context)
    finishIfComplete(context)
  }

  func stopTimers(_ context: Context, _ index: Int) {
    // Field by field: an array of the three handles was an allocation per branch.
    let server = context.serverKey
    if let handle = context.branches[index].timerC { cancel(handle, "C", index, server) }
    if let handle = context.branches[index].ringTimer { cancel(handle, "ring", index, server) }
    if let handle = context.branches[index].cancelWait {
      cancel(handle, "cancel-wait", index, server)
    }
    context.branches[index].timerC = nil
    context.branches[index].ringTimer = nil
    context.branches[index].cancelWait = nil
  }

  func cancel(_ handle: TimerHandle, _ name: String, _ index: Int, _ server: TransactionKey) {
    network.simulation.cancel(handle)
    core.record("timer-cancelled", Self.timerFields(name, index, server))
  }

  /// Ends branch `index`'s client transaction here, telling the core nothing, and its timers:
  /// the branch is then ended by a response made up for it.
  func abandonClient(_ context: Context, _ index: Int) {
    if let key = context.branches[index].key {
      clients[key] = nil
      endpoint.onDrivingThread(passing: key) { endpoint, key in endpoint.abandon(key) }
    }
    stopTimers(context, index)
  }

  /// §16.8: Timer C (or the sequential ring timer, which ends a branch the same way) on a
  /// branch with no response yet "behave[s] as if the transaction received a 408", and the
  /// proxy terminates the client transaction. Kept, it went on retransmitting the INVITE: a
  /// target reached later rang for a branch the response context had already ended, which no
  /// CANCEL could reach.
  func endIfUnanswered(_ context: Context, _ index: Int) {
    guard case .trying = context.response.branches[index].state else { return }
    abandonClient(context, index)
  }

  /// RFC 3261 §9.1, for the CANCEL a proxy sends (§16.10 makes it "as described in section
  /// 9.1"): a cancelled branch with no final response 64·T1 later is considered cancelled, its
  /// client transaction destroyed, and the branch ends as if a 487 had come. A callee that
  /// answers the CANCEL but never the INVITE (an RFC 2543 one sends no 487) otherwise kept the
  /// branch, its client transaction and the whole response context for ever: Timer C does
  /// nothing for a branch already cancelled.
  func armCancelWait(_ context: Context, _ index: Int) {
    guard context.branches[index].cancelWait == nil else { return }
    let wait = endpoint.timers.transactionTimeout
    context.branches[index].cancelWait = schedule(
      after: wait, timer: "cancel-wait", context, index
    ) { proxy, context in
      context.branches[index].cancelWait = nil
      guard context.response.branches[index].isPending else { return }
      proxy.core.log(
        "no final response on branch \(index) 64·T1 after its CANCEL: considered cancelled (§9.1)")
      proxy.abandonClient(context, index)
      proxy.perform(
        context.response.failed(proxy.synthesized(487, context), branch: index), in: context)
      proxy.finishIfComplete(context)
    }
  }

  func perform(_ actions: [ResponseContext.Action], in context: Context) {
    for action in actions {
      switch action {
      case .start(let index):
        start(index, in: context)
      case .forward(let response):
        respond(response, in: context.serverKey)
      case .cancel(let index):
        guard let request = context.branches[index].request,
          let peer = context.branches[index].peer,
          let branch = context.branches[index].key?.branch
        else { continue }
        endpoint.onDrivingThread(passing: (request.cancelRequest(), peer, branch)) {
          endpoint, send in
          _ = endpoint.sendRequest(send.0, to: send.1, branch: send.2)
        }
        armCancelWait(context, index)
      }
    }
  }

  /// Drops the context once every branch has ended (its final went up or was chosen).
  func finishIfComplete(_ context: Context) {
    guard context.response.isComplete, contexts[context.serverKey] === context else { return }
    for index in context.branches.indices {
      stopTimers(context, index)
      if let key = context.branches[index].key { clients[key] = nil }
    }
    contexts[context.serverKey] = nil
  }
}
