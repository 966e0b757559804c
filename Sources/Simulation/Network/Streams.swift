/// What a stream connection reports to its owner, on the driving thread.
public enum StreamEvent: Sendable, Equatable {
  /// The connection is established (client side; an accepted connection starts open).
  case connected
  /// The connection attempt failed: the peer host is down, the link is partitioned, or nothing
  /// listens on the port.
  case refused(reason: String)
  /// Bytes arrived, in order. Segment boundaries are the sender's MTU-sized segments, not its
  /// `send` calls, so a reader must frame messages itself (as SIP over TCP does, §18.3).
  case data([UInt8])
  /// The peer closed the connection in an orderly way.
  case closed
  /// The connection broke (peer crashed, link partitioned, peer gone).
  case reset(reason: String)
}

/// A listening stream socket: a handle on a listening point its host keeps. Each accepted
/// connection is handed to the `accept` given to ``Network/listen(host:port:transport:ipv6:accept:)``,
/// which should set the connection's `onEvent`.
///
/// A value, not an object: the host record keeps what accepting needs (the closure, the port,
/// the transport) inline, so an agent listening on TCP and TLS costs no heap object per port (two
/// were 190 bytes of every agent). Two handles are equal when they name the same listening point.
public struct StreamListener: Sendable, Equatable {
  let network: Network
  let hostIndex: Int
  /// Tells this listening point from a later one on the same port.
  let id: UInt32
  /// The address and port this listener accepts on.
  public let local: SocketAddress
  public let transport: TransportKind

  /// False once closed (or once its host crashed).
  public var isOpen: Bool { network.listeningPoint(on: hostIndex, port: local.port)?.id == id }

  /// Stops accepting; established connections stay up.
  public func close() {
    guard isOpen else { return }
    network.hosts[hostIndex].listeners.removeAll { $0.port == local.port }
  }

  public static func == (lhs: StreamListener, rhs: StreamListener) -> Bool {
    lhs.network === rhs.network && lhs.id == rhs.id
  }
}

/// What a host keeps of a listening point (see ``StreamListener``).
struct ListeningPoint {
  let accept: @Sendable (StreamConnection) -> Void
  let id: UInt32
  let port: UInt16
  let transport: TransportKind
}

/// One end of an ordered, reliable byte stream (TCP, or TLS as far as the trace is concerned).
///
/// While the path is up, bytes arrive in order and exactly once; a segment the link "loses" is
/// delivered late, after a retransmission delay (`max(200 ms, 2 × latency)`), as TCP would. A
/// segment that reaches a crashed host, a partitioned link or a closed peer resets the
/// connection: the sender learns it one return trip later.
public final class StreamConnection: @unchecked Sendable {
  /// The states a connection goes through.
  public enum State: Sendable, Equatable {
    case connecting, open, closed
  }

  unowned let network: Network
  /// Unique within the network; the `stream` field of its trace events.
  public let id: Int
  let hostIndex: Int
  public let local: SocketAddress
  public let remote: SocketAddress
  public let transport: TransportKind
  public internal(set) var state: State
  var peerID: Int?
  var targetIndex: Int?
  /// Arrival time at the peer of the last segment sent, so later ones never overtake it.
  var lastArrivalAtPeer: Int64 = 0
  /// Receives this connection's events on the driving thread. Set it in the listener's
  /// `accept` callback (for accepted connections) or pass it to `connect`.
  public var onEvent: (@Sendable (StreamEvent) -> Void)?

  init(
    network: Network, id: Int, hostIndex: Int, local: SocketAddress, remote: SocketAddress,
    transport: TransportKind, state: State
  ) {
    self.network = network
    self.id = id
    self.hostIndex = hostIndex
    self.local = local
    self.remote = remote
    self.transport = transport
    self.state = state
  }

  /// Sends bytes; they are cut into segments that fit the link's MTU.
  public func send(_ bytes: [UInt8]) throws(NetworkError) {
    guard state == .open else { throw .closed }
    network.sendSegments(self, bytes)
  }

  /// Closes the connection in an orderly way: the peer sees `.closed` after the bytes already
  /// sent.
  public func close() {
    guard state != .closed else { return }
    state = .closed
    network.closeConnection(self)
  }
}

