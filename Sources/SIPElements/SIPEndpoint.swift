public import SIPCore
public import SIPTransaction
public import SIPTransport
public import Simulation

/// The transport and transaction layers of one SIP element on a simulated host (RFC 3261 §17,
/// §18): listening points for UDP, TCP and TLS, Via handling, response routing, connection
/// reuse, and a ``TransactionLayer`` whose actions it carries out. Cores (a user agent, a proxy)
/// sit on top: they send requests and responses through it and get ``TransactionEvent``s back.
///
/// A thin shell, as ARCHITECTURE.md asks: the rules live in the pure layers; this actor only
/// binds sockets, arms timers and writes the trace. It is pinned to the simulation's executor,
/// so the network and timers call into it without a `Task`.
public actor SIPEndpoint: SimulationActor, TimerTarget {
  /// The simulation's executor, which the actor is pinned to.
  public nonisolated let simulationExecutor: SimulationExecutor
  public nonisolated var unownedExecutor: UnownedSerialExecutor {
    simulationExecutor.asUnownedSerialExecutor()
  }
  public nonisolated let network: Network
  /// The host this endpoint runs on (the trace's `element`).
  public nonisolated let hostName: String
  /// The address and port of its listening points (`sent-by` in its Vias).
  ///
  /// Changed only when its host moves (``Simulation/NetworkChange/move(_:to:)``), by the
  /// host's restart hook, on the driving thread, which is where every element that reads it
  /// runs (they share the simulation's executor): read without a hop, as a constant was, and
  /// without a lock or a run-time exclusivity check on the hot path (every Via written or
  /// checked reads it; the checks cost 0.4% of a transaction).
  @exclusivity(unchecked) public nonisolated(unsafe) private(set) var address: SocketAddress
  /// `address`'s IP as a Via's sent-by and a SIP URI's host write it (an IPv6 address in
  /// brackets, §25.1's IPv6reference), made once per address: every Via this endpoint writes
  /// or checks carries it.
  @exclusivity(unchecked) public nonisolated(unsafe) private(set) var addressText: String
  public nonisolated var timers: TimerSettings { settings.timers }
  /// How long an unused stream connection stays open before the endpoint closes it.
  public nonisolated var connectionIdleTimeout: Duration { settings.connectionIdleTimeout }
  /// A stateless element's endpoint (§16.11): no transactions; every request and response
  /// goes to the core as it arrives.
  public nonisolated var isStateless: Bool { settings.isStateless }
  /// The three above, shared by the endpoints of a network made with equal values (a copy
  /// each was 56 bytes of every agent).
  nonisolated let settings: Settings

  final class Settings: Sendable {
    var timers: TimerSettings { timerBox.settings }
    /// The timers, also shared by the endpoints' transaction layers.
    let timerBox: TimerSettingsBox
    let connectionIdleTimeout: Duration
    let isStateless: Bool

    init(timers: TimerSettings, connectionIdleTimeout: Duration, isStateless: Bool) {
      timerBox = TimerSettingsBox(timers)
      self.connectionIdleTimeout = connectionIdleTimeout
      self.isStateless = isStateless
    }

    static func shared(
      _ timers: TimerSettings, _ connectionIdleTimeout: Duration, _ isStateless: Bool,
      on network: Network
    ) -> Settings {
      SharedSettings.box(
        on: network,
        reusable: {
          $0.timers == timers && $0.connectionIdleTimeout == connectionIdleTimeout
            && $0.isStateless == isStateless
        },
        make: {
          Settings(
            timers: timers, connectionIdleTimeout: connectionIdleTimeout, isStateless: isStateless)
        })
    }
  }

  // The state every message and timer touches is `@exclusivity(unchecked)`: an actor's stored
  // properties are checked at run time like a class's (a tenth of a timer's cost), and here no
  // access is ever held across a call out (the layer is pure; its actions are carried out after
  // it returns).
  @exclusivity(unchecked) var layer: TransactionLayer
  @exclusivity(unchecked) var branches: SimRandom
  /// Room for the layer's actions (see `withLayer`), and a second for an event nested in
  /// another's (a core answering from its handler: every request a server receives).
  @exclusivity(unchecked) var actionRoom: [TransactionLayerAction] = []
  @exclusivity(unchecked) var nestedActionRoom: [TransactionLayerAction] = []
  /// Transport errors found while the endpoint carries out the layer's actions, to report once
  /// they are all carried out (see `transportError(for:)`); nil while it carries none out.
  @exclusivity(unchecked) var deferredTransportErrors: [TransactionKey]?
  var udp: DatagramSocket?
  var core: (@Sendable (isolated SIPEndpoint, TransactionEvent) -> Void)?

  // Timers: each armed timer has a slot in `timerSlots` at the number the layer gave it (the
  // layer reuses a number once its timer is cancelled or fires), and its scheduler token names
  // the slot and the slot's generation here, so a firing finds its timer without hashing, and
  // a firing the endpoint did not expect (the slot freed or reused since) finds nothing. A
  // cancel names the slot too: no table of (transaction, timer) names, which cost a probe and
  // a removal per timer in a table as big as the live transactions. The endpoint carries out
  // the layer's actions in the order the layer made them (see `withLayer`), so the slots here
  // are the layer's.
  struct ArmedTimer {
    var name: TimerName
    var handle: TimerHandle
    var generation: UInt32
    var isArmed: Bool

    /// Whether this slot's timer is `timer` of `key` (keys compare by reference first).
    func names(_ timer: TransactionTimer, of key: TransactionKey) -> Bool {
      name.timer == timer && name.key == key
    }
  }
  @exclusivity(unchecked) var timerSlots: [ArmedTimer] = []

  // Stream connections, by remote address and transport.
  struct ConnectionKey: Hashable {
    var remote: SocketAddress
    var transport: SIPTransportProtocol
  }
  final class Connection {
    let stream: StreamConnection
    var framer = SIPStreamFramer()
    var isOpen: Bool
    var pending: [[UInt8]] = []
    /// Transactions that sent over this connection: told when it fails.
    var transactions: [TransactionKey] = []
    var lastActivity: Int64
    var idleCheckArmed = false
    init(stream: StreamConnection, isOpen: Bool, now: Int64) {
      self.stream = stream
      self.isOpen = isOpen
      lastActivity = now
    }

    /// What the endpoint knows of the connection: its own socket's state. Closed here means
    /// closed under it (a crash of its host): every close it makes or is told of removes the
    /// connection from `connections` at once.
    var state: HeldConnection {
      switch stream.state {
      case .connecting: .connecting
      case .open: .open
      case .closed: .closed
      }
    }
  }
  var connections: [ConnectionKey: Connection] = [:]

  /// Binds UDP and TCP on `port` and TLS on `port + 1` of `host` (the first IPv4 address).
  public init(
    network: Network, host: String, port: UInt16 = 5060, timers: TimerSettings = .rfc3261,
    connectionIdleTimeout: Duration = .seconds(32), stateless: Bool = false
  ) throws(NetworkError) {
    let simulation = network.simulation
    simulationExecutor = simulation.executor
    self.network = network
    hostName = host
    settings = Settings.shared(timers, connectionIdleTimeout, stateless, on: network)
    layer = TransactionLayer(sharing: settings.timerBox)
    branches = simulation.random(stream: "branches \(host)")
    let resolved = try network.host(named: host)
    guard let ip = resolved.addresses.first(where: { !$0.isV6 }) ?? resolved.addresses.first else {
      throw .noAddress(host: host, ipv6: false)
    }
    address = SocketAddress(ip, port)
    addressText = Self.hostText(ip)
    SIPTraceFields.install(on: network.trace)
    // The sockets call back into this actor; it does not exist yet, so they reach it through a
    // reference set once every stored property is.
    let reference = WeakBox<SIPEndpoint>()
    udp = try Self.bind(network, host: host, address: address, reference)
    // A crash closes every socket of the host; a restart brings the listening points back (the
    // element keeps its state: the model is a host cut off, not a reboot). The stream
    // connections the crash closed stay in `connections` until a send picks one (it is dropped
    // and a new one opened, see `dropClosed`) or the idle check drops it, failing the client
    // transactions still waiting on it. A move closes them too and runs the same hook with the
    // host's new address: the listening points open there, on the same ports, and every Via
    // and Contact written from then on names it.
    try network.onRestart(of: host) { host in
      reference.value?.onDrivingThread(passing: host) { endpoint, host in
        let ip = host.addresses.first(where: { !$0.isV6 }) ?? host.addresses.first
        let moved = ip.map { $0 != endpoint.address.address } ?? false
        let before = endpoint.addressText
        if moved, let ip {
          endpoint.address = SocketAddress(ip, endpoint.address.port)
          endpoint.addressText = Self.hostText(ip)
        }
        do {
          endpoint.udp = try Self.bind(
            endpoint.network, host: endpoint.hostName, address: endpoint.address, reference)
          endpoint.log(
            moved
              ? "moved: listening on \(endpoint.address)"
              : "restarted: listening again on \(endpoint.address)")
          if moved { endpoint.core?(endpoint, .moved(from: before)) }
        } catch {
          endpoint.log("restart failed to rebind: \(error)")
        }
      }
    }
    reference.value = self
  }

  /// `ip` as the host of a Via's sent-by or a SIP URI (§25.1): IPv6 in brackets.
  static func hostText(_ ip: IPAddress) -> String {
    ip.isV6 ? "[\(ip)]" : ip.description
  }

  /// Binds UDP and TCP on the address's port and TLS on the next, calling back into
  /// `reference`'s endpoint. The listeners are the host's (the network keeps them until the
  /// host crashes); the endpoint keeps no array of them.
  static func bind(
    _ network: Network, host: String, address: SocketAddress, _ reference: WeakBox<SIPEndpoint>
  ) throws(NetworkError) -> DatagramSocket {
    let port = address.port
    let ipv6 = address.address.isV6
    let udp = try network.bindDatagram(host: host, port: port, ipv6: ipv6) { datagram in
      reference.value?.onDrivingThread(passing: datagram) { endpoint, datagram in
        endpoint.received(datagram.payload, from: datagram.from, transport: .udp)
      }
    }
    // One closure for both listening points (it captures only the reference, so it needs no
    // context of its own): the stream says which transport it is.
    let accept: @Sendable (StreamConnection) -> Void = { stream in
      reference.value?.onDrivingThread {
        $0.accepted(stream, transport: stream.transport == .tls ? .tls : .tcp)
      }
    }
    _ = try network.listen(host: host, port: port, transport: .tcp, ipv6: ipv6, accept: accept)
    _ = try network.listen(
      host: host, port: port + 1, transport: .tls, ipv6: ipv6, accept: accept)
    return udp
  }

  /// Sets the core that gets the layer's ``TransactionEvent``s (the transaction user).
  public func setCore(_ core: @escaping @Sendable (isolated SIPEndpoint, TransactionEvent) -> Void)
  {
    self.core = core
  }

  /// The port of a listening point.
  public nonisolated func port(for transport: SIPTransportProtocol) -> Int {
    Int(address.port) + (transport == .tls ? 1 : 0)
  }

  // MARK: What is alive

  /// Live transactions, sorted by key.
  public var liveTransactions: [TransactionKey] { layer.liveKeys }
  /// Transaction timers armed.
  public var armedTimers: Int {
    var count = 0
    for slot in timerSlots.indices where timerSlots[slot].isArmed { count += 1 }
    return count
  }
  /// Open (or opening) stream connections.
  public var openConnections: Int { connections.count }
  /// The state of a transaction.
  public func state(of key: TransactionKey) -> TransactionState? { layer.state(of: key) }

  // MARK: Sending (§18.1.1, §18.2.2)

  /// Sends a request: puts a Via with a fresh branch on top, picks TCP instead of UDP when the
  /// request is within 200 bytes of the path MTU (§18.1.1), and starts its client transaction
  /// (none for ACK). Returns the transaction key, or nil for an ACK or a request it refused
  /// (the reason is in the trace).
  ///
  /// - Parameter branch: the branch to use instead of a fresh one: a CANCEL carries its
  ///   INVITE's (§9.1).
  @discardableResult
  public func sendRequest(
    _ request: consuming SIPMessage, to destination: SIPPeer, branch: String? = nil
  ) -> TransactionKey? {
    // Consuming: a caller that hands its request over (`consume`, or a last use) lets the Via
    // go on without copying the message's storage and fields.
    var peer = destination
    let branch = branch ?? TransportRules.newBranch(using: &branches)
    stampVia(&request, transport: peer.transport, branch: branch)
    if peer.transport == .udp,
      TransportRules.mustUseStream(
        messageSize: request.serializedCount, pathMTU: pathMTU(to: peer))
    {
      peer.transport = .tcp
      request.removeTopVia()
      stampVia(&request, transport: .tcp, branch: branch)
      log("request over \(peer) instead of UDP: within 200 bytes of the path MTU (§18.1.1)")
    }
    var key: TransactionKey?
    withLayer { layer, actions in
      layer.sendRequest(
        request, branch: branch, to: peer, reliable: peer.transport.isReliable, into: &actions)
      // The layer already computed the key (parsing the top Via): take it from `created`.
      for case .created(let created, _, _) in actions { key = created }
    }
    return key
  }

  /// Ends the transaction `key` at once, telling the core nothing (RFC 3261 §9.1: a UAC gives
  /// up the INVITE it cancelled when no final response came within 64·T1).
  public func abandon(_ key: TransactionKey) {
    withLayer { layer, actions in layer.abandon(key, into: &actions) }
  }

  /// Sends a response through the server transaction `key` (or the one its Via and CSeq name).
  public func respond(_ response: SIPMessage, in key: TransactionKey? = nil) {
    withLayer { layer, actions in layer.respond(response, in: key, into: &actions) }
  }

  /// Sends a request outside any transaction with the given branch in its new top Via: a
  /// stateless proxy's forwarding (§16.11), whose branch is computed from the request so a
  /// retransmission takes the same one.
  public func forwardStateless(_ request: SIPMessage, to destination: SIPPeer, branch: String) {
    var request = request
    stampVia(&request, transport: destination.transport, branch: branch)
    transmit(request, to: destination, transaction: nil)
  }

  /// Sends a response outside any transaction, where its top Via says (§18.2.2): a UAS answering
  /// a request it could not match (400), or a 2xx retransmitted after its transaction ended.
  public func sendStateless(_ response: SIPMessage) {
    transmit(response, to: nil, transaction: nil)
  }

  /// Puts this element's Via on top of `request` (§18.1.1), printed from its parts: what
  /// `TransportRules.via(sentBy:port:transport:branch:)` would build and print.
  func stampVia(_ request: inout SIPMessage, transport: SIPTransportProtocol, branch: String) {
    request.prepend(
      SIPHeaderField(
        viaTransport: transport.rawValue, host: addressText, port: port(for: transport),
        branch: branch, requestRport: true))
  }

  /// The MTU of the link to `peer` (a name resolved as the send will resolve it), nil when no
  /// host has its address.
  func pathMTU(to peer: SIPPeer) -> Int? {
    guard let udp, let remote = socketAddress(peer) else { return nil }
    return network.link(from: udp, to: remote.address)?.mtu
  }

  static func unbracketed(_ host: String) -> String {
    // Bytes, not Characters: every message sent asks.
    guard host.utf8.first == UInt8(ascii: "["), host.utf8.last == UInt8(ascii: "]") else {
      return host
    }
    return String(host.dropFirst().dropLast())
  }

  // MARK: Carrying out the layer's actions

  /// Runs `body` on the transaction layer with an empty action array, then carries the actions
  /// out, in the order the layer made them. The array is the endpoint's, reused from event to
  /// event while transactions live (an array per event was an allocation each); an event nested
  /// in another's actions (a core sending from its handler) finds it taken and uses a second
  /// one, and one nested deeper a new one. With no transaction left the rooms are given back:
  /// an idle agent keeps no array.
  ///
  /// Events inside another's actions: a core acts from its handler, and the layer tells the
  /// core last of an event's actions, so what the core does comes after them as it would
  /// outside. A send that fails at once is the other case: its transport error is reported
  /// once this event's actions are all carried out, a client transaction's as the next event
  /// and a server transaction's before whatever comes next in this one (see
  /// `transportError(for:)`).
  @inline(__always)
  func withLayer(_ body: (inout TransactionLayer, inout [TransactionLayerAction]) -> Void) {
    // The errors an outer event's actions found (nil outside any event) wait for its end.
    let outer = deferredTransportErrors
    deferredTransportErrors = []
    var actions: [TransactionLayerAction] = []
    swap(&actions, &actionRoom)
    if actions.capacity == 0 {
      swap(&actions, &nestedActionRoom)
      if actions.capacity == 0 { actions.reserveCapacity(8) }
    }
    body(&layer, &actions)
    perform(actions)
    if deferredTransportErrors?.isEmpty == false { reportDeferredTransportErrors() }
    deferredTransportErrors = outer
    let outermost = outer == nil
    guard layer.count > 0 else {
      // A nested event may have left its array here.
      if actionRoom.capacity > 0 { actionRoom = [] }
      if nestedActionRoom.capacity > 0 { nestedActionRoom = [] }
      if outermost { giveBackIdleTimerSlots() }
      return
    }
    // Last first (see the transaction layer's `giveBack`).
    while !actions.isEmpty { actions.removeLast() }
    if actionRoom.capacity == 0 {
      actionRoom = actions
    } else if nestedActionRoom.capacity == 0 {
      nestedActionRoom = actions
    }
  }

  /// Tells the layer that `key`'s transaction could not send (§17.1.1.2, §17.1.2.2, §17.2.4).
  ///
  /// Found while the endpoint carries out an event's actions (a send to no route fails at
  /// once), it is not reported there and then: that ended the transaction before the timer
  /// starts the layer had made with the send were carried out, and those armed timers for a
  /// dead transaction.
  ///
  /// A *client* transaction's error is its own event at the same instant, after the one that
  /// found it: the send was the core's (`sendRequest`), and reported inside it, it re-entered
  /// the core in the middle of its handler (a call ended before the line after its INVITE's
  /// send, a proxy's branch failed before its key was known), so every core had to guard what
  /// it wrote after each send. A *server* transaction's error waits only for the end of the
  /// event's actions: a core that answers 180 and then 200 from its handler has the 180's
  /// error reported while the transaction is still in Proceeding (later, it would reach the
  /// transaction in Accepted, which absorbs it, and the core never heard). No core acts on it
  /// beyond a line in the log (the user agent's; the proxy and registrar let it go).
  func transportError(for key: TransactionKey) {
    guard deferredTransportErrors != nil else {
      withLayer { layer, actions in layer.transportError(for: key, into: &actions) }
      return
    }
    guard key.role == .client else {
      deferredTransportErrors?.append(key)
      return
    }
    network.simulation.schedule(at: network.simulation.now, into: self) { endpoint in
      endpoint.withLayer { layer, actions in layer.transportError(for: key, into: &actions) }
    }
  }

  /// Reports the transport errors found while carrying out an event's actions, in the order
  /// they were found, then any their own actions found.
  func reportDeferredTransportErrors() {
    while let found = deferredTransportErrors, !found.isEmpty {
      deferredTransportErrors = []
      for key in found {
        var actions: [TransactionLayerAction] = []
        layer.transportError(for: key, into: &actions)
        perform(actions)
      }
    }
  }

  func perform(_ actions: [TransactionLayerAction]) {
    for action in actions {
      switch action {
      case .send(let message, let peer, let key):
        transmit(message, to: peer, transaction: key)
      case .startTimer(let key, let timer, let duration, let slot):
        arm(timer, of: key, after: duration, slot: slot)
      case .cancelTimer(let key, let timer, let slot):
        if cancelTimer(timer, of: key, in: slot) {
          record("timer-cancelled", [("transaction", .string(key.description)), timerField(timer)])
        }
      case .timerRefused(let key, let timer):
        logRefused(timer, of: key)
      case .timerFired(let key, let timer):
        record("timer-fired", [("transaction", .string(key.description)), timerField(timer)])
      case .created(let key, let kind, let state):
        record(
          "transaction-created",
          [
            ("transaction", .string(key.description)), ("kind", .string(kind.rawValue)),
            ("state", .string(state.rawValue)),
          ])
      case .stateChanged(let key, let from, let to):
        record(
          "transaction-state",
          [
            ("transaction", .string(key.description)), ("fromState", .string(from.rawValue)),
            ("toState", .string(to.rawValue)),
          ])
      case .destroyed(let key):
        record("transaction-destroyed", [("transaction", .string(key.description))])
      case .rejected(_, let reason):
        log("refused to send: \(reason)")
      case .toCore(let event):
        record("core", [("what", .string(event.description))])
        core?(self, event)
      }
    }
  }

  func timerField(_ timer: TransactionTimer) -> (String, TraceValue) {
    ("timer", .string(timer.rawValue))
  }

  func arm(
    _ timer: TransactionTimer, of key: TransactionKey, after duration: Duration, slot index: Int
  ) {
    let name = TimerName(key: key, timer: timer)
    if index < timerSlots.count {
      // The same timer armed again keeps its number: what was scheduled there is replaced.
      if timerSlots[index].isArmed {
        if !timerSlots[index].names(timer, of: key) { logSlotDisagreement(index, name) }
        network.simulation.cancel(timerSlots[index].handle)
      }
    } else {
      // Room for a transaction's few timers at once: grown one by one, the array was
      // allocated three times for each transaction of an otherwise idle agent.
      if timerSlots.capacity == 0 { timerSlots.reserveCapacity(4) }
      while timerSlots.count <= index {
        timerSlots.append(
          ArmedTimer(name: name, handle: TimerHandle.none, generation: 0, isArmed: false))
      }
    }
    let generation = timerSlots[index].generation &+ 1
    let token = UInt64(generation) << 32 | UInt64(index)
    let at = SimInstant(microseconds: network.simulation.now.microseconds + Self.micros(duration))
    let handle = network.simulation.schedule(at: at, target: self, token: token)
    timerSlots[index] = ArmedTimer(
      name: name, handle: handle, generation: generation, isArmed: true)
    record(
      "timer-armed",
      [
        ("transaction", .string(key.description)), timerField(timer),
        ("duration", .integer(Self.micros(duration))),
      ])
  }

  /// Cancels `timer` of `key`, armed in slot `index`; false when none is armed there, or another
  /// timer is (logged: the endpoint and its layer disagree).
  func cancelTimer(_ timer: TransactionTimer, of key: TransactionKey, in index: Int) -> Bool {
    // The layer cancels only what it armed, and a firing frees its slot here before the layer
    // hears of it: a cancel finding its slot empty, or holding another timer, is a bug.
    guard index < timerSlots.count, timerSlots[index].isArmed,
      timerSlots[index].names(timer, of: key)
    else {
      logSlotDisagreement(index, TimerName(key: key, timer: timer))
      return false
    }
    network.simulation.cancel(timerSlots[index].handle)
    timerSlots[index].isArmed = false
    return true
  }

  /// What starts a log line about timer slots that should never be written: the endpoint and
  /// its layer disagree about a slot, or the layer could not arm a timer. Scenario tests check
  /// that no trace holds one.
  public static let timerSlotTrouble = "timer slots (a bug):"

  /// Logs a timer the layer could not arm (out of line: the text is not built on the hot path).
  @inline(never)
  func logRefused(_ timer: TransactionTimer, of key: TransactionKey) {
    log(
      "\(Self.timerSlotTrouble) could not arm Timer \(timer.rawValue) of \(key): more timers at once than the layer holds"
    )
  }

  /// Logs a start or cancel naming a slot that holds another timer, or a cancel finding its
  /// slot empty: the endpoint carried out the layer's actions out of order. A cancel leaves the
  /// other timer alone; a start replaces it (it is lost, and only this line says so).
  @inline(never)
  func logSlotDisagreement(_ index: Int, _ name: TimerName) {
    let wanted = "Timer \(name.timer.rawValue) of \(name.key)"
    guard index < timerSlots.count, timerSlots[index].isArmed else {
      log("\(Self.timerSlotTrouble) slot \(index) is empty, not holding \(wanted)")
      return
    }
    let held = timerSlots[index].name
    log(
      "\(Self.timerSlotTrouble) slot \(index) holds Timer \(held.timer.rawValue) of \(held.key), not \(wanted)"
    )
  }

  /// Gives the timer slots' storage back once no transaction is left (the layer then numbers
  /// its slots from 0 again), at the end of the outermost event: a million idle agents would
  /// each keep a few hundred bytes. The storage stays while a transaction lives (an agent's
  /// response cancels Timers E and F and arms K in one event: given back at once, the slots
  /// were allocated twice per transaction). With no transaction left every timer has been
  /// cancelled or has fired; one still scheduled is cancelled, never left to fire into a slot
  /// given back.
  func giveBackIdleTimerSlots() {
    guard timerSlots.capacity > 0 else { return }
    for index in timerSlots.indices where timerSlots[index].isArmed {
      log(
        "\(Self.timerSlotTrouble) Timer \(timerSlots[index].name.timer.rawValue) of \(timerSlots[index].name.key) was still armed with no transaction left"
      )
      network.simulation.cancel(timerSlots[index].handle)
    }
    timerSlots = []
  }

  public nonisolated func timerFired(_ token: UInt64) {
    onDrivingThread(passing: token) { endpoint, token in endpoint.fire(token) }
  }

  func fire(_ token: UInt64) {
    let index = Int(truncatingIfNeeded: token & 0xFFFF_FFFF)
    guard index < timerSlots.count, timerSlots[index].isArmed,
      timerSlots[index].generation == UInt32(truncatingIfNeeded: token >> 32)
    else { return }
    let name = timerSlots[index].name
    timerSlots[index].isArmed = false
    withLayer { layer, actions in layer.timerFired(name.timer, of: name.key, into: &actions) }
  }

  /// Whole microseconds of `duration` (the kernel's unit of virtual time).
  public static func micros(_ duration: Duration) -> Int64 { duration.wholeMicroseconds }

  /// Serializes and sends: requests to their peer, responses over the connection the request
  /// came on when it is still open, else where §18.2.2 and RFC 3581 say.
  func transmit(_ message: SIPMessage, to peer: SIPPeer?, transaction key: TransactionKey?) {
    let bytes = message.serialized()
    var destination: SIPPeer?
    if message.isRequest {
      destination = peer
    } else if let peer, !peer.transport.isReliable {
      // A server transaction's response over UDP: its peer is where the request's Via said to
      // reply (see `deliver`).
      destination = peer
    } else {
      // A server transaction knows its request's source; a response sent outside one finds it
      // from the top Via (`received` and `rport`, as this endpoint stamps them).
      let source = peer ?? TransportRules.responseDestination(for: message)
      if let source, source.transport.isReliable {
        destination = reliableResponseDestination(message, source: source, transaction: key)
      } else {
        destination = source
      }
    }
    guard let destination, let remote = socketAddress(destination) else {
      log("no destination for \(message.startLineText)")
      if let key { transportError(for: key) }
      return
    }
    if destination.transport == .udp {
      do {
        guard let udp else { throw NetworkError.closed }
        try udp.send(bytes, to: remote)
      } catch {
        log("UDP send failed: \(error)")
        if let key { transportError(for: key) }
      }
      return
    }
    sendOverStream(bytes, to: remote, transport: destination.transport, transaction: key)
  }

  /// §18.2.2: the connection the request came on while it is open, else a new one to the top
  /// Via's sent-by port (`TransportRules.reliableResponseDestination`). A connection to the
  /// source that this host's crash closed is dropped on the way (see `dropClosed`).
  func reliableResponseDestination(
    _ response: SIPMessage, source: SIPPeer, transaction key: TransactionKey?
  ) -> SIPPeer? {
    let connectionKey = socketAddress(source).map {
      ConnectionKey(remote: $0, transport: source.transport)
    }
    let held = connectionKey.flatMap { connections[$0] }?.state
    if held == .closed, let connectionKey { dropClosed(connectionKey, sparing: key) }
    return TransportRules.reliableResponseDestination(
      topVia: response.topVia, source: source, held: held)
  }

  func socketAddress(_ peer: SIPPeer) -> SocketAddress? {
    if let ip = IPAddress(Self.unbracketed(peer.host)), let port = UInt16(exactly: peer.port) {
      return SocketAddress(ip, port)
    }
    // A name: the name service (A records; SRV is the core's business, RFC 3263).
    guard let ip = network.resolveFirst(peer.host), let port = UInt16(exactly: peer.port) else {
      return nil
    }
    return SocketAddress(ip, port)
  }

  // MARK: Streams (§18.3: framing by Content-Length; connection reuse)

  func sendOverStream(
    _ bytes: [UInt8], to remote: SocketAddress, transport: SIPTransportProtocol,
    transaction key: TransactionKey?
  ) {
    let connectionKey = ConnectionKey(remote: remote, transport: transport)
    var held = connections[connectionKey]
    if let dead = held, !TransportRules.reuses(dead.state) {
      // This host crashed under it: a new connection, not a failure (§18).
      dropClosed(connectionKey, sparing: key)
      held = nil
    }
    let connection: Connection
    if let held {
      connection = held
    } else {
      do {
        let stream = try network.connect(
          from: hostName, to: remote, transport: transport == .tls ? .tls : .tcp
        ) { [self] event in
          self.onDrivingThread(passing: (event, connectionKey)) { endpoint, event in
            endpoint.streamEvent(event.0, key: event.1)
          }
        }
        connection = Connection(
          stream: stream, isOpen: false, now: network.simulation.now.microseconds)
        connections[connectionKey] = connection
      } catch {
        log("connect to \(remote) failed: \(error)")
        if let key { transportError(for: key) }
        return
      }
    }
    if let key, !connection.transactions.contains(key) { connection.transactions.append(key) }
    touch(connection, key: connectionKey)
    if connection.isOpen {
      do {
        try connection.stream.send(bytes)
      } catch {
        fail(connectionKey, reason: "\(error)")
      }
    } else {
      connection.pending.append(bytes)
    }
  }

  func accepted(_ stream: StreamConnection, transport: SIPTransportProtocol) {
    let key = ConnectionKey(remote: stream.remote, transport: transport)
    let connection = Connection(
      stream: stream, isOpen: true, now: network.simulation.now.microseconds)
    connections[key] = connection
    stream.onEvent = { [self] event in
      self.onDrivingThread(passing: (event, key)) { endpoint, event in
        endpoint.streamEvent(event.0, key: event.1)
      }
    }
    touch(connection, key: key)
  }

  func streamEvent(_ event: StreamEvent, key: ConnectionKey) {
    guard let connection = connections[key] else { return }
    switch event {
    case .connected:
      connection.isOpen = true
      let pending = connection.pending
      connection.pending = []
      for bytes in pending {
        do {
          try connection.stream.send(bytes)
        } catch {
          fail(key, reason: "\(error)")
          return
        }
      }
    case .refused(let reason):
      fail(key, reason: "connection refused (\(reason))")
    case .reset(let reason):
      fail(key, reason: "connection reset (\(reason))")
    case .closed:
      connections[key] = nil
      connection.stream.close()
    case .data(let bytes):
      touch(connection, key: key)
      connection.framer.append(bytes)
      while true {
        do {
          guard let message = try connection.framer.next() else { break }
          deliver(message, from: key.remote, transport: key.transport)
        } catch {
          log("stream from \(key.remote) closed: \(error)")
          connections[key] = nil
          connection.stream.close()
          return
        }
      }
    }
  }

  /// A connection failed: every transaction that used it gets a transport error (§17.1.1.2,
  /// §17.1.2.2, §17.2.4), in the order they used it, but `sparing`, which is sending over
  /// another connection.
  func fail(
    _ key: ConnectionKey, reason: String, sparing: TransactionKey? = nil,
    sparingServers: Bool = false
  ) {
    guard let connection = connections.removeValue(forKey: key) else { return }
    log("\(key.transport.rawValue) to \(key.remote): \(reason)")
    connection.stream.close()
    for transaction in connection.transactions where transaction != sparing {
      if sparingServers && transaction.role == .server { continue }
      transportError(for: transaction)
    }
  }

  /// Drops a connection this host's crash or move closed under the endpoint (the network tells
  /// no socket owner; the endpoint finds out when a send or the idle check picks the
  /// connection). It failed like any
  /// other: the client transactions that used it get a transport error (their responses would
  /// come on it), but not `sparing`, whose message goes over a new connection, nor any server
  /// transaction, whose responses can go over a new one too (§18.2.2).
  func dropClosed(_ key: ConnectionKey, sparing: TransactionKey?) {
    fail(
      key, reason: "closed when this host crashed or moved", sparing: sparing,
      sparingServers: true)
  }

  func touch(_ connection: Connection, key: ConnectionKey) {
    connection.lastActivity = network.simulation.now.microseconds
    guard !connection.idleCheckArmed else { return }
    armIdleCheck(connection, key: key)
  }

  /// Arms the connection's one idle check for the idle timeout after its last activity. A
  /// check that finds later activity re-arms from that activity, not from the check's own
  /// instant: a connection closes the idle timeout after its last message, not up to twice it.
  private func armIdleCheck(_ connection: Connection, key: ConnectionKey) {
    connection.idleCheckArmed = true
    let at = SimInstant(
      microseconds: connection.lastActivity + Self.micros(connectionIdleTimeout))
    network.simulation.schedule(at: at, into: self) { endpoint in
      endpoint.idleCheck(key)
    }
  }

  func idleCheck(_ key: ConnectionKey) {
    guard let connection = connections[key] else { return }
    connection.idleCheckArmed = false
    let idleUntil = connection.lastActivity + Self.micros(connectionIdleTimeout)
    if connection.state == .closed, network.simulation.now.microseconds >= idleUntil {
      // Closed under the endpoint (its host crashed or moved) and picked by no send since. A
      // client transaction still alive waits for a response its server writes on the dead
      // connection, where it is lost (only a UAS's 2xx retransmission, after the reset, comes
      // over a new one): an INVITE's in Proceeding, which has no timer, would wait for ever.
      // Dropped as a send would drop it: its client transactions get a transport error (§18.4).
      dropClosed(key, sparing: nil)
      return
    }
    let busy = connection.transactions.contains { layer.state(of: $0) != nil }
    if network.simulation.now.microseconds >= idleUntil && !busy {
      connections[key] = nil
      connection.stream.close()
      log("closed idle \(key.transport.rawValue) connection to \(key.remote)")
    } else {
      connection.transactions.removeAll { layer.state(of: $0) == nil }
      // A transaction still alive on it is use: the timeout runs again from now. Otherwise
      // it runs from the last message.
      if busy { connection.lastActivity = network.simulation.now.microseconds }
      armIdleCheck(connection, key: key)
    }
  }

  // MARK: Receiving (§18.1.2, §18.2.1)

  func received(_ bytes: [UInt8], from source: SocketAddress, transport: SIPTransportProtocol) {
    let message: SIPMessage
    do {
      message = try SIPMessage.parse(bytes)
    } catch {
      log("discarded an unparsable message from \(source): \(error)")
      return
    }
    // Handed over, not copied: a request is stamped (`received`, `rport`) in place, and with a
    // second reference alive the stamp copied the message's storage and its fields array.
    deliver(consume message, from: source, transport: transport)
  }

  func deliver(
    _ message: consuming SIPMessage, from source: SocketAddress, transport: SIPTransportProtocol
  ) {
    // A response's top Via as a client reads it (§18.1.2: sent-by ours? its branch), from its
    // bytes when it has the usual form.
    if !message.isRequest, !isStateless,
      let (isOurs, branch) = message.topViaSentBy(host: addressText, port: port(for: transport))
    {
      guard isOurs else {
        log("discarded a response whose top Via is not this element's: \(message.startLineText)")
        return
      }
      withLayer { layer, actions in layer.receiveResponse(message, branch: branch, into: &actions) }
      return
    }
    // The source as a sent-by host is written (IPv6 in brackets): compared with the Via's
    // host, and stamped as its `received` in the form this stack's parser reads (RFC 5118
    // §4.5 has both forms of an IPv6 `received`).
    let peer = SIPPeer(
      host: Self.hostText(source.address), port: Int(source.port), transport: transport)
    // The top Via is parsed once per message: the transport and the transaction layer share it.
    var topVia = message.topVia
    var replyTo = peer
    if message.isRequest {
      // §18.2.2: responses to a datagram go where the stamped top Via says; worked out once
      // here for every response the server transaction sends.
      var destination: SIPPeer?
      if let via = topVia, via.hasMagicCookie {
        // Keyed by branch and sent-by, which the stamp leaves alone: the parsed Via stays as
        // it came and the destination comes from it and the stamp.
        let stamp = TransportRules.stampReceived(&message, leaving: via, source: peer)
        destination = TransportRules.responseDestination(topVia: via, stamp: stamp)
      } else {
        // An RFC 2543 request is keyed by its whole (stamped) top Via.
        TransportRules.stampReceived(&message, topVia: &topVia, source: peer)
        destination = TransportRules.responseDestination(topVia: topVia)
      }
      if transport == .udp, let destination { replyTo = destination }
    } else if !TransportRules.isForUs(
      topVia: topVia, sentBy: addressText, port: port(for: transport))
    {
      // §18.1.2: a response whose top Via is not ours is discarded.
      log("discarded a response whose top Via is not this element's: \(message.startLineText)")
      return
    }
    if isStateless {
      let event: TransactionEvent =
        message.isRequest ? .request(message, transaction: nil) : .strayResponse(message)
      record("core", [("what", .string("\(event)"))])
      core?(self, event)
      return
    }
    withLayer { layer, actions in
      layer.receive(
        message, topVia: topVia, from: replyTo, reliable: transport.isReliable, into: &actions)
    }
  }

  // MARK: Trace

  func record(_ event: String, _ fields: @autoclosure () -> [(String, TraceValue)]) {
    ElementTrace(network: network, element: hostName).record(event, fields())
  }

  func log(_ text: @autoclosure () -> String) {
    record("log", [("text", .string(text()))])
  }
}

/// Adds the SIP keys to packet events (`summary`, `callId`, `cseq`, `branch`) by parsing their
/// payload, so a ladder or a query can tell messages apart without parsing again.
public enum SIPTraceFields {
  /// Installs the annotator once per trace.
  public static func install(on trace: Trace) {
    trace.addAnnotator(named: "sip") { event in
      guard let payload = event.payload, event.transport != nil,
        let message = try? SIPMessage.parse(payload)
      else { return }
      event.fields.append(("summary", .string(message.startLineText)))
      if let callID = message.callID { event.fields.append(("callId", .string(callID))) }
      if let cseq = message.cseq { event.fields.append(("cseq", .string(cseq.description))) }
      if let branch = message.topVia?.branch { event.fields.append(("branch", .string(branch))) }
    }
  }
}
