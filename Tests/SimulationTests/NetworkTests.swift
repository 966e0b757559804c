import Synchronization
import Testing

@testable import Simulation

/// Counts deliveries a test inspects after the run.
final class Inbox: Sendable {
  private let items = Mutex<[[UInt8]]>([])
  func append(_ item: [UInt8]) { items.withLock { $0.append(item) } }
  var all: [[UInt8]] { items.withLock { $0 } }
}

/// Two hosts `a` and `b`, a UDP socket on each (b listens on 5060), and `count` datagrams from
/// a to b, one every `interval`, each carrying its index.
func sendStream(
  seed: UInt64 = 1, link: LinkConditions, count: Int, interval: Duration = .milliseconds(1),
  changes: [(NetworkChange, SimInstant)] = []
) throws -> (Simulation, Network) {
  let simulation = Simulation(seed: seed)
  let network = Network(simulation: simulation, defaultLink: link)
  try network.addHost("a")
  try network.addHost("b")
  for (change, instant) in changes { try network.schedule(change, at: instant) }
  let receiver = try network.bindDatagram(host: "b", port: 5060) { _ in }
  let sender = try network.bindDatagram(host: "a", port: 5060) { _ in }
  for index in 0..<count {
    simulation.schedule(at: SimInstant(microseconds: 0).advanced(by: interval * index)) {
      try? sender.send(Array("\(index)".utf8), to: receiver.local)
    }
  }
  simulation.runUntilIdle()
  return (simulation, network)
}

func integer(_ event: TraceEvent, _ name: String) -> Int64? {
  if case .integer(let value) = event.field(name) { return value }
  return nil
}

func string(_ event: TraceEvent, _ name: String) -> String? {
  if case .string(let value) = event.field(name) { return value }
  return nil
}

/// Within `sigmas` standard deviations of a binomial proportion.
func near(_ observed: Int, of total: Int, _ probability: Double, sigmas: Double = 5) -> Bool {
  let expected = probability * Double(total)
  let deviation = (Double(total) * probability * (1 - probability)).squareRoot()
  return abs(Double(observed) - expected) <= sigmas * deviation
}

