/// Why a network call was refused.
public enum NetworkError: Error, Equatable, Sendable, CustomStringConvertible {
  case unknownHost(String)
  case duplicateHost(String)
  case addressInUse(String)
  case portInUse(host: String, port: UInt16)
  case hostDown(String)
  case closed
  case noAddress(host: String, ipv6: Bool)

  public var description: String {
    switch self {
    case .unknownHost(let name): return "unknown host '\(name)'"
    case .duplicateHost(let name): return "a host named '\(name)' already exists"
    case .addressInUse(let address): return "address \(address) already belongs to another host"
    case .portInUse(let host, let port): return "port \(port) on host '\(host)' is already bound"
    case .hostDown(let name): return "host '\(name)' is down"
    case .closed: return "the socket or connection is closed"
    case .noAddress(let host, let ipv6):
      return "host '\(host)' has no \(ipv6 ? "IPv6" : "IPv4") address"
    }
  }
}

/// A host of the simulated network, as callers see it.
public struct Host: Sendable, Hashable {
  /// Index in the network's host table (stable: hosts are never removed).
  public let index: Int
  /// The host's unique name (also its stream name for random draws and its default DNS name).
  public let name: String
  /// The host's addresses; the first is used when a socket needs a source address.
  public let addresses: [IPAddress]
}

/// A datagram as it arrives.
public struct Datagram: Sendable, Equatable {
  public var from: SocketAddress
  public var to: SocketAddress
  public var payload: [UInt8]
}

/// A scheduled or immediate change of the network (ARCHITECTURE.md, "Network model").
public enum NetworkChange: Sendable, Equatable {
  /// Cut the link between two hosts in both directions.
  case partition(String, String)
  /// Cut only the direction `from` → `to`.
  case partitionOneWay(from: String, to: String)
  /// Mend both directions between two hosts.
  case repair(String, String)
  /// Mend only the direction `from` → `to`.
  case repairOneWay(from: String, to: String)
  /// Stop a host: its sockets and streams close, packets to it are dropped.
  case crash(String)
  /// Bring a crashed host back (with no sockets; its restart hooks rebind them).
  case restart(String)
  /// Give a host `address` in place of every address it had (RFC 3665 §3.7, "Bob changes IP
  /// address"): its sockets and streams close, as an interface going away would close them;
  /// packets still in flight to an old address find no host; its restart hooks run, so its
  /// elements bind again on the new address (at its restart, if the host is down). Name
  /// records keep the old address, as a real name service would until updated.
  case move(String, to: IPAddress)
  /// Override the conditions of the link `from` → `to`.
  case link(from: String, to: String, LinkConditions)
  /// Replace the default conditions of every link without an override.
  case defaultLink(LinkConditions)
}

/// What is still alive in a simulation: the "nothing left over" check of scenario tests.
public struct Leftovers: Sendable, Equatable, CustomStringConvertible {
  /// Datagrams and stream segments sent and not yet delivered or dropped.
  public var packetsInFlight: Int
  /// Events armed by elements and scenario code (timers, sleeps), not counting the network's own.
  public var timersArmed: Int
  /// Stream connections open (or connecting) on any host.
  public var openStreams: Int

  public var isEmpty: Bool { packetsInFlight == 0 && timersArmed == 0 && openStreams == 0 }

  public var description: String {
    "\(packetsInFlight) packets in flight, \(timersArmed) timers armed, \(openStreams) open streams"
  }
}

/// The simulated network: hosts, addresses, datagram sockets, ordered streams, a name service,
/// links with faults, partitions and crashes, and the trace of every packet.
///
/// It knows nothing about SIP: it moves bytes. Like the rest of a simulation it is used only from
/// the thread driving the simulation (jobs of pinned actors, scheduled callbacks and scenario
/// code run there), which is why it is `@unchecked Sendable` and takes no locks.
///
/// Fault model: a datagram crosses a link only if the link is up (not partitioned, both hosts
/// up) both when it leaves and when it arrives. Loss, duplication, reordering and delay are drawn
/// when it leaves, from the link's own random stream (`link A->B`), in a fixed order: loss, delay,
/// reorder, duplicate (and the copy's delay). Drops decided at send (`loss`, `mtu`,
/// `partition`, `no-route`) are traced then; drops decided at arrival (`partition`,
/// `host-down`, `port-unreachable`) are traced at arrival time.
public final class Network: TimerTarget, @unchecked Sendable {
  public let simulation: Simulation
  public let trace: Trace
  /// Conditions of every link without an override.
  @exclusivity(unchecked) public var defaultLink: LinkConditions

