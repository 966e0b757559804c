import SIPCore
import SIPDialog
public import SIPServers
public import SIPTransaction
public import Simulation

/// A registrar (RFC 3261 §10.3): a UAS that accepts REGISTER for its domains, authenticates
/// with Digest when given a ``DigestServer`` (401 + WWW-Authenticate, `stale=true` for an
/// expired nonce, a replayed nonce count refused, §22.2), and writes a ``LocationService``
/// that the domain's proxies and redirect servers read. OPTIONS is answered; other methods get
/// 405. A thin shell: the rules are ``Registration`` and ``DigestServer``.
public actor Registrar: SimulationActor, TransactionCore {
  /// The simulation's executor, which the actor is pinned to.
  public nonisolated let simulationExecutor: SimulationExecutor
  public nonisolated var unownedExecutor: UnownedSerialExecutor {
    simulationExecutor.asUnownedSerialExecutor()
  }
  public nonisolated let endpoint: SIPEndpoint
  public nonisolated let location: LocationService
  public nonisolated let policy: RegistrarPolicy
  // Actor state, changed in place on every REGISTER: its run-time exclusivity checks are left
  // out (only the actor's own code reaches it, on the driving thread).
  @exclusivity(unchecked) var digest: DigestServer?
  @exclusivity(unchecked) var core: ServerCore

  public init(
    network: Network, host: String, port: UInt16 = 5060, location: LocationService,
    policy: RegistrarPolicy, authentication: DigestServer? = nil,
    timers: TimerSettings = .rfc3261
  ) throws(NetworkError) {
    endpoint = try SIPEndpoint(network: network, host: host, port: port, timers: timers)
    simulationExecutor = network.simulation.executor
    self.location = location
    self.policy = policy
    digest = authentication
    core = ServerCore(network: network, element: host)
    let box = WeakBox<Registrar>()
    SIPEndpoint.attach(endpoint, on: network.simulation, to: box)
    box.value = self
  }

  /// Nonces its digest server remembers (they expire with their lifetime).
  public var liveNonces: Int { digest?.liveNonces ?? 0 }

  func handle(_ event: TransactionEvent) {
    guard case .request(let request, let key?) = event else { return }
    let response: SIPMessage
    switch request.method {
    case "REGISTER":
      response = register(request)
    case "CANCEL":
      response = core.cancelAnswer(request, endpoint: endpoint)
    default:
      response = core.answerOther(request, allow: "REGISTER, OPTIONS, CANCEL, ACK")
    }
    endpoint.onDrivingThread(passing: (response, key)) { endpoint, reply in
      endpoint.respond(reply.0, in: reply.1)
    }
  }

  func register(_ request: SIPMessage) -> SIPMessage {
    core.registerResponse(request, digest: &digest, location: location, policy: policy)
  }
}