struct NetworkTests {
  @Test func datagramArrivesAfterLatencyAndTraceLineHasTheDocumentedKeys() throws {
    let simulation = Simulation(seed: 3)
    let network = Network(
      simulation: simulation, defaultLink: LinkConditions(latency: .milliseconds(15)))
    try network.addHost("alice", addresses: [IPAddress("192.0.2.1").unwrapped()])
    try network.addHost("bob", addresses: [IPAddress("192.0.2.2").unwrapped()])
    let inbox = Inbox()
    let bob = try network.bindDatagram(host: "bob", port: 5060) { inbox.append($0.payload) }
    let alice = try network.bindDatagram(host: "alice", port: 5070) { _ in }
    try alice.send(Array("hi \"bob\"\r\n".utf8), to: bob.local)
    #expect(network.leftovers.packetsInFlight == 1)
    simulation.runUntilIdle()
    #expect(inbox.all == [Array("hi \"bob\"\r\n".utf8)])
    #expect(simulation.now == SimInstant(microseconds: 15_000))
    #expect(
      network.trace.jsonLines() == """
        {"t":0,"event":"send","from":"192.0.2.1:5070","to":"192.0.2.2:5060","transport":"UDP","bytes":10,"packet":1,"payload":"hi \\"bob\\"\\r\\n"}
        {"t":15000,"event":"deliver","from":"192.0.2.1:5070","to":"192.0.2.2:5060","transport":"UDP","bytes":10,"packet":1,"payload":"hi \\"bob\\"\\r\\n"}

        """)
    #expect(network.leftovers.isEmpty)
  }

  @Test func lossRateMatchesOverManyPackets() throws {
    let count = 100_000
    let (_, network) = try sendStream(link: LinkConditions(lossProbability: 0.1), count: count)
    let lost = network.trace.events(named: "drop").filter { string($0, "reason") == "loss" }
    #expect(near(lost.count, of: count, 0.1), "lost \(lost.count)")
    #expect(network.trace.events(named: "deliver").count == count - lost.count)
    #expect(network.leftovers.isEmpty)
  }

  @Test func duplicationRateMatchesOverManyPackets() throws {
    let count = 100_000
    let (_, network) = try sendStream(
      link: LinkConditions(duplicateProbability: 0.05), count: count)
    let duplicates = network.trace.events(named: "duplicate").count
    #expect(near(duplicates, of: count, 0.05), "duplicated \(duplicates)")
    #expect(network.trace.events(named: "deliver").count == count + duplicates)
  }

  @Test func reorderRateMatchesOverManyPackets() throws {
    let count = 100_000
    let (_, network) = try sendStream(
      link: LinkConditions(reorderProbability: 0.02, reorderDelay: .milliseconds(20)),
      count: count)
    var highest: Int64 = 0
    var overtaken = 0
    for event in network.trace.events(named: "deliver") {
      guard let packet = integer(event, "packet") else { continue }
      if packet < highest { overtaken += 1 } else { highest = packet }
    }
    #expect(near(overtaken, of: count, 0.02), "reordered \(overtaken)")
  }

  @Test(arguments: [
    Jitter.uniform(max: .milliseconds(5)),
    Jitter.pareto(scale: .milliseconds(1), shape: 1.5, max: .milliseconds(50)),
  ])
  func latencyStaysInsideItsRange(jitter: Jitter) throws {
    let count = 100_000
    let (_, network) = try sendStream(
      link: LinkConditions(latency: .milliseconds(10), jitter: jitter), count: count)
    var sentAt: [Int64: Int64] = [:]
    for event in network.trace.events(named: "send") {
      if let packet = integer(event, "packet") { sentAt[packet] = event.time }
    }
    let delays = network.trace.events(named: "deliver").compactMap { event -> Int64? in
      guard let packet = integer(event, "packet"), let sent = sentAt[packet] else { return nil }
      return event.time - sent
    }
    let maximum =
      10_000 + Int64(jitter.maximum.components.seconds * 1_000_000)
      + jitter.maximum.components.attoseconds / 1_000_000_000_000
    #expect(delays.count == count)
    #expect(delays.allSatisfy { $0 >= 10_000 && $0 <= maximum })
    let mean = Double(delays.reduce(0, +)) / Double(count) - 10_000
    switch jitter {
    case .uniform:
      #expect(abs(mean - 2_500) < 50, "mean jitter \(mean)")
    case .pareto:
      // Lomax mean is scale / (shape - 1) = 2 ms before the cut; the tail is really heavy.
      #expect(mean > 1_500 && mean < 2_100, "mean jitter \(mean)")
      #expect(delays.filter { $0 > 10_000 + 20_000 }.count > 100)
    case .none:
      break
    }
  }

  @Test func oversizeDatagramsAreDroppedWithAReason() throws {
    let simulation = Simulation()
    let network = Network(simulation: simulation, defaultLink: LinkConditions(mtu: 1500))
    try network.addHost("a")
    try network.addHost("b")
    let inbox = Inbox()
    let b = try network.bindDatagram(host: "b", port: 5060) { inbox.append($0.payload) }
    let a = try network.bindDatagram(host: "a") { _ in }
    try a.send(Array(repeating: 65, count: 1472), to: b.local)  // 1472 + 28 = 1500: fits
    try a.send(Array(repeating: 66, count: 1473), to: b.local)
    simulation.runUntilIdle()
    #expect(inbox.all.map(\.count) == [1472])
    #expect(network.trace.events(named: "drop").map { string($0, "reason") } == ["mtu"])
  }

  @Test func partitionDropsExactlyInsideItsWindow() throws {
    let (_, network) = try sendStream(
      link: LinkConditions(latency: .milliseconds(10)), count: 400,
      changes: [
        (.partition("a", "b"), SimInstant(microseconds: 100_000)),
        (.repair("a", "b"), SimInstant(microseconds: 200_000)),
      ])
    var sentAt: [Int64: Int64] = [:]
    for event in network.trace.events(named: "send") {
      if let packet = integer(event, "packet") { sentAt[packet] = event.time }
    }
    let dropped = network.trace.events(named: "drop").compactMap { integer($0, "packet") }
      .compactMap { sentAt[$0] }.sorted()
    // Sent inside [100, 200) ms, or in flight when it began (sent in [90, 100) ms).
    #expect(dropped == Array(stride(from: Int64(90_000), to: 200_000, by: 1_000)))
    #expect(network.trace.events(named: "deliver").count == 400 - 110)
  }

  @Test func oneWayPartitionBlocksOnlyOneDirection() throws {
    let simulation = Simulation()
    let network = Network(simulation: simulation)
    try network.addHost("a")
    try network.addHost("b")
    try network.apply(.partitionOneWay(from: "a", to: "b"))
    let atA = Inbox()
    let atB = Inbox()
    let a = try network.bindDatagram(host: "a", port: 1) { atA.append($0.payload) }
    let b = try network.bindDatagram(host: "b", port: 1) { atB.append($0.payload) }
    try a.send([1], to: b.local)
    try b.send([2], to: a.local)
    simulation.runUntilIdle()
    #expect(atA.all == [[2]])
    #expect(atB.all.isEmpty)
    try network.apply(.repairOneWay(from: "a", to: "b"))
    try a.send([3], to: b.local)
    simulation.runUntilIdle()
    #expect(atB.all == [[3]])
  }

  @Test func crashedHostReceivesNothingAndRestartRunsItsHooks() throws {
    let simulation = Simulation()
    let network = Network(simulation: simulation)
    try network.addHost("a")
    try network.addHost("b")
    let inbox = Inbox()
    let b = try network.bindDatagram(host: "b", port: 5060) { inbox.append($0.payload) }
    let a = try network.bindDatagram(host: "a") { _ in }
    let restarted = Inbox()
    try network.onRestart(of: "b") { host in
      restarted.append(Array(host.name.utf8))
      _ = try? network.bindDatagram(host: "b", port: 5060) { inbox.append($0.payload) }
    }
    // More hooks run after the first, in the order they were registered.
    try network.onRestart(of: "b") { _ in restarted.append(Array("second".utf8)) }
    try network.onRestart(of: "b") { _ in restarted.append(Array("third".utf8)) }
    try network.schedule(.crash("b"), at: SimInstant(microseconds: 1_000_000))
    try network.schedule(.restart("b"), at: SimInstant(microseconds: 2_000_000))
    for second in 0..<3 {
      simulation.schedule(at: SimInstant(microseconds: Int64(second) * 1_000_000 + 500_000)) {
        try? a.send([UInt8(second)], to: b.local)
      }
    }
    // Sent just before the crash, arriving after it.
    simulation.schedule(at: SimInstant(microseconds: 995_000)) { try? a.send([9], to: b.local) }
    simulation.runUntilIdle()
    #expect(inbox.all == [[0], [2]])
    #expect(restarted.all == [Array("b".utf8), Array("second".utf8), Array("third".utf8)])
    #expect(!b.isOpen)
    let reasons = network.trace.events(named: "drop").compactMap { string($0, "reason") }
    #expect(reasons == ["host-down", "host-down"])
    #expect(throws: NetworkError.hostDown("b")) {
      try network.apply(.crash("b"))
      _ = try network.bindDatagram(host: "b", port: 7) { _ in }
    }
  }

  /// A move (RFC 3665 §3.7's address change): the host's sockets close, a datagram in flight
  /// to the old address and one sent to it later find no host ("no-route"), the restart hooks
  /// run with the new address so the host binds again, and datagrams to the new address
  /// arrive. The old address is free for another host; the new one cannot be taken.
  @Test func aMovedHostIsReachedAtItsNewAddressOnly() throws {
    let simulation = Simulation()
    let network = Network(simulation: simulation)
    try network.addHost("a")
    try network.addHost("b")
    try network.addHost("c")
    let inbox = Inbox()
    let b = try network.bindDatagram(host: "b", port: 5060) { inbox.append($0.payload) }
    let a = try network.bindDatagram(host: "a") { _ in }
    let old = b.local
    let new = try #require(IPAddress("192.0.2.7"))
    let hooked = Inbox()
    try network.onRestart(of: "b") { host in
      hooked.append(Array(host.addresses.map(\.description).joined(separator: ",").utf8))
      _ = try? network.bindDatagram(host: "b", port: 5060) { inbox.append($0.payload) }
    }
    try network.schedule(.move("b", to: new), at: SimInstant(microseconds: 1_000_000))
    simulation.schedule(at: SimInstant(microseconds: 500_000)) { try? a.send([0], to: old) }
    // In flight across the move, and sent after it, to the old address: no host has it.
    simulation.schedule(at: SimInstant(microseconds: 995_000)) { try? a.send([1], to: old) }
    simulation.schedule(at: SimInstant(microseconds: 1_500_000)) {
      try? a.send([2], to: old)
      try? a.send([3], to: SocketAddress(new, 5060))
    }
    simulation.runUntilIdle()
    #expect(inbox.all == [[0], [3]])
    #expect(hooked.all == [Array("192.0.2.7".utf8)])
    #expect(!b.isOpen)
    let reasons = network.trace.events(named: "drop").compactMap { string($0, "reason") }
    #expect(reasons == ["no-route", "no-route"])
    let moved = try #require(network.trace.events(named: "move").first)
    #expect(string(moved, "host") == "b" && string(moved, "address") == "192.0.2.7")
    #expect(network.host(for: old.address) == nil)
    #expect(network.host(for: new)?.name == "b")
    #expect(try network.host(named: "b").addresses == [new])
    // Another host may take the old address; nobody may take one in use.
    try network.apply(.move("c", to: old.address))
    #expect(network.host(for: old.address)?.name == "c")
    #expect(throws: NetworkError.addressInUse("192.0.2.7")) {
      try network.apply(.move("a", to: new))
    }
    // Moving to the address it has is nothing.
    try network.apply(.move("b", to: new))
    #expect(network.trace.events(named: "move").count == 2)
  }

  /// A host's name resolves to the address it has now: after a move, `resolveFirst` (what a
  /// sender asks for every message, with the last answer kept) gives the new address, as
  /// `resolve` does. Address records are left alone (a name service not yet updated).
  @Test func aMovedHostsNameResolvesToItsNewAddress() throws {
    let simulation = Simulation()
    let network = Network(simulation: simulation)
    try network.addHost("a")
    try network.addHost("b")
    network.addAddressRecord("b.example.com", try network.host(named: "b").addresses)
    let old = try network.host(named: "b").addresses[0]
    #expect(network.resolveFirst("b") == old)
    let new = try #require(IPAddress("192.0.2.7"))
    try network.apply(.move("b", to: new))
    #expect(network.resolve("b") == [new])
    #expect(network.resolveFirst("b") == new)
    #expect(network.resolveFirst("b.example.com") == old)
  }

  @Test func nameServiceResolvesRecordsHostsAndServices() throws {
    let simulation = Simulation()
    let network = Network(simulation: simulation)
    let proxy = try network.addHost("proxy.biloxi.example.com")
    try network.addHost("v6", addresses: [IPAddress("2001:db8::10").unwrapped()])
    network.addAddressRecord("biloxi.example.com", proxy.addresses)
    network.addServiceRecord(
      ServiceRecord(name: "_sip._udp.biloxi.example.com", priority: 20, port: 5070, target: "b2"))
    network.addServiceRecord(
      ServiceRecord(
        name: "_sip._udp.biloxi.example.com", priority: 10, port: 5060,
        target: "proxy.biloxi.example.com"))
    #expect(network.resolve("BILOXI.example.com") == [IPAddress.v4(0x0A00_0001)])
    #expect(network.resolve("v6").map(\.description) == ["2001:db8::10"])
    #expect(network.resolve("nowhere.example").isEmpty)
    #expect(network.services("_sip._udp.biloxi.example.com").map(\.port) == [5060, 5070])
    #expect(throws: NetworkError.duplicateHost("v6")) { try network.addHost("v6") }
    #expect(throws: NetworkError.unknownHost("nobody")) { try network.apply(.crash("nobody")) }
  }

  /// NAPTR records are kept as added, by name (case-insensitive); the store says whether it
  /// holds any SRV or NAPTR record at all, which is what lets a sender skip the queries.
  @Test func nameServiceKeepsPointerRecordsAndSaysWhetherAnyServiceRecordExists() {
    let network = Network(simulation: Simulation())
    #expect(!network.hasServiceRecords)
    network.addAddressRecord("biloxi.example.com", [.v4(0x0A00_0009)])
    #expect(!network.hasServiceRecords)
    network.addNamingAuthorityRecord(
      NamingAuthorityRecord(
        name: "Biloxi.example.com", order: 20, preference: 10, flags: "s", service: "SIP+D2U",
        replacement: "_sip._udp.biloxi.example.com"))
    network.addNamingAuthorityRecord(
      NamingAuthorityRecord(
        name: "biloxi.example.com", order: 10, preference: 10, flags: "s", service: "SIP+D2T",
        replacement: "_sip._tcp.biloxi.example.com"))
    #expect(network.hasServiceRecords)
    #expect(
      network.namingAuthorityRecords("BILOXI.example.com").map(\.service) == ["SIP+D2U", "SIP+D2T"])
    #expect(network.namingAuthorityRecords("atlanta.example.com").isEmpty)
    let other = Network(simulation: Simulation())
    other.addServiceRecord(
      ServiceRecord(name: "_sip._udp.b.example.com", weight: 5, port: 5060, target: "b"))
    #expect(other.hasServiceRecords)
    #expect(other.services("_SIP._udp.b.example.com").map(\.weight) == [5])
  }

  @Test(arguments: [
    ("192.0.2.1", "192.0.2.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
    ("10.100.9.250", "10.100.9.250"), ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("::", "::"),
    ("[::1]", "::1"), ("2001:db8:0:1:0:0:0:0", "2001:db8:0:1::"),
    ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
  ])
  func addressesParseAndPrintCanonically(input: String, printed: String) {
    #expect(IPAddress(input)?.description == printed)
  }

  @Test(arguments: [
    "256.0.0.1", "1.2.3", "1::2::3", "12345::", "a.b.c.d", "", "1.2.3.4.5", "1..2.3", "1.2.3.",
    ".1.2.3", "+1.2.3.4", "1.2.3.4 ", "0001.2.3.4", "[10.0.0.1]", "registrar.example.com",
    "[registrar]", "h:5060",
  ])
  func badAddressesAreRejected(input: String) {
    #expect(IPAddress(input) == nil)
  }
}