  struct HostState {
    /// Every host has an address (one is assigned when none is given); a second or more are
    /// rare, so the first sits in the record and only the others take an array.
    var primaryAddress: IPAddress
    // The small fields sit together in the bytes after the address (Swift lays fields out in
    // the order declared, and a lone 2-byte field after a large one cost 8 bytes of padding).
    var isUp = true
    /// The first bound datagram socket's port (0: none), beside `isUp`: an arrival finds the
    /// usual socket from the cache line it already loaded.
    var firstSocketPort: UInt16 = 0
    var nextEphemeralPort: UInt16 = 49152
    var otherAddresses: [IPAddress]
    /// A host has a handful of sockets: a short list searched by port beats hashing.
    var datagramSockets = SmallList<DatagramSocket>() {
      didSet { firstSocketPort = datagramSockets.first?.local.port ?? 0 }
    }
    /// A host listens on a port or two (an agent: TCP and TLS).
    var listeners = SmallList<ListeningPoint>()
    /// What to run when the host restarts, in the order registered: the first beside the
    /// record, the rest in an array (a host usually has one, its element's endpoint, and an
    /// array for it cost about 50 bytes a host).
    var firstRestartHook: (@Sendable (Host) -> Void)?
    var moreRestartHooks: [@Sendable (Host) -> Void] = []

    init(addresses: [IPAddress]) {
      primaryAddress = addresses.first ?? .v4(0)
      otherAddresses = Array(addresses.dropFirst())
    }

    var addresses: [IPAddress] { [primaryAddress] + otherAddresses }

    /// The first address of the family asked for.
    func address(ipv6: Bool) -> IPAddress? {
      if primaryAddress.isV6 == ipv6 { return primaryAddress }
      return otherAddresses.first { $0.isV6 == ipv6 }
    }
  }

  // The state touched by every packet is `@exclusivity(unchecked)`: only the driving thread
  // touches it, and no access is held across a call out (sockets' receive closures run after
  // the lookups). Checking each access dynamically was a fifth of the cost of a delivery.
  @exclusivity(unchecked) var hosts: [HostState] = []
  /// Each host's name and whether its first address is the one its index assigns, beside the
  /// records rather than in them: a send reads them for a random destination (to find its
  /// host from the address, to name a new link's stream), and from these short arrays that is
  /// no cache miss, where a host's record (136 bytes) was one.
  @exclusivity(unchecked) private(set) var hostNames: [String] = []
  @exclusivity(unchecked) private var firstAddressIsAssigned: [Bool] = []
  private var hostIndexByName: [String: Int] = [:] {
    didSet { lastResolved = nil }
  }
  /// IPv4 addresses (every packet looks one up) in an integer table, except a host's assigned
  /// address (`10.x.y.z` from its index), which is found from the address itself: a million
  /// agents' hosts took 33 bytes each in the table. IPv6 in a dictionary.
  @exclusivity(unchecked) private var hostIndexByV4 = IntegerKeyedTable<Int>()
  @exclusivity(unchecked) private var hostIndexByV6: [IPAddress: Int] = [:]
  @exclusivity(unchecked) private var linkOverrides: [UInt64: LinkConditions] = [:]
  @exclusivity(unchecked) private var linkRandoms = IntegerKeyedTable<SimRandom>()
  @exclusivity(unchecked) private var linkPrefixHashes: [UInt64] = []
  @exclusivity(unchecked) private var blockedLinks: Set<UInt64> = []
  private var addressRecords: [String: [IPAddress]] = [:] {
    didSet { lastResolved = nil }
  }
  /// The last name ``resolveFirst(_:)`` answered, and its answer: every message a sender sends
  /// to a name resolves it (twice for a request), and each lookup hashed the name. Forgotten
  /// whenever a host or an address record is added, and when a host moves.
  private var lastResolved: (name: String, address: IPAddress?)?
  private var serviceRecords: [String: [ServiceRecord]] = [:]
  private var pointerRecords: [String: [NamingAuthorityRecord]] = [:]
  var connections: [Int: StreamConnection] = [:]
  private var nextConnectionID = 1
  private var nextListenerID: UInt32 = 1
  @exclusivity(unchecked) private var nextPacketID: Int64 = 1
  /// Packets sent so far (datagrams and stream segments), for benchmarks and statistics.
  public var packetsSent: Int64 { nextPacketID - 1 }
  @exclusivity(unchecked) private var networkEventsPending = 0
  /// Whether any host has moved (``NetworkChange/move(_:to:)``): until one does, an arrival
  /// need not check that its destination address is still its host's.
  @exclusivity(unchecked) private var hostsHaveMoved = false
  /// Datagrams in flight, each scheduled as a token (its index here) instead of a closure: a
  /// closure was an allocation per packet, and its context a cold line at the arrival. Freed
  /// slots are reused last-freed first.
  @exclusivity(unchecked) private var flights: [Flight] = []
  @exclusivity(unchecked) private var freeFlights: [Int32] = []

  /// A rule every datagram passes before the link's own draws: how a scenario aims a fault at one
  /// message ("drop the first ACK"). The kernel knows nothing of what the bytes mean; the rule
  /// does. Its verdict is applied on top of the link (the link's random draws are made all the
  /// same, so a rule never shifts the draws of other packets). Drops are traced as `fault`.
  @exclusivity(unchecked) public var datagramFault: (@Sendable (Datagram) -> PacketFault)?

