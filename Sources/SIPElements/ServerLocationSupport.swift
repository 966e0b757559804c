public import SIPCore
public import SIPTransport
import Simulation

extension SIPPeer {
  /// The peer a URI names without any DNS lookup (RFC 3263 §4.1, §4.2, where nothing can
  /// change it): `maddr` or the host, the port or the transport's default, the `transport`
  /// parameter's transport (TLS for `sips`), else UDP. A name is resolved to its first address
  /// when sent to. Elements send requests to ``ServerLocator`` targets instead, which this is
  /// the first of whenever no SRV or NAPTR record exists.
  public init(uri: SIPURI) {
    self = ServerLocator.directPeer(for: uri)
  }
}

/// The simulated network's name service as RFC 3263 server location reads it: the network
/// stores records; which to query and in what order to use them is ``ServerLocator``'s.
struct NetworkNameRecords: ServerLocationRecords {
  let network: Network

  var hasServiceRecords: Bool { network.hasServiceRecords }

  func naptrRecords(_ domain: String) -> [NAPTRRecord] {
    network.namingAuthorityRecords(domain).map {
      NAPTRRecord(
        order: $0.order, preference: $0.preference, flags: $0.flags, service: $0.service,
        replacement: $0.replacement)
    }
  }

  func srvRecords(_ name: String) -> [SRVRecord] {
    network.services(name).map {
      SRVRecord(priority: $0.priority, weight: $0.weight, port: $0.port, target: $0.target)
    }
  }

  func addresses(_ domain: String) -> [String] {
    network.resolve(domain).map(SIPEndpoint.hostText)
  }
}

/// One request's RFC 3263 targets (§4.3): where it went, and where it goes next if that fails.
struct ServerTargets: Sendable {
  /// The URI they were found for: the request's first Route, else its Request-URI.
  let uri: SIPURI
  /// The target the request is on.
  private(set) var current: SIPPeer
  /// The targets after ``current``, in order.
  private(set) var rest: [SIPPeer]
  /// False while only the URI's direct peer is known (no SRV or NAPTR record exists, so it is
  /// the first target): the rest, its name's other addresses, are looked up only if it fails.
  private(set) var complete: Bool

  /// The URI's direct peer, the rest left for a failure to look up.
  init(direct uri: SIPURI) {
    self.uri = uri
    current = SIPPeer(uri: uri)
    rest = []
    complete = false
  }

  /// `targets` in order; the URI's direct peer (which will fail) when there is none.
  init(uri: SIPURI, targets: [SIPPeer]) {
    self.uri = uri
    current = targets.first ?? SIPPeer(uri: uri)
    rest = Array(targets.dropFirst())
    complete = true
  }

  /// Moves to the next target, if any.
  mutating func advance() -> SIPPeer? {
    guard !rest.isEmpty else { return nil }
    current = rest.removeFirst()
    return current
  }

  /// The full list is known now (every target, none left out for being out of use): the
  /// first is the address the direct peer's name was sent to (RFC 3263 §4.2), which `current`
  /// names from now on (so a 503's Retry-After puts that address out of use, not the name),
  /// and the rest follow it.
  mutating func complete(with targets: [SIPPeer]) {
    if let first = targets.first { current = first }
    rest = Array(targets.dropFirst())
    complete = true
  }
}

/// What an element keeps for RFC 3263, made the first time it is needed (most elements of
/// most simulations never need it): its random stream for SRV weights, `srv <host>` (its own,
/// so adding records to a topology shifts no other draw), and the servers a 503 with
/// Retry-After put out of use (RFC 3261 §21.5.4).
final class LocatorState {
  let network: Network
  let element: String
  let trace: ElementTrace
  var random: SimRandom
  /// Until when (µs) each server is not to be sent requests.
  var unavailable: [SIPPeer: Int64] = [:]

  init(network: Network, element: String) {
    self.network = network
    self.element = element
    trace = ElementTrace(network: network, element: element)
    random = network.simulation.random(stream: "srv \(element)")
  }

  /// Whether an element without this state yet can send to a URI's direct peer (no SRV or
  /// NAPTR record exists, and no server is out of use): the cost of a send before RFC 3263.
  static func direct(_ state: LocatorState?, network: Network) -> Bool {
    !network.hasServiceRecords && (state?.unavailable.isEmpty ?? true)
  }

  /// RFC 3263 §4.1, §4.2: every target for `uri`, in order, without those out of use; a
  /// resolution that queried SRV or NAPTR records is traced (`server-location`).
  func resolve(_ uri: SIPURI, includingOutOfUse: Bool = false) -> [SIPPeer] {
    resolve(uri, random: &random, includingOutOfUse: includingOutOfUse)
  }