extension Optional {
  /// Unwraps or fails the test with a thrown error (no force unwrap).
  func unwrapped(sourceLocation: SourceLocation = #_sourceLocation) throws -> Wrapped {
    try #require(self, sourceLocation: sourceLocation)
  }
}

/// The link table keeps each link's own stream through growth: 5,000 links, each drawn from
/// twice with draws on other links in between, give exactly the draws of a fresh generator.
@Test func linkStreamsSurviveTheTableGrowing() {
  var table = IntegerKeyedTable<SimRandom>()
  let keys = (0..<5_000).map { UInt64($0 * 7919 % 5_003) << 32 | UInt64($0) }
  var first: [UInt64] = []
  for key in keys {
    first.append(table.with(key, make: { SimRandom(seed: key) }) { $0.next() })
  }
  for (index, key) in keys.enumerated().reversed() {
    var fresh = SimRandom(seed: key)
    let expected = (fresh.next(), fresh.next())
    let second = table.with(key, make: { SimRandom(seed: 0) }) { $0.next() }
    #expect(first[index] == expected.0 && second == expected.1)
  }
  var hosts = IntegerKeyedTable<Int>()
  for key in keys { hosts.set(key, to: Int(key & 0xFFFF)) }
  hosts.set(keys[7], to: 42)
  #expect(keys.enumerated().allSatisfy { hosts[$1] == ($0 == 7 ? 42 : Int($1 & 0xFFFF)) })
  #expect(hosts[12_345] == nil)
}