  /// Packets (datagrams and stream segments) sent and not yet delivered or dropped.
  @exclusivity(unchecked) public private(set) var packetsInFlight = 0

  /// Makes a network on `simulation`, recording into a new trace.
  public init(
    simulation: Simulation, defaultLink: LinkConditions = .perfect, trace: Trace = Trace()
  ) {
    self.simulation = simulation
    self.defaultLink = defaultLink
    self.trace = trace
  }

  // MARK: Hosts and names

  /// Adds a host. Without `addresses` it gets `10.x.y.z` from its index (10.0.0.1 first).
  @discardableResult
  public func addHost(_ name: String, addresses: [IPAddress] = []) throws(NetworkError) -> Host {
    guard hostIndexByName[name] == nil else { throw .duplicateHost(name) }
    let index = hosts.count
    var assigned = addresses
    if assigned.isEmpty { assigned = [Self.assignedAddress(index)] }
    for address in assigned where hostIndex(for: address) != nil {
      throw .addressInUse(address.description)
    }
    for (position, address) in assigned.enumerated() {
      switch address {
      case .v4(let value):
        // The first address, when it is the one the index assigns, is found without the table.
        if position > 0 || address != Self.assignedAddress(index) {
          hostIndexByV4.set(UInt64(value), to: index)
        }
      case .v6: hostIndexByV6[address] = index
      }
    }
    hostIndexByName[name] = index
    hosts.append(HostState(addresses: assigned))
    hostNames.append(name)
    firstAddressIsAssigned.append(assigned.first == Self.assignedAddress(index))
    return Host(index: index, name: name, addresses: assigned)
  }

  /// The first IPv4 address assigned (to the host of index 0) when a host is added without any.
  private static let firstAssigned: UInt32 = 0x0A00_0001

  /// `10.x.y.z` from the host's index: 10.0.0.1 for the first host.
  static func assignedAddress(_ index: Int) -> IPAddress {
    .v4(firstAssigned &+ UInt32(truncatingIfNeeded: index))
  }

  /// The host called `name`.
  public func host(named name: String) throws(NetworkError) -> Host {
    guard let index = hostIndexByName[name] else { throw .unknownHost(name) }
    return host(at: index)
  }

  /// The host owning `address`, if any.
  public func host(for address: IPAddress) -> Host? {
    hostIndex(for: address).map { host(at: $0) }
  }

  func hostIndex(for address: IPAddress) -> Int? {
    switch address {
    case .v4(let value):
      // The host the address is assigned to by index, if that host has it as its first address.
      let candidate = Int(value &- Self.firstAssigned)
      if candidate < firstAddressIsAssigned.count, firstAddressIsAssigned[candidate] {
        return candidate
      }
      // A negative index: an address a host moved away from.
      return hostIndexByV4[UInt64(value)].flatMap { $0 >= 0 ? $0 : nil }
    case .v6: return hostIndexByV6[address]
    }
  }

  /// Every host, in the order added.
  public var allHosts: [Host] { hosts.indices.map { host(at: $0) } }

  func host(at index: Int) -> Host {
    Host(index: index, name: hostNames[index], addresses: hosts[index].addresses)
  }

  /// Whether `host` is up (not crashed).
  public func isUp(_ host: String) throws(NetworkError) -> Bool {
    hosts[try index(of: host)].isUp
  }

  func index(of name: String) throws(NetworkError) -> Int {
    guard let index = hostIndexByName[name] else { throw .unknownHost(name) }
    return index
  }

  /// Registers a hook run when `host` restarts after a crash, or moves to a new address while
  /// up (``NetworkChange/move(_:to:)``), so its elements can bind again: the ``Host`` passed
  /// has the addresses it has now.
  public func onRestart(of host: String, _ hook: @escaping @Sendable (Host) -> Void)
    throws(NetworkError)
  {
    let index = try index(of: host)
    if hosts[index].firstRestartHook == nil {
      hosts[index].firstRestartHook = hook
    } else {
      hosts[index].moreRestartHooks.append(hook)
    }
  }

  /// Name service: an address record (`A`/`AAAA`) for `domain` (case-insensitive), appended to
  /// any already there.
  public func addAddressRecord(_ domain: String, _ addresses: [IPAddress]) {
    addressRecords[domain.lowercased(), default: []].append(contentsOf: addresses)
  }

  /// Name service: a service record (`SRV`, RFC 2782) such as `_sip._udp.biloxi.example.com`.
  public func addServiceRecord(_ record: ServiceRecord) {
    serviceRecords[record.name.lowercased(), default: []].append(record)
    hasServiceRecords = true
  }

