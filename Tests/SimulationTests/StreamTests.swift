import Simulation
import Synchronization
import Testing

/// Collects a connection's events.
final class EventLog: Sendable {
  private let entries = Mutex<[StreamEvent]>([])
  func append(_ event: StreamEvent) { entries.withLock { $0.append(event) } }
  var all: [StreamEvent] { entries.withLock { $0 } }
  var bytes: [UInt8] {
    all.flatMap { event -> [UInt8] in
      if case .data(let bytes) = event { return bytes }
      return []
    }
  }
}

/// Holds the accepted connection so the test can use it after the run.
final class Accepted: Sendable {
  private let connections = Mutex<[StreamConnection]>([])
  func append(_ connection: StreamConnection) { connections.withLock { $0.append(connection) } }
  var all: [StreamConnection] { connections.withLock { $0 } }
}

struct StreamTests {
  func twoHosts(_ link: LinkConditions = .perfect, seed: UInt64 = 5) throws -> (
    Simulation, Network
  ) {
    let simulation = Simulation(seed: seed)
    let network = Network(simulation: simulation, defaultLink: link)
    try network.addHost("client")
    try network.addHost("server")
    return (simulation, network)
  }

  @Test func bytesArriveInOrderUnderJitterAndLossAndCloseIsOrderly() throws {
    let (simulation, network) = try twoHosts(
      LinkConditions(
        latency: .milliseconds(5), jitter: .uniform(max: .milliseconds(20)), lossProbability: 0.2,
        mtu: 100))
    let serverLog = EventLog()
    let accepted = Accepted()
    let listener = try network.listen(host: "server", port: 5060) { connection in
      connection.onEvent = { serverLog.append($0) }
      accepted.append(connection)
    }
    let clientLog = EventLog()
    let message = (0..<5_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
    let client = try network.connect(from: "client", to: listener.local) { clientLog.append($0) }
    #expect(client.state == .connecting)
    #expect(throws: NetworkError.closed) { try client.send([1]) }
    simulation.runUntilIdle()
    #expect(clientLog.all == [.connected])
    #expect(client.state == .open)
    // Several sends, each cut into 60-byte segments (MTU 100 minus 40 bytes of headers).
    for chunk in stride(from: 0, to: message.count, by: 1_000) {
      try client.send(Array(message[chunk..<min(message.count, chunk + 1_000)]))
    }
    client.close()
    simulation.runUntilIdle()
    #expect(serverLog.bytes == message)
    #expect(serverLog.all.last == .closed)
    #expect(network.trace.events(named: "send").allSatisfy { $0.bytes <= 60 })
    #expect(
      network.trace.events(named: "deliver").contains { $0.field("retransmitted") == .bool(true) })
    #expect(accepted.all.first?.state == .closed)
    #expect(network.leftovers.isEmpty, "\(network.leftovers)")
  }

  @Test(arguments: ["port-unreachable", "host-down", "partition"])
  func connectIsRefused(reason: String) throws {
    let (simulation, network) = try twoHosts()
    let listener = try network.listen(host: "server", port: 5060) { _ in }
    switch reason {
    case "port-unreachable": listener.close()
    case "host-down": try network.apply(.crash("server"))
    default: try network.apply(.partition("client", "server"))
    }
    let log = EventLog()
    let client = try network.connect(from: "client", to: listener.local) { log.append($0) }
    simulation.runUntilIdle()
    #expect(log.all == [.refused(reason: reason)])
    #expect(client.state == .closed)
    #expect(network.leftovers.isEmpty)
  }

  @Test func peerCrashOrPartitionResetsTheSender() throws {
    for fault in [NetworkChange.crash("server"), .partition("client", "server")] {
      let (simulation, network) = try twoHosts()
      let listener = try network.listen(host: "server", port: 5060) { connection in
        connection.onEvent = { _ in }
      }
      let log = EventLog()
      let client = try network.connect(from: "client", to: listener.local) { log.append($0) }
      simulation.runUntilIdle()
      try network.apply(fault)
      try client.send(Array("INVITE".utf8))
      simulation.runUntilIdle()
      let reason = fault == .crash("server") ? "host-down" : "partition"
      #expect(log.all == [.connected, .reset(reason: reason)])
      #expect(client.state == .closed)
      #expect(network.trace.events(named: "drop").map { $0.field("reason") } == [.string(reason)])
      // After a crash the server's side is gone too; after a partition it stays open until it
      // sends (as a real TCP end would).
      #expect(network.leftovers.openStreams == (reason == "partition" ? 1 : 0))
    }
  }

  @Test func actorsReceiveDatagramsIsolatedWithoutATask() throws {
    let simulation = Simulation()
    let network = Network(simulation: simulation)
    try network.addHost("a")
    try network.addHost("b")
    let recorder = Recorder(simulation)
    let b = try network.bindDatagram(host: "b", port: 5060, into: recorder) { actor, datagram in
      actor.record(String(decoding: datagram.payload, as: UTF8.self))
    }
    let a = try network.bindDatagram(host: "a") { _ in }
    try a.send(Array("REGISTER".utf8), to: b.local)
    simulation.runUntilIdle()
    #expect(recorder.log.all == ["REGISTER"])
  }
}