/// A link that draws nothing (no loss, duplication, reordering or jitter) makes no random
/// stream. When it turns lossy, its stream starts where one made at the start and never drawn
/// from would be: the packets after the change meet exactly the fates and delays that the first
/// packets of a link lossy from the start meet.
@Test func aQuietLinkMakesNoStreamUntilItDraws() throws {
  let quiet = LinkConditions(latency: .milliseconds(10))
  let lossy = LinkConditions(
    latency: .milliseconds(10), jitter: .uniform(max: .milliseconds(5)), lossProbability: 0.3)
  let (_, silent) = try sendStream(link: quiet, count: 100)
  #expect(silent.linkStreamCount == 0)
  #expect(silent.trace.events.filter { $0.event == "deliver" }.count == 100)

  /// Each packet's fate from the `first`-th sent on: dropped, or delivered after a delay.
  func fates(_ network: Network, from first: Int) -> [Int64] {
    var sentAt: [Int64: Int64] = [:]
    var fates: [Int64: Int64] = [:]
    var order: [Int64] = []
    for event in network.trace.events {
      guard let packet = integer(event, "packet") else { continue }
      switch event.event {
      case "send":
        sentAt[packet] = event.time
        order.append(packet)
      case "drop": fates[packet] = -1
      case "deliver": fates[packet] = event.time - (sentAt[packet] ?? 0)
      default: break
      }
    }
    return order.dropFirst(first).map { fates[$0] ?? -2 }
  }
  let (_, turned) = try sendStream(
    link: quiet, count: 300,
    changes: [(.link(from: "a", to: "b", lossy), SimInstant(microseconds: 100_000))])
  let (_, always) = try sendStream(link: lossy, count: 200)
  #expect(turned.linkStreamCount == 1)
  let after = fates(turned, from: 100)
  #expect(after == fates(always, from: 0))
  #expect(after.contains(-1) && after.count == 200)
}