  /// Name service: a naming authority pointer record (`NAPTR`, RFC 3403) for `record.name`
  /// (case-insensitive), kept after any already there. The store gives them no meaning: what a
  /// service field says, and in what order records are used, is the reader's business.
  public func addNamingAuthorityRecord(_ record: NamingAuthorityRecord) {
    pointerRecords[record.name.lowercased(), default: []].append(record)
    hasServiceRecords = true
  }

  /// The NAPTR records named `name`, in the order they were added.
  public func namingAuthorityRecords(_ name: String) -> [NamingAuthorityRecord] {
    pointerRecords[name.lowercased()] ?? []
  }

  /// Whether any SRV or NAPTR record exists: a reader that finds none can go straight to
  /// address records without a query per name (every request sent asks: a stored flag, read
  /// without a run-time exclusivity check, like the other state every message touches).
  @exclusivity(unchecked) public private(set) var hasServiceRecords = false

  /// Resolves a domain name to addresses: its address records, or else the host of that name.
  public func resolve(_ domain: String) -> [IPAddress] {
    if let records = addressRecords[Self.recordKey(domain)] { return records }
    if let index = hostIndexByName[domain] { return hosts[index].addresses }
    return []
  }

  /// The first address ``resolve(_:)`` gives, without making the array: what a sender needs
  /// for every message it sends to a name.
  public func resolveFirst(_ domain: String) -> IPAddress? {
    // The same name again (nearly always one string shared by every agent, so the comparison
    // ends at its first step) is answered without hashing it.
    if let last = lastResolved, last.name == domain { return last.address }
    let address: IPAddress?
    if !addressRecords.isEmpty, let records = addressRecords[Self.recordKey(domain)] {
      address = records.first
    } else {
      address = hostIndexByName[domain].map { hosts[$0].primaryAddress }
    }
    lastResolved = (domain, address)
    return address
  }

  /// The key of `domain`'s address records. Every request to a domain resolves it: lower-case
  /// only names that need it.
  private static func recordKey(_ domain: String) -> String {
    domain.utf8.contains { $0 >= 65 && $0 <= 90 } ? domain.lowercased() : domain
  }

  /// Service records for `name` (case-insensitive), by priority, then in the order they were
  /// added.
  public func services(_ name: String) -> [ServiceRecord] {
    let records = serviceRecords[name.lowercased()] ?? []
    return records.enumerated().sorted {
      $0.element.priority != $1.element.priority
        ? $0.element.priority < $1.element.priority : $0.offset < $1.offset
    }.map(\.element)
  }

  // MARK: Links and faults

  static func pairKey(_ from: Int, _ to: Int) -> UInt64 {
    UInt64(UInt32(truncatingIfNeeded: from)) << 32 | UInt64(UInt32(truncatingIfNeeded: to))
  }

  /// The conditions of the link `from` → `to`.
  public func link(from: String, to: String) throws(NetworkError) -> LinkConditions {
    conditions(try index(of: from), try index(of: to))
  }

  /// The conditions of the link from `socket`'s host to the host owning `address` (nil when no
  /// host owns it): what a sender asks for the path MTU, without looking names up.
  public func link(from socket: DatagramSocket, to address: IPAddress) -> LinkConditions? {
    hostIndex(for: address).map { conditions(socket.hostIndex, $0) }
  }

  func conditions(_ from: Int, _ to: Int) -> LinkConditions {
    if linkOverrides.isEmpty { return defaultLink }
    return linkOverrides[Self.pairKey(from, to)] ?? defaultLink
  }

  func isBlocked(_ from: Int, _ to: Int) -> Bool {
    !blockedLinks.isEmpty && blockedLinks.contains(Self.pairKey(from, to))
  }

  /// Random streams made so far: one per link whose conditions drew a number.
  var linkStreamCount: Int { linkRandoms.count }

  /// FNV-1a state after `link `: a link's stream name is hashed on from here.
  private static let linkHash = fnv1a64("link ")

  /// Runs `body` with the random stream of the link `from` → `to` (`link A->B`).
  func withLinkRandom<R>(_ from: Int, _ to: Int, _ body: (inout SimRandom) -> R) -> R {
    let key = Self.pairKey(from, to)
    // Same draws as `simulation.random(stream: "link A->B")`, without building the string.
    // The names are read only when the link is new: reading them for every packet touched two
    // more host records.
    return linkRandoms.with(
      key,
      make: {
        SimRandom(seed: simulation.seed ^ fnv1a64(continuing: linkPrefixHash(from), hostNames[to]))
      }, body)
  }

  /// FNV-1a state after `link <name>->` for host `index`: hashed for every host the first time
  /// a link draws (a network of random peers opens a link per packet, and hashing the three
  /// parts each time was 6% of a delivery), and never for a network whose links draw nothing
  /// (kept out of the host record: a million agents on lossless links would pay 8 bytes each).
  private func linkPrefixHash(_ index: Int) -> UInt64 {
    if index >= linkPrefixHashes.count {
      for host in linkPrefixHashes.count..<hosts.count {
        let name = fnv1a64(continuing: Self.linkHash, hostNames[host])
        linkPrefixHashes.append(fnv1a64(continuing: name, "->"))
      }
    }
    return linkPrefixHashes[index]
  }