extension Network {
  /// Listens for stream connections on `host` at `port`.
  public func listen(
    host name: String, port: UInt16, transport: TransportKind = .tcp, ipv6: Bool = false,
    accept: @escaping @Sendable (StreamConnection) -> Void
  ) throws(NetworkError) -> StreamListener {
    let index = try index(of: name)
    guard hosts[index].isUp else { throw .hostDown(name) }
    guard let address = hosts[index].address(ipv6: ipv6) else {
      throw .noAddress(host: name, ipv6: ipv6)
    }
    guard listeningPoint(on: index, port: port) == nil else {
      throw .portInUse(host: name, port: port)
    }
    let id = makeListenerID()
    hosts[index].listeners.append(
      ListeningPoint(accept: accept, id: id, port: port, transport: transport))
    return StreamListener(
      network: self, hostIndex: index, id: id, local: SocketAddress(address, port),
      transport: transport)
  }

  /// Opens a stream from `host` (an ephemeral port) to `remote`. The result is `.connecting`;
  /// `onEvent` later gets `.connected` or `.refused`.
  public func connect(
    from name: String, to remote: SocketAddress, transport: TransportKind = .tcp,
    onEvent: @escaping @Sendable (StreamEvent) -> Void
  ) throws(NetworkError) -> StreamConnection {
    let index = try index(of: name)
    guard hosts[index].isUp else { throw .hostDown(name) }
    let ipv6 = remote.address.isV6
    guard let address = hosts[index].address(ipv6: ipv6) else {
      throw .noAddress(host: name, ipv6: ipv6)
    }
    let client = StreamConnection(
      network: self, id: makeConnectionID(), hostIndex: index,
      local: SocketAddress(address, ephemeralPort(index)), remote: remote, transport: transport,
      state: .connecting)
    client.onEvent = onEvent
    connections[client.id] = client
    recordStream("connect", client.local, remote, transport, client.id)
    guard let target = host(for: remote.address)?.index else {
      refuse(client, reason: "no-route", after: 0)
      return client
    }
    client.targetIndex = target
    if isBlocked(index, target) {
      refuse(client, reason: "partition", after: 0)
      return client
    }
    let forward = oneWayDelay(index, target)
    beginNetworkEvent()
    simulation.schedule(after: .microseconds(forward)) { [self] in
      endNetworkEvent()
      synArrives(client, at: target)
    }
    return client
  }

  private func synArrives(_ client: StreamConnection, at target: Int) {
    guard client.state == .connecting else { return }
    let back = oneWayDelay(target, client.hostIndex)
    guard hosts[target].isUp else { return refuse(client, reason: "host-down", after: back) }
    guard stillAt(client.remote.address, target) else {
      return refuse(client, reason: "no-route", after: back)
    }
    if isBlocked(client.hostIndex, target) {
      return refuse(client, reason: "partition", after: back)
    }
    guard let listener = listeningPoint(on: target, port: client.remote.port) else {
      return refuse(client, reason: "port-unreachable", after: back)
    }
    let server = StreamConnection(
      network: self, id: makeConnectionID(), hostIndex: target, local: client.remote,
      remote: client.local, transport: client.transport, state: .open)
    server.peerID = client.id
    server.targetIndex = client.hostIndex
    client.peerID = server.id
    let established = simulation.now.microseconds + back
    server.lastArrivalAtPeer = established
    connections[server.id] = server
    recordStream("accept", client.local, client.remote, client.transport, server.id)
    listener.accept(server)
    beginNetworkEvent()
    simulation.schedule(at: SimInstant(microseconds: established)) { [self] in
      endNetworkEvent()
      guard client.state == .connecting else { return }
      client.state = .open
      recordStream("established", client.remote, client.local, client.transport, client.id)
      client.onEvent?(.connected)
    }
  }

  private func refuse(_ client: StreamConnection, reason: String, after delay: Int64) {
    beginNetworkEvent()
    simulation.schedule(after: .microseconds(delay)) { [self] in
      endNetworkEvent()
      guard client.state == .connecting else { return }
      client.state = .closed
      connections[client.id] = nil
      recordStream(
        "refused", client.remote, client.local, client.transport, client.id,
        [("reason", .string(reason))])
      client.onEvent?(.refused(reason: reason))
    }
  }

  private func oneWayDelay(_ from: Int, _ to: Int) -> Int64 {
    let link = conditions(from, to)
    guard link.jitter.draws else { return link.latency.microsecondsValue }
    return link.latency.microsecondsValue + withLinkRandom(from, to) { link.jitter.draw(&$0) }
  }