@Test(arguments: 0...6) func aSmallListKeepsOrderLikeAnArray(size: Int) {
  var list = SmallList<Int>()
  var model: [Int] = []
  for value in 0..<size {
    list.append(value * 10)
    model.append(value * 10)
    #expect(Array(list) == model)
    #expect(list.count == model.count)
  }
  #expect(list.isEmpty == model.isEmpty)
  #expect(list.first == model.first)
  // Removing any subset keeps the others in order, and appending after a removal goes last.
  for mask in 0..<(1 << size) {
    var pruned = list
    pruned.removeAll { mask & (1 << ($0 / 10)) != 0 }
    var expected = model.filter { mask & (1 << ($0 / 10)) == 0 }
    #expect(Array(pruned) == expected)
    pruned.append(99)
    expected.append(99)
    #expect(Array(pruned) == expected)
    #expect(pruned.count == expected.count)
  }
}

@Test func aHostsAddressesAndSocketsSurviveTheCompactRecord() throws {
  let network = Network(simulation: Simulation(seed: 1))
  let host = try network.addHost(
    "multi", addresses: [.v4(0x0A00_0009), .v6(high: 1, low: 2), .v4(0x0A00_000A)])
  #expect(host.addresses == [.v4(0x0A00_0009), .v6(high: 1, low: 2), .v4(0x0A00_000A)])
  #expect(network.resolve("multi") == host.addresses)
  #expect(network.resolveFirst("multi") == .v4(0x0A00_0009))
  #expect(network.resolveFirst("nowhere") == nil && network.resolve("nowhere").isEmpty)
  network.addAddressRecord("Example.COM", [.v4(0x0A00_0063)])
  for name in ["example.com", "EXAMPLE.com", "multi", "nowhere"] {
    #expect(network.resolveFirst(name) == network.resolve(name).first, "\(name)")
  }
  // The answer to the last name is remembered: a record or host added after it is seen.
  #expect(network.resolveFirst("multi") == .v4(0x0A00_0009))
  network.addAddressRecord("multi", [.v4(0x0A00_0064)])
  #expect(network.resolveFirst("multi") == .v4(0x0A00_0064))
  #expect(network.resolveFirst("late") == nil)
  let late = try network.addHost("late")
  #expect(network.resolveFirst("late") == late.addresses.first)
  #expect(network.resolveFirst("late") == late.addresses.first)
  // The IPv6 socket takes the first IPv6 address, the IPv4 one the first IPv4 address.
  let v6 = try network.bindDatagram(host: "multi", port: 5060, ipv6: true) { _ in }
  let v4 = try network.bindDatagram(host: "multi", port: 5061) { _ in }
  #expect(v6.local.address == .v6(high: 1, low: 2))
  #expect(v4.local.address == .v4(0x0A00_0009))
  let third = try network.bindDatagram(host: "multi", port: 5062) { _ in }
  #expect(network.datagramSocket(on: host.index, port: 5062) === third)
  v6.close()
  #expect(network.datagramSocket(on: host.index, port: 5060) == nil)
  #expect(network.datagramSocket(on: host.index, port: 5061) === v4)
  #expect(network.datagramSocket(on: host.index, port: 5062) === third)
  let tcp = try network.listen(host: "multi", port: 5060) { _ in }
  let tls = try network.listen(host: "multi", port: 5061, transport: .tls) { _ in }
  let more = try network.listen(host: "multi", port: 5063) { _ in }
  #expect(network.listeningPoint(on: host.index, port: 5061)?.id == tls.id)
  #expect(tls.transport == .tls && tls.local == SocketAddress(.v4(0x0A00_0009), 5061))
  tcp.close()
  #expect(!tcp.isOpen && tls.isOpen && more.isOpen)
  #expect(network.listeningPoint(on: host.index, port: 5060) == nil)
  #expect(network.listeningPoint(on: host.index, port: 5063)?.id == more.id)
  // A new listening point on the closed port is another listener: the old handle stays closed.
  let again = try network.listen(host: "multi", port: 5060) { _ in }
  #expect(again.isOpen && !tcp.isOpen && again != tcp)
  try network.apply(.crash("multi"))
  #expect(!again.isOpen && !tls.isOpen && !more.isOpen)
}