  /// Applies a change now, and traces it.
  public func apply(_ change: NetworkChange) throws(NetworkError) {
    switch change {
    case .partition(let a, let b):
      let (x, y) = (try index(of: a), try index(of: b))
      blockedLinks.insert(Self.pairKey(x, y))
      blockedLinks.insert(Self.pairKey(y, x))
      recordChange("partition", ("hosts", .string("\(a)<->\(b)")))
    case .partitionOneWay(let from, let to):
      blockedLinks.insert(Self.pairKey(try index(of: from), try index(of: to)))
      recordChange("partition", ("hosts", .string("\(from)->\(to)")))
    case .repair(let a, let b):
      let (x, y) = (try index(of: a), try index(of: b))
      blockedLinks.remove(Self.pairKey(x, y))
      blockedLinks.remove(Self.pairKey(y, x))
      recordChange("repair", ("hosts", .string("\(a)<->\(b)")))
    case .repairOneWay(let from, let to):
      blockedLinks.remove(Self.pairKey(try index(of: from), try index(of: to)))
      recordChange("repair", ("hosts", .string("\(from)->\(to)")))
    case .crash(let name):
      let index = try index(of: name)
      guard hosts[index].isUp else { return }
      hosts[index].isUp = false
      recordChange("crash", ("host", .string(name)))
      closeEverything(onHost: index)
    case .restart(let name):
      let index = try index(of: name)
      guard !hosts[index].isUp else { return }
      hosts[index].isUp = true
      recordChange("restart", ("host", .string(name)))
      runRestartHooks(index)
    case .move(let name, let address):
      let index = try index(of: name)
      if let owner = hostIndex(for: address) {
        guard owner == index else { throw .addressInUse(address.description) }
        if hosts[index].addresses == [address] { return }
      }
      for old in hosts[index].addresses {
        switch old {
        case .v4(let value): hostIndexByV4.set(UInt64(value), to: -1)
        case .v6: hostIndexByV6[old] = nil
        }
      }
      switch address {
      case .v4(let value) where address != Self.assignedAddress(index):
        hostIndexByV4.set(UInt64(value), to: index)
      case .v4: break
      case .v6: hostIndexByV6[address] = index
      }
      hosts[index].primaryAddress = address
      hosts[index].otherAddresses = []
      // A name resolved to its host's address may have resolved to this host's old one.
      lastResolved = nil
      firstAddressIsAssigned[index] = address == Self.assignedAddress(index)
      hostsHaveMoved = true
      recordChange("move", ("host", .string(name)), ("address", .string(address.description)))
      guard hosts[index].isUp else { return }
      closeEverything(onHost: index)
      runRestartHooks(index)
    case .link(let from, let to, let conditions):
      linkOverrides[Self.pairKey(try index(of: from), try index(of: to))] = conditions
      recordChange("link", ("hosts", .string("\(from)->\(to)")))
    case .defaultLink(let conditions):
      defaultLink = conditions
      recordChange("link", ("hosts", .string("default")))
    }
  }

  /// Overrides the link conditions between two hosts, both directions unless `oneWay`.
  public func setLink(
    _ conditions: LinkConditions, from: String, to: String, oneWay: Bool = false
  ) throws(NetworkError) {
    try apply(.link(from: from, to: to, conditions))
    if !oneWay { try apply(.link(from: to, to: from, conditions)) }
  }

  /// Applies `change` at virtual time `instant`. Host names are checked now, so a typo fails
  /// here rather than in the middle of a run.
  public func schedule(_ change: NetworkChange, at instant: SimInstant) throws(NetworkError) {
    switch change {
    case .partition(let a, let b), .repair(let a, let b):
      _ = try index(of: a)
      _ = try index(of: b)
    case .partitionOneWay(let a, let b), .repairOneWay(let a, let b), .link(let a, let b, _):
      _ = try index(of: a)
      _ = try index(of: b)
    case .crash(let name), .restart(let name):
      _ = try index(of: name)
    case .move(let name, let address):
      let index = try index(of: name)
      if let owner = hostIndex(for: address), owner != index {
        throw .addressInUse(address.description)
      }
    case .defaultLink:
      break
    }
    networkEventsPending += 1
    simulation.schedule(at: instant) { [self] in
      networkEventsPending -= 1
      // Names were checked when scheduled; what can still fail (a move to an address another
      // host has taken since) is traced, not dropped.
      do throws(NetworkError) { try apply(change) } catch {
        recordChange("change-failed", ("reason", .string(error.description)))
      }
    }
  }