  /// ``resolve(_:includingOutOfUse:)`` with the SRV weights drawn from `random`.
  func resolve(
    _ uri: SIPURI, random: inout some RandomNumberGenerator, includingOutOfUse: Bool = false
  ) -> [SIPPeer] {
    let location = ServerLocator.locate(
      uri, records: NetworkNameRecords(network: network), random: &random)
    let usable = includingOutOfUse ? location.targets : usable(location.targets)
    if location.queriedServiceRecords {
      trace.record(
        "server-location",
        [
          ("uri", .string(uri.description)), ("rule", .string(location.rule.rawValue)),
          ("transport", .string(location.transport?.rawValue ?? "none")),
          ("queries", .string(location.queries.joined(separator: "; "))),
          ("targets", .string(usable.map(\.description).joined(separator: " "))),
        ])
    }
    return usable
  }

  /// RFC 3263 §4.4: where a request forwarded without transaction state goes (a stateless
  /// proxy's, §16.11; a stateful proxy's ACK for a 2xx). It cannot fail over (nothing
  /// remembers which server a transaction is on), and every request of one transaction (each
  /// retransmission, the CANCEL, the ACK for a non-2xx) must reach the same server, so the
  /// choice is not a draw from the element's stream, which moves on with every message: the
  /// SRV weights are drawn from a generator seeded by the simulation's seed, the element and
  /// `transaction`, the stateless branch (``ProxyRules/statelessBranch(_:)``, equal for exactly
  /// those requests). The same transaction gets the same first target; different transactions
  /// spread over equal-priority servers by their weights, and a run replays exactly. Servers a
  /// 503 with Retry-After put out of use are passed over; with no target, the URI's direct peer.
  func statelessTarget(for uri: SIPURI, transaction: String) -> SIPPeer {
    var random = network.simulation.random(stream: "srv \(element) \(transaction)")
    return resolve(uri, random: &random).first ?? SIPPeer(uri: uri)
  }

  /// The targets for a request whose next hop is `uri`.
  func targets(for uri: SIPURI) -> ServerTargets {
    ServerTargets(uri: uri, targets: resolve(uri))
  }

  /// `targets` without the servers out of use (forgetting those whose time is up).
  func usable(_ targets: [SIPPeer]) -> [SIPPeer] {
    guard !unavailable.isEmpty else { return targets }
    let now = network.simulation.now.microseconds
    unavailable = unavailable.filter { $0.value > now }
    return targets.filter { unavailable[$0] == nil }
  }

  /// RFC 3261 §21.5.4: a 503 with Retry-After: no request goes to `peer` for that long.
  func markUnavailable(_ peer: SIPPeer, for seconds: UInt32) {
    guard seconds > 0 else { return }
    unavailable[peer] = network.simulation.now.microseconds + Int64(seconds) * 1_000_000
    trace.log("\(peer) out of use for \(seconds)s (503 with Retry-After, RFC 3261 §21.5.4)")
  }

  /// RFC 3263 §4.3: `set.current` failed (`reason`: `Timer B`, `transport error`, `503`): the
  /// next target, traced (`fail-over`), or nil when none is left. A set holding only its
  /// URI's direct peer is completed first (the direct peer was its name's first address, which
  /// the set then names). A 503's `retryAfter` puts that server out of use (RFC 3261 §21.5.4):
  /// its address, whether or not a next target is left.
  func failOver(
    _ set: inout ServerTargets, reason: String, method: String, callID: String?,
    retryAfter: UInt32? = nil
  ) -> SIPPeer? {
    if !set.complete { set.complete(with: resolve(set.uri, includingOutOfUse: true)) }
    let failed = set.current
    if let retryAfter { markUnavailable(failed, for: retryAfter) }
    var next = set.advance()
    while let candidate = next, usable([candidate]).isEmpty { next = set.advance() }
    guard let next else { return nil }
    recordFailOver(from: failed, to: next, reason: reason, method: method, callID: callID)
    return next
  }

  func recordFailOver(
    from failed: SIPPeer, to next: SIPPeer, reason: String, method: String, callID: String?,
    via proxy: SIPURI? = nil
  ) {
    trace.record(
      "fail-over",
      [
        ("method", .string(method)), ("from", .string(failed.description)),
        ("to", .string(next.description)), ("reason", .string(reason)),
      ] + (callID.map { [("callId", TraceValue.string($0))] } ?? [])
        + (proxy.map { [("proxy", TraceValue.string($0.description))] } ?? []))
  }
}