/// Assigned addresses are found from the address itself, given ones from the table; the two
/// never confuse hosts, whatever order they are added in.
@Test func addressesAssignedAndGivenFindTheirHosts() throws {
  let network = Network(simulation: Simulation(seed: 1))
  func v4(_ last: UInt32) -> IPAddress { .v4(0x0A00_0000 | last) }
  try network.addHost("a")  // index 0: 10.0.0.1
  try network.addHost("b", addresses: [v4(9)])  // index 1 (10.0.0.2 unused)
  try network.addHost("c")  // index 2: 10.0.0.3
  try network.addHost("d", addresses: [v4(5), v4(4)])  // index 3: given its own assigned second
  #expect(network.host(for: v4(1))?.name == "a")
  #expect(network.host(for: v4(2)) == nil)
  #expect(network.host(for: v4(9))?.name == "b")
  #expect(network.host(for: v4(3))?.name == "c")
  #expect(network.host(for: v4(4))?.name == "d")
  #expect(network.host(for: v4(5))?.name == "d")
  #expect(network.host(for: .v4(0x0900_0000)) == nil)
  // Index 4 would be assigned 10.0.0.5, which d holds.
  #expect(throws: NetworkError.addressInUse("10.0.0.5")) { try network.addHost("e") }
  #expect(throws: NetworkError.addressInUse("10.0.0.3")) {
    try network.addHost("f", addresses: [v4(3)])
  }
  try network.addHost("g", addresses: [v4(200)])  // index 4
  try network.addHost("h")  // index 5: 10.0.0.6
  #expect(network.host(for: v4(6))?.name == "h")
  #expect(network.host(for: v4(200))?.name == "g")
}