  private func recordChange(_ event: String, _ fields: (String, TraceValue)...) {
    trace.record(TraceEvent(time: simulation.now.microseconds, event: event, fields: fields))
  }

  private func runRestartHooks(_ index: Int) {
    let host = host(at: index)
    hosts[index].firstRestartHook?(host)
    for hook in hosts[index].moreRestartHooks { hook(host) }
  }

  /// Whether `address` still belongs to host `target`: false only for a packet or connection
  /// attempt sent to an address its host has since moved away from.
  func stillAt(_ address: IPAddress, _ target: Int) -> Bool {
    !hostsHaveMoved || hostIndex(for: address) == target
  }

  private func closeEverything(onHost index: Int) {
    for socket in hosts[index].datagramSockets { socket.isOpen = false }
    hosts[index].datagramSockets = SmallList()
    hosts[index].listeners = SmallList()
    let dead = connections.values.filter { $0.hostIndex == index }.sorted { $0.id < $1.id }
    for connection in dead {
      connection.state = .closed
      connections[connection.id] = nil
    }
  }

  // MARK: Leftovers

  /// What is still alive: packets in flight, timers armed, open streams.
  public var leftovers: Leftovers {
    Leftovers(
      packetsInFlight: packetsInFlight,
      timersArmed: simulation.timersArmed - networkEventsPending,
      openStreams: connections.count)
  }

  // MARK: Datagrams

  /// Binds a datagram (UDP) socket on `host` at `port` (0 picks an ephemeral port). `receive`
  /// runs on the driving thread when a datagram arrives.
  public func bindDatagram(
    host name: String, port: UInt16 = 0, ipv6: Bool = false,
    receive: @escaping @Sendable (Datagram) -> Void
  ) throws(NetworkError) -> DatagramSocket {
    let index = try index(of: name)
    guard hosts[index].isUp else { throw .hostDown(name) }
    guard let address = hosts[index].address(ipv6: ipv6) else {
      throw .noAddress(host: name, ipv6: ipv6)
    }
    let chosen = port == 0 ? ephemeralPort(index) : port
    guard datagramSocket(on: index, port: chosen) == nil else {
      throw .portInUse(host: name, port: chosen)
    }
    let socket = DatagramSocket(
      network: self, hostIndex: index, local: SocketAddress(address, chosen), receive: receive)
    hosts[index].datagramSockets.append(socket)
    return socket
  }

  /// Binds a datagram socket whose arrivals run isolated to `actor` (pinned to this simulation's
  /// executor), without a `Task` per datagram.
  public func bindDatagram<A: Actor>(
    host name: String, port: UInt16 = 0, ipv6: Bool = false, into actor: A,
    receive: @escaping @Sendable (isolated A, Datagram) -> Void
  ) throws(NetworkError) -> DatagramSocket {
    try bindDatagram(host: name, port: port, ipv6: ipv6) { datagram in
      actor.assumeIsolated { receive($0, datagram) }
    }
  }

  func ephemeralPort(_ index: Int) -> UInt16 {
    while true {
      let port = hosts[index].nextEphemeralPort
      hosts[index].nextEphemeralPort = port == UInt16.max ? 49152 : port + 1
      if datagramSocket(on: index, port: port) == nil
        && listeningPoint(on: index, port: port) == nil
      {
        return port
      }
    }
  }

  func listeningPoint(on host: Int, port: UInt16) -> ListeningPoint? {
    for listener in hosts[host].listeners where listener.port == port { return listener }
    return nil
  }

  func datagramSocket(on host: Int, port: UInt16) -> DatagramSocket? {
    if hosts[host].firstSocketPort == port { return hosts[host].datagramSockets.first }
    for socket in hosts[host].datagramSockets where socket.local.port == port { return socket }
    return nil
  }

  func unbind(_ socket: DatagramSocket) {
    hosts[socket.hostIndex].datagramSockets.removeAll { $0 === socket }
  }

  func nextPacket() -> Int64 {
    defer { nextPacketID += 1 }
    return nextPacketID
  }

  func record(
    _ event: String, from: SocketAddress, to: SocketAddress, transport: TransportKind,
    payload: [UInt8], fields: @autoclosure () -> [(String, TraceValue)]
  ) {
    guard trace.isRecording else {
      trace.countUnrecorded()
      return
    }
    trace.record(
      TraceEvent(
        time: simulation.now.microseconds, event: event, from: from, to: to,
        transport: transport, bytes: payload.count, payload: payload, fields: fields()))
  }

