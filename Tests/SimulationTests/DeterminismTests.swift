import Simulation
import Testing

/// A busy network of `hostCount` hosts: each sends datagrams to peers it picks with its own random
/// stream, and every tenth host keeps a stream open to its neighbour, under loss, jitter,
/// duplication and reordering. Returns the JSON Lines trace.
func busyNetworkTrace(seed: UInt64, hostCount: Int = 1_000, extraHost: Bool = false) throws
  -> Network
{
  let simulation = Simulation(seed: seed)
  let network = Network(
    simulation: simulation,
    defaultLink: LinkConditions(
      latency: .milliseconds(20), jitter: .uniform(max: .milliseconds(30)),
      lossProbability: 0.05, duplicateProbability: 0.02, reorderProbability: 0.02))
  let names = (0..<hostCount).map { "host\($0)" }
  for name in names { try network.addHost(name) }
  var sockets: [DatagramSocket] = []
  for name in names {
    sockets.append(try network.bindDatagram(host: name, port: 5060) { _ in })
  }
  for (index, name) in names.enumerated() {
    var random = simulation.random(stream: "traffic \(name)")
    let socket = sockets[index]
    for message in 0..<5 {
      let peer = sockets[Int(random.next() % UInt64(hostCount))].local
      let at = SimInstant(microseconds: Int64(random.next() % 1_000_000))
      simulation.schedule(at: at) { try? socket.send(Array("\(name) #\(message)".utf8), to: peer) }
    }
  }
  for index in stride(from: 0, to: hostCount, by: 10) {
    let server = names[(index + 1) % hostCount]
    let listener = try network.listen(host: server, port: 5061) { connection in
      connection.onEvent = { event in
        if case .data(let bytes) = event { try? connection.send(bytes) }  // echo
        if event == .closed { connection.close() }
      }
    }
    let holder = Accepted()
    let client = try network.connect(from: names[index], to: listener.local) { event in
      if event == .connected, let connection = holder.all.first {
        try? connection.send(Array(repeating: UInt8(index % 256), count: 3_000))
        connection.close()
      }
    }
    holder.append(client)
  }
  if extraHost {
    // An unrelated host with its own traffic: the other links must not notice it.
    try network.addHost("newcomer")
    let newcomer = try network.bindDatagram(host: "newcomer", port: 5060) { _ in }
    for message in 0..<50 {
      simulation.schedule(at: SimInstant(microseconds: Int64(message) * 10_000)) {
        try? newcomer.send([1, 2, 3], to: newcomer.local)
      }
    }
  }
  simulation.runUntilIdle()
  return network
}

struct DeterminismTests {
  @Test func sameSeedGivesAByteIdenticalTraceAndAnotherSeedDoesNot() throws {
    let first = try busyNetworkTrace(seed: 2026)
    let second = try busyNetworkTrace(seed: 2026)
    let other = try busyNetworkTrace(seed: 2027)
    let text = first.trace.jsonLines()
    #expect(first.trace.count > 10_000)
    #expect(text == second.trace.jsonLines())
    #expect(text != other.trace.jsonLines())
    #expect(first.trace.events(named: "drop").count > 100)
    #expect(first.trace.events(named: "duplicate").count > 50)
    // Each of the 100 streams ends: the server sees the client's FIN, or is reset because it
    // echoed bytes to a client that had already closed.
    let ended = Set(
      (first.trace.events(named: "closed") + first.trace.events(named: "reset")).compactMap {
        $0.field("stream")
      })
    #expect(ended.count == 100)
    #expect(first.leftovers.isEmpty, "\(first.leftovers)")
  }

  @Test func addingAnUnrelatedHostLeavesEveryOtherLinkAlone() throws {
    let without = try busyNetworkTrace(seed: 9, hostCount: 300)
    let with = try busyNetworkTrace(seed: 9, hostCount: 300, extraHost: true)
    let newcomer = try with.host(named: "newcomer").addresses[0]
    func others(_ network: Network) -> [String] {
      network.trace.events.filter { $0.from?.address != newcomer && $0.to?.address != newcomer }
        .map { event in
          var event = event
          event.fields.removeAll { $0.0 == "packet" }  // packet numbers count all packets
          return event.jsonLine
        }
    }
    #expect(with.trace.events.count > without.trace.events.count)
    #expect(others(with) == others(without))
  }
}
