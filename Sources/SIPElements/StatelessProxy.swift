import SIPCore
import SIPDialog
import SIPServers
import SIPTransaction
import SIPTransport
public import Simulation

/// A stateless proxy (RFC 3261 §16.11): no transactions and no response context. Each request
/// is validated (§16.3, refusals sent statelessly), its Route pre-processed (§16.4), sent to one
/// target (the best binding in the ``LocationService`` for its domains, else the Request-URI)
/// with a branch computed from the request, so a retransmission, its CANCEL and its non-2xx ACK
/// take the same branch as the original; responses go back by their next Via. The next hop is
/// located by RFC 3263, the same server for every request of a transaction (§4.4), with no
/// fail-over (`LocatorState.statelessTarget(for:transaction:)` says why).
public actor StatelessProxy: SimulationActor, TransactionCore {
  /// The simulation's executor, which the actor is pinned to.
  public nonisolated let simulationExecutor: SimulationExecutor
  public nonisolated var unownedExecutor: UnownedSerialExecutor {
    simulationExecutor.asUnownedSerialExecutor()
  }
  public nonisolated let endpoint: SIPEndpoint
  public nonisolated let location: LocationService?
  /// Domains whose Request-URIs are looked up in the location service.
  public nonisolated let domains: [String]
  var core: ServerCore
  /// Its RFC 3263 state, made the first time a request is forwarded in a network with SRV or
  /// NAPTR records.
  var locatorState: LocatorState?

  public init(
    network: Network, host: String, port: UInt16 = 5060, location: LocationService? = nil,
    domains: [String] = []
  ) throws(NetworkError) {
    let endpoint = try SIPEndpoint(network: network, host: host, port: port, stateless: true)
    self.endpoint = endpoint
    simulationExecutor = network.simulation.executor
    self.location = location
    self.domains = domains
    core = ServerCore(network: network, element: host)
    let box = WeakBox<StatelessProxy>()
    SIPEndpoint.attach(endpoint, on: network.simulation, to: box)
    box.value = self
  }

  var ownVia: String { "\(endpoint.addressText):\(endpoint.address.port)" }

  func handle(_ event: TransactionEvent) {
    switch event {
    case .request(let request, _):
      forward(request)
    case .strayResponse(var response), .response(var response, _):
      // §16.11: our Via off; the next one says where it goes.
      response.removeTopVia()
      guard response.topVia != nil else { return }
      endpoint.onDrivingThread(passing: response) { $0.sendStateless($1) }
    default:
      break
    }
  }

  func forward(_ received: SIPMessage) {
    if let rejection = ProxyRules.validate(received, ownVias: [ownVia]) {
      core.log("refused \(received.startLineText): \(rejection)")
      if received.method != "ACK" {
        let response = rejection.response(to: received, toTag: core.tag())
        endpoint.onDrivingThread(passing: response) { $0.sendStateless($1) }
      }
      return
    }
    var request = received
    let (endpoint, domains) = (endpoint, domains)
    ProxyRules.preprocessRoutes(&request) { namesElement($0, endpoint: endpoint, domains: domains) }
    guard var target = request.requestURI else { return }
    if request.routes.isEmpty, target.user != nil,
      domains.contains(where: { $0.lowercased() == target.host.lowercased() })
    {
      guard let best = location?.onDrivingThread({ $0.lookup(target) }).first else {
        if received.method != "ACK" {
          let unavailable = received.response(status: 480, toTag: core.tag())
          endpoint.onDrivingThread(passing: unavailable) { $0.sendStateless($1) }
        }
        return
      }
      target = best.contact.uri
    }
    let (copy, hop) = ProxyRules.forward(request, to: target)
    let branch = ProxyRules.statelessBranch(received)
    endpoint.onDrivingThread(passing: (copy, peer(for: hop, transaction: branch), branch)) {
      endpoint, send in
      endpoint.forwardStateless(send.0, to: send.1, branch: send.2)
    }
  }

  /// §16.11 and RFC 3263 §4.4: the server a request whose next hop is `hop` goes to, the same
  /// for every request of its transaction (`transaction`: its stateless branch). With no SRV
  /// or NAPTR record in the network, the hop's direct peer, at no cost beyond one check.
  func peer(for hop: SIPURI, transaction: String) -> SIPPeer {
    let network = core.network
    if !network.hasServiceRecords { return SIPPeer(uri: hop) }
    let locator = locatorState ?? LocatorState(network: network, element: endpoint.hostName)
    locatorState = locator
    return locator.statelessTarget(for: hop, transaction: transaction)
  }
}

/// A redirect server (RFC 3261 §8.3): it answers requests for its domains with a 3xx listing
/// the contacts the ``LocationService`` holds (with their q), 480 when there are none, so the
/// client retries them itself (§8.1.3.4). ACK, CANCEL and OPTIONS are answered as a UAS does.
public actor RedirectServer: SimulationActor, TransactionCore {
  /// The simulation's executor, which the actor is pinned to.
  public nonisolated let simulationExecutor: SimulationExecutor
  public nonisolated var unownedExecutor: UnownedSerialExecutor {
    simulationExecutor.asUnownedSerialExecutor()
  }
  public nonisolated let endpoint: SIPEndpoint
  public nonisolated let location: LocationService
  /// 300 Multiple Choices, 301 Moved Permanently or 302 Moved Temporarily (the default).
  public nonisolated let status: Int
  var core: ServerCore

  public init(
    network: Network, host: String, port: UInt16 = 5060, location: LocationService,
    status: Int = 302
  ) throws(NetworkError) {
    let endpoint = try SIPEndpoint(network: network, host: host, port: port)
    self.endpoint = endpoint
    simulationExecutor = network.simulation.executor
    self.location = location
    self.status = status
    core = ServerCore(network: network, element: host)
    let box = WeakBox<RedirectServer>()
    SIPEndpoint.attach(endpoint, on: network.simulation, to: box)
    box.value = self
  }

  func handle(_ event: TransactionEvent) {
    guard case .request(let request, let key?) = event else { return }
    let response: SIPMessage
    switch request.method {
    case "CANCEL":
      response = core.cancelAnswer(request, endpoint: endpoint)
    case "OPTIONS", "REGISTER":
      response = core.answerOther(request, allow: "INVITE, ACK, CANCEL, BYE, OPTIONS")
    default:
      response = redirect(request)
    }
    endpoint.onDrivingThread(passing: (response, key)) { endpoint, reply in
      endpoint.respond(reply.0, in: reply.1)
    }
  }

  /// §8.3: the Contacts of the target's bindings, best first, each with its q.
  func redirect(_ request: SIPMessage) -> SIPMessage {
    guard let uri = request.requestURI else {
      return request.response(status: 400, toTag: core.tag())
    }
    let bindings = location.onDrivingThread { $0.lookup(uri) }
    guard !bindings.isEmpty else { return request.response(status: 480, toTag: core.tag()) }
    var response = request.response(status: status, toTag: core.tag())
    for binding in bindings {
      var contact = NameAddress(uri: binding.contact.uri)
      if binding.q < 1 { contact.parameters.append(SIPParameter("q", "\(binding.q)")) }
      response.insertBeforeLength("Contact", contact.description)
    }
    return response
  }
}