  func sendDatagram(from socket: DatagramSocket, to destination: SocketAddress, _ payload: [UInt8])
  {
    let packet = nextPacket()
    let source = socket.local
    record(
      "send", from: source, to: destination, transport: .udp, payload: payload,
      fields: [("packet", .integer(packet))])
    func drop(_ reason: String) {
      record(
        "drop", from: source, to: destination, transport: .udp, payload: payload,
        fields: [("packet", .integer(packet)), ("reason", .string(reason))])
    }
    guard let target = hostIndex(for: destination.address) else { return drop("no-route") }
    let from = socket.hostIndex
    if isBlocked(from, target) { return drop("partition") }
    var fault = PacketFault.pass
    if let rule = datagramFault {
      fault = rule(Datagram(from: source, to: destination, payload: payload))
      if fault == .drop { return drop("fault") }
    }
    let link = conditions(from, target)
    let overhead = destination.address.isV6 ? 48 : 28
    if payload.count + overhead > link.mtu { return drop("mtu") }
    let base = link.latency.microsecondsValue
    let plan: (lost: Bool, delay: Int64, copy: Int64?) =
      !link.datagramsDraw
      ? (false, base, nil)
      : withLinkRandom(from, target) { random in
        if random.chance(link.lossProbability) { return (true, 0, nil) }
        var delay = base + link.jitter.draw(&random)
        if random.chance(link.reorderProbability) { delay += link.reorderDelay.microsecondsValue }
        var copy: Int64?
        if random.chance(link.duplicateProbability) { copy = base + link.jitter.draw(&random) }
        return (false, delay, copy)
      }
    if plan.lost { return drop("loss") }
    let datagram = Datagram(from: source, to: destination, payload: payload)
    var extra: Int64 = 0
    var copyDelay = plan.copy
    switch fault {
    case .delay(let delay): extra = delay.microsecondsValue
    case .duplicate: copyDelay = copyDelay ?? plan.delay
    case .pass, .drop: break
    }
    guard let copy = copyDelay else {
      scheduleArrival(
        consume datagram, packet: packet, from: from, to: target, after: plan.delay + extra)
      return
    }
    scheduleArrival(datagram, packet: packet, from: from, to: target, after: plan.delay + extra)
    record(
      "duplicate", from: source, to: destination, transport: .udp, payload: payload,
      fields: [("packet", .integer(packet))])
    scheduleArrival(consume datagram, packet: packet, from: from, to: target, after: copy)
  }

  /// A datagram on its way: what its arrival needs, kept in the network's own table
  /// (``flights``) and named to the scheduler by its index.
  struct Flight {
    var datagram: Datagram
    var packet: Int64
    var from: Int32
    var to: Int32

    /// What a freed slot holds until reused.
    static let vacant = Flight(
      datagram: Datagram(from: SocketAddress(.v4(0), 0), to: SocketAddress(.v4(0), 0), payload: []),
      packet: 0, from: 0, to: 0)
  }

  private func scheduleArrival(
    _ datagram: consuming Datagram, packet: Int64, from: Int, to target: Int, after delay: Int64
  ) {
    packetsInFlight += 1
    networkEventsPending += 1
    let flight = Flight(
      datagram: consume datagram, packet: packet, from: Int32(truncatingIfNeeded: from),
      to: Int32(truncatingIfNeeded: target))
    let index: Int
    if let free = freeFlights.popLast() {
      index = Int(free)
      flights[index] = flight
    } else {
      index = flights.count
      flights.append(flight)
    }
    let at = SimInstant(microseconds: simulation.now.microseconds + delay)
    simulation.scheduleArrival(at: at, of: self, token: UInt64(index))
  }

  /// A datagram's arrival time has come (``scheduleArrival(_:packet:from:to:after:)`` named it
  /// by its index in ``flights``). Public only because the scheduler's ``TimerTarget`` is: the
  /// network schedules these itself, and a token it did not issue is ignored.
  public func timerFired(_ token: UInt64) {
    guard token < UInt64(flights.count) else { return }
    let index = Int(token)
    // Moved out, an empty flight left behind: the slot goes back at once, most recently freed
    // first, so the next send reuses memory still in cache.
    var flight = Flight.vacant
    swap(&flight, &flights[index])
    freeFlights.append(Int32(truncatingIfNeeded: index))
    packetsInFlight -= 1
    networkEventsPending -= 1
    arrive(flight.datagram, packet: flight.packet, from: Int(flight.from), to: Int(flight.to))
  }

  /// What ``arrivalIsNear(_:)`` read, summed and kept so that the reads are not optimized away.
  private var warmed = 0
  /// Arrivals the scheduler told the network of (for tests).
  private(set) var arrivalsWarmed = 0

  /// The datagram in flight slot `token` arrives within 64 µs (the scheduler is preparing
  /// that stretch of events): reads its flight (both of its cache lines), its destination
  /// host's record and that host's first socket, what ``arrive`` reads first, so that the
  /// scheduler's pass over the coming arrivals overlaps their cache misses (with 100,000
  /// datagrams in flight among 10,000 hosts, each was a stall of its own). Reads through the
  /// buffers only, touching no reference count, and changes nothing.
  func arrivalIsNear(_ token: UInt64) {
    guard token < UInt64(flights.count) else { return }
    let index = Int(token)
    let (target, port) = flights.withUnsafeBufferPointer {
      (Int($0[index].to), Int($0[index].datagram.from.port))
    }
    guard target < hosts.count else { return }
    arrivalsWarmed &+= 1
    let host = hosts.withUnsafeBufferPointer {
      Int($0[target].firstSocketPort) &+ ($0[target].datagramSockets.first?.hostIndex ?? 0)
    }
    warmed &+= port &+ host
  }