/// Datagrams in flight live in the network's slot table (scheduled by index, slots reused last
/// freed first): each arrives with its own bytes, addresses and packet number under jitter,
/// duplication and reordering, and a token (or hint) the network did not issue changes nothing.
@Test func datagramsInFlightArriveWithTheirOwnBytesWhileSlotsAreReused() throws {
  let simulation = Simulation(seed: 11)
  let network = Network(
    simulation: simulation,
    defaultLink: LinkConditions(
      latency: .milliseconds(5), jitter: .uniform(max: .milliseconds(20)),
      duplicateProbability: 0.2, reorderProbability: 0.2))
  try network.addHost("a")
  try network.addHost("b")
  let inbox = Inbox()
  let receiver = try network.bindDatagram(host: "b", port: 5060) { inbox.append($0.payload) }
  let sender = try network.bindDatagram(host: "a", port: 5060) { _ in }
  // Sends spread over time, so slots free and fill again while others are still in flight.
  for index in 0..<2_000 {
    simulation.schedule(at: SimInstant(microseconds: Int64(index) * 700)) {
      try? sender.send(Array("packet \(index)".utf8), to: receiver.local)
    }
  }
  simulation.schedule(at: SimInstant(microseconds: 3_000)) {
    network.timerFired(1_000_000)  // never issued: ignored
    network.timerFired(UInt64.max)
    network.arrivalIsNear(1_000_000)  // hints for tokens never issued: ignored too
    network.arrivalIsNear(UInt64.max)
  }
  simulation.runUntilIdle()
  let sends = network.trace.events.filter { $0.event == "send" }
  let delivers = network.trace.events.filter { $0.event == "deliver" }
  let duplicates = network.trace.events.filter { $0.event == "duplicate" }
  #expect(sends.count == 2_000)
  #expect(delivers.count == 2_000 + duplicates.count)
  #expect(!duplicates.isEmpty)
  // Every delivery carries the bytes its packet number was sent with.
  var sent: [Int64: [UInt8]] = [:]
  for event in sends { sent[integer(event, "packet") ?? -1] = event.payload }
  for event in delivers {
    #expect(event.payload == sent[integer(event, "packet") ?? -2])
    #expect(event.from == sender.local && event.to == receiver.local)
  }
  #expect(inbox.all.count == delivers.count)
  #expect(network.leftovers.packetsInFlight == 0)
  // The scheduler told the network of every arrival (all over 64 µs away when sent) shortly
  // before it, once, and of nothing else: the two bogus hints above were not counted.
  #expect(network.arrivalsWarmed == delivers.count)
}

/// `Duration.microsecondsValue` (a shift and a 64-bit division up to about two years) and
/// `SimInstant.advanced(by:)` truncate to whole microseconds as the components formula does,
/// for short, long and negative durations.
@Test func durationsTruncateToWholeMicroseconds() {
  var durations: [Duration] = [
    .zero, .nanoseconds(999), .nanoseconds(1_000), .milliseconds(10), .seconds(18),
    .seconds(19), .seconds(32), .seconds(3_600), .seconds(60_000_000), .seconds(90_000_000),
    .nanoseconds(-1_500), .seconds(-32),
  ]
  var state: UInt64 = 3
  for _ in 0..<5_000 {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    let seconds = Int64(bitPattern: state >> 1) >> Int64(20 + state % 44) - 1_000
    durations.append(
      Duration(
        secondsComponent: seconds,
        attosecondsComponent: Int64(state >> 3 % 1_000_000_000_000_000_000)))
  }
  for duration in durations {
    let (seconds, attoseconds) = duration.components
    let expected = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    #expect(duration.microsecondsValue == expected, "\(duration)")
    #expect(SimInstant(microseconds: 7).advanced(by: duration).microseconds == 7 + expected)
  }
}
