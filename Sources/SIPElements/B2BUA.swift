public import SIPCore
import SIPDialog
public import SIPTransaction
public import Simulation

/// A back-to-back user agent: two ``UserAgent``s on one host bridging calls, as a PBX does.
/// The inbound agent answers callers; for each call it gets, the outbound agent calls the
/// target ``route`` picks, and the two calls move together: the callee's ringing rings the
/// caller, its answer answers the caller, its failure is the caller's failure status, and a
/// hang-up or CANCEL on either side ends the other. Each leg is its own dialog with its own
/// Call-ID, tags, CSeq and SDP (media anchored at the B2BUA), which is what tells a B2BUA from
/// a proxy (RFC 3261 §6, "back-to-back user agent").
public actor B2BUA: SimulationActor {
  /// The simulation's executor, which the actor is pinned to.
  public nonisolated let simulationExecutor: SimulationExecutor
  public nonisolated var unownedExecutor: UnownedSerialExecutor {
    simulationExecutor.asUnownedSerialExecutor()
  }
  /// The leg towards callers (listens on `port`).
  public nonisolated let inbound: UserAgent
  /// The leg towards callees (listens on `outboundPort`).
  public nonisolated let outbound: UserAgent
  let route: @Sendable (IncomingCall) -> SIPURI?
  nonisolated let network: Network
  /// Outbound Call-ID by inbound Call-ID, and back.
  var outboundLeg: [String: String] = [:]
  var inboundLeg: [String: String] = [:]
  var lastStatus: [String: Int] = [:]

  /// - Parameter route: the target for each incoming call (nil refuses it with 404).
  public init(
    network: Network, host: String, aor: SIPURI, port: UInt16 = 5060,
    outboundPort: UInt16 = 5070, configuration: UAConfiguration = UAConfiguration(),
    timers: TimerSettings = .rfc3261, route: @escaping @Sendable (IncomingCall) -> SIPURI?
  ) throws(NetworkError) {
    let box = WeakBox<B2BUA>()
    inbound = try UserAgent(
      network: network, host: host, aor: aor, port: port,
      behaviour: .custom { _, call in box.value?.onDrivingThread { $0.incoming(call) } },
      timers: timers)
    outbound = try UserAgent(
      network: network, host: host, aor: aor, port: outboundPort, configuration: configuration,
      timers: timers)
    self.route = route
    self.network = network
    simulationExecutor = network.simulation.executor
    let inbound = inbound
    let outbound = outbound
    network.simulation.inspect {
      inbound.onDrivingThread { agent in
        agent.onEvent { _, event in
          box.value?.onDrivingThread(passing: event) { $0.inboundEvent($1) }
        }
      }
      outbound.onDrivingThread { agent in
        agent.onEvent { _, event in
          box.value?.onDrivingThread(passing: event) { $0.outboundEvent($1) }
        }
      }
    }
    box.value = self
  }

  /// Bridged calls alive, as (inbound, outbound) Call-IDs.
  public var bridges: [(inbound: String, outbound: String)] {
    outboundLeg.keys.sorted().compactMap { key in outboundLeg[key].map { (key, $0) } }
  }

  func incoming(_ call: IncomingCall) {
    guard let target = route(call) else {
      inbound.onDrivingThread { $0.reject(call.callID, status: 404) }
      return
    }
    let leg = outbound.onDrivingThread { $0.call(target, offer: call.offer != nil) }
    outboundLeg[call.callID] = leg
    inboundLeg[leg] = call.callID
    log("bridging \(call.callID) to \(target) as \(leg)")
  }

  func outboundEvent(_ event: UAEvent) {
    switch event {
    case .response(let leg, "INVITE", let status):
      guard let caller = inboundLeg[leg] else { return }
      lastStatus[leg] = status
      if status == 180 || status == 183 {
        inbound.onDrivingThread { $0.ring(caller) }
      } else if (200..<300).contains(status) {
        inbound.onDrivingThread { $0.answer(caller) }
      }
    case .callState(let leg, .terminated):
      guard let caller = inboundLeg.removeValue(forKey: leg) else { return }
      outboundLeg[caller] = nil
      let status = lastStatus.removeValue(forKey: leg)
      inbound.onDrivingThread { agent in
        switch agent.state(of: caller) {
        case .confirmed?:
          agent.hangUp(caller)
        case .terminated?, nil:
          break
        default:
          // The callee's failure is the caller's (a 6xx stays global, others pass through).
          let code = status.flatMap { $0 >= 300 ? $0 : nil } ?? 480
          agent.reject(caller, status: code == 487 ? 480 : code)
        }
      }
    default:
      break
    }
  }

  func inboundEvent(_ event: UAEvent) {
    guard case .callState(let caller, .terminated) = event,
      let leg = outboundLeg.removeValue(forKey: caller)
    else { return }
    inboundLeg[leg] = nil
    lastStatus[leg] = nil
    // The caller hung up or cancelled: end the other leg however far it got.
    outbound.onDrivingThread { $0.hangUp(leg) }
  }

  func log(_ text: String) {
    ElementTrace(network: network, element: inbound.endpoint.hostName).log(text)
  }
}