  private func arrive(_ datagram: Datagram, packet: Int64, from: Int, to target: Int) {
    func drop(_ reason: String) {
      record(
        "drop", from: datagram.from, to: datagram.to, transport: .udp,
        payload: datagram.payload,
        fields: [("packet", .integer(packet)), ("reason", .string(reason))])
    }
    guard hosts[target].isUp else { return drop("host-down") }
    guard stillAt(datagram.to.address, target) else { return drop("no-route") }
    if isBlocked(from, target) { return drop("partition") }
    guard let socket = datagramSocket(on: target, port: datagram.to.port) else {
      return drop("port-unreachable")
    }
    record(
      "deliver", from: datagram.from, to: datagram.to, transport: .udp,
      payload: datagram.payload, fields: [("packet", .integer(packet))])
    socket.receive(datagram)
  }

  // MARK: Stream bookkeeping (see Streams.swift)

  func beginNetworkEvent() {
    packetsInFlight += 1
    networkEventsPending += 1
  }

  func endNetworkEvent() {
    packetsInFlight -= 1
    networkEventsPending -= 1
  }

  func makeListenerID() -> UInt32 {
    defer { nextListenerID &+= 1 }
    return nextListenerID
  }

  func makeConnectionID() -> Int {
    defer { nextConnectionID += 1 }
    return nextConnectionID
  }
}

/// What ``Network/datagramFault`` does to one datagram.
public enum PacketFault: Sendable, Equatable {
  /// Let the link decide.
  case pass
  /// Drop it (traced with reason `fault`).
  case drop
  /// Deliver it this much later than the link would.
  case delay(Duration)
  /// Deliver a second copy as well.
  case duplicate
}

/// A service record (`SRV`, RFC 2782): where a service at a domain is served, and in what
/// order to try its servers (`priority`, then `weight`). The store keeps them; ordering and
/// choosing among them is the reader's business.
public struct ServiceRecord: Sendable, Equatable {
  /// For example `_sip._udp.biloxi.example.com`.
  public var name: String
  public var priority: UInt16
  public var weight: UInt16
  public var port: UInt16
  /// The host name to resolve for an address.
  public var target: String

  public init(name: String, priority: UInt16 = 0, weight: UInt16 = 0, port: UInt16, target: String)
  {
    self.name = name
    self.priority = priority
    self.weight = weight
    self.port = port
    self.target = target
  }
}

/// A naming authority pointer record (`NAPTR`, RFC 3403), as far as a name service stores
/// one: a domain's `order`ed and `preference`d rewrites to another name (`replacement`), each
/// for a `service` (`SIP+D2U` and friends, RFC 3263) with `flags` saying what the replacement
/// names (`s`: SRV records). The regular-expression field is not modelled (RFC 3263 leaves it
/// empty).
public struct NamingAuthorityRecord: Sendable, Equatable {
  /// The domain it belongs to (`biloxi.example.com`).
  public var name: String
  public var order: UInt16
  public var preference: UInt16
  public var flags: String
  public var service: String
  public var replacement: String

  public init(
    name: String, order: UInt16, preference: UInt16, flags: String, service: String,
    replacement: String
  ) {
    self.name = name
    self.order = order
    self.preference = preference
    self.flags = flags
    self.service = service
    self.replacement = replacement
  }
}

/// A bound datagram socket. Closing it unbinds the port; datagrams to it are then dropped with
/// reason `port-unreachable`.
public final class DatagramSocket: @unchecked Sendable {
  unowned let network: Network
  let hostIndex: Int
  /// The address and port this socket is bound to.
  public let local: SocketAddress
  let receive: @Sendable (Datagram) -> Void
  /// False once closed (or once its host crashed). Unchecked exclusivity: only the driving
  /// thread touches it, and every send reads it.
  @exclusivity(unchecked) public internal(set) var isOpen = true

  init(
    network: Network, hostIndex: Int, local: SocketAddress,
    receive: @escaping @Sendable (Datagram) -> Void
  ) {
    self.network = network
    self.hostIndex = hostIndex
    self.local = local
    self.receive = receive
  }

  /// Sends `payload` to `destination`. The network decides (and traces) whether and when it
  /// arrives.
  public func send(_ payload: [UInt8], to destination: SocketAddress) throws(NetworkError) {
    guard isOpen else { throw .closed }
    network.sendDatagram(from: self, to: destination, payload)
  }

  /// Closes the socket and frees its port.
  public func close() {
    guard isOpen else { return }
    isOpen = false
    network.unbind(self)
  }
}