  func sendSegments(_ connection: StreamConnection, _ bytes: [UInt8]) {
    guard let target = connection.targetIndex else { return }
    let link = conditions(connection.hostIndex, target)
    let headers = connection.remote.address.isV6 ? 60 : 40
    let segmentSize = max(1, link.mtu - headers)
    var start = 0
    repeat {
      let end = min(bytes.count, start + segmentSize)
      let segment = Array(bytes[start..<end])
      start = end
      let packet = nextPacket()
      record(
        "send", from: connection.local, to: connection.remote, transport: connection.transport,
        payload: segment,
        fields: [("packet", .integer(packet)), ("stream", .integer(Int64(connection.id)))])
      let base = link.latency.microsecondsValue
      let (delay, retransmitted) =
        !link.segmentsDraw
        ? (base, false)
        : withLinkRandom(connection.hostIndex, target) { random -> (Int64, Bool) in
          var delay = base + link.jitter.draw(&random)
          let lost = random.chance(link.lossProbability)
          if lost { delay += max(200_000, 2 * base) }
          return (delay, lost)
        }
      let arrival = max(simulation.now.microseconds + delay, connection.lastArrivalAtPeer)
      connection.lastArrivalAtPeer = arrival
      beginNetworkEvent()
      simulation.schedule(at: SimInstant(microseconds: arrival)) { [self] in
        endNetworkEvent()
        segmentArrives(connection, segment, packet: packet, target: target, retransmitted)
      }
    } while start < bytes.count
  }

  private func segmentArrives(
    _ sender: StreamConnection, _ segment: [UInt8], packet: Int64, target: Int,
    _ retransmitted: Bool
  ) {
    var fields: [(String, TraceValue)] = [
      ("packet", .integer(packet)), ("stream", .integer(Int64(sender.id))),
    ]
    var reason: String?
    if !hosts[target].isUp {
      reason = "host-down"
    } else if isBlocked(sender.hostIndex, target) {
      reason = "partition"
    } else if sender.peerID.flatMap({ connections[$0] }) == nil {
      reason = "closed"
    }
    if let reason {
      fields.append(("reason", .string(reason)))
      record(
        "drop", from: sender.local, to: sender.remote, transport: sender.transport,
        payload: segment, fields: fields)
      resetLater(sender, reason: reason, after: oneWayDelay(target, sender.hostIndex))
      return
    }
    if retransmitted { fields.append(("retransmitted", .bool(true))) }
    record(
      "deliver", from: sender.local, to: sender.remote, transport: sender.transport,
      payload: segment, fields: fields)
    if let peer = sender.peerID.flatMap({ connections[$0] }) { peer.onEvent?(.data(segment)) }
  }

  private func resetLater(_ connection: StreamConnection, reason: String, after delay: Int64) {
    beginNetworkEvent()
    simulation.schedule(after: .microseconds(delay)) { [self] in
      endNetworkEvent()
      guard connection.state != .closed else { return }
      connection.state = .closed
      connections[connection.id] = nil
      recordStream(
        "reset", connection.remote, connection.local, connection.transport, connection.id,
        [("reason", .string(reason))])
      connection.onEvent?(.reset(reason: reason))
    }
  }

  func closeConnection(_ connection: StreamConnection) {
    connections[connection.id] = nil
    recordStream("close", connection.local, connection.remote, connection.transport, connection.id)
    guard let target = connection.targetIndex, let peerID = connection.peerID else { return }
    let arrival = max(
      simulation.now.microseconds + oneWayDelay(connection.hostIndex, target),
      connection.lastArrivalAtPeer)
    beginNetworkEvent()
    simulation.schedule(at: SimInstant(microseconds: arrival)) { [self] in
      endNetworkEvent()
      guard let peer = connections[peerID], peer.state != .closed else { return }
      peer.state = .closed
      connections[peer.id] = nil
      recordStream("closed", connection.local, connection.remote, connection.transport, peer.id)
      peer.onEvent?(.closed)
    }
  }

  private func recordStream(
    _ event: String, _ from: SocketAddress, _ to: SocketAddress, _ transport: TransportKind,
    _ stream: Int, _ extra: [(String, TraceValue)] = []
  ) {
    trace.record(
      TraceEvent(
        time: simulation.now.microseconds, event: event, from: from, to: to,
        transport: transport, fields: [("stream", .integer(Int64(stream)))] + extra))
  }
}
