import Foundation
import Simulation

/// `sipsim demo`: a small, seeded demonstration of the
/// kernel. Alice pings Bob over UDP every 100 ms across a lossy, jittery link; a partition cuts
/// them apart from 300 ms to 500 ms; then Alice opens a TCP stream, sends a message in MTU-sized
/// segments and closes it. Prints the trace as a table (or JSON Lines) and a summary.
enum KernelDemo {
  static let usage = """
    usage: sipsim demo [--seed N] [--jsonl] [--output FILE]

      --seed N       seed of every random draw (default 1); the same seed prints the same trace
      --jsonl        print the trace as JSON Lines (the public format) instead of a table
      --output FILE  write the JSON Lines trace to FILE as well
    """

  static func run(_ arguments: [String]) -> Int32 {
    var seed: UInt64 = 1
    var jsonl = false
    var output: String?
    var index = 0
    while index < arguments.count {
      switch arguments[index] {
      case "--seed":
        index += 1
        guard index < arguments.count, let value = UInt64(arguments[index]) else {
          CLI.fail("--seed needs a non-negative integer", usage: usage)
          return 2
        }
        seed = value
      case "--jsonl": jsonl = true
      case "--output":
        index += 1
        guard index < arguments.count else {
          CLI.fail("--output needs a file name", usage: usage)
          return 2
        }
        output = arguments[index]
      case "--help", "-h":
        print(usage)
        return 0
      default:
        CLI.fail("unknown option '\(arguments[index])' for demo", usage: usage)
        return 2
      }
      index += 1
    }
    let network: Network
    do {
      network = try scenario(seed: seed)
    } catch {
      CLI.fail("demo failed: \(error)")
      return 1
    }
    if let output {
      do {
        try network.trace.jsonLines().write(toFile: output, atomically: true, encoding: .utf8)
      } catch {
        CLI.fail("cannot write '\(output)': \(error.localizedDescription)")
        return 2
      }
    }
    if jsonl {
      print(network.trace.jsonLines(), terminator: "")
      return 0
    }
    print(
      "SIPSim kernel demo, seed \(seed): alice 10.0.0.1 pings bob 10.0.0.2, who answers (20 ms + up to 10 ms"
        + " jitter, 10% loss, 5% duplication); partition 300-500 ms; then a TCP stream.\n")
    print(table(network.trace.events))
    let events = network.trace.events
    func count(_ name: String, reason: String? = nil) -> Int {
      events.filter { event in
        event.event == name && (reason == nil || event.field("reason") == .string(reason ?? ""))
      }.count
    }
    print(
      """

      \(count("send")) sent, \(count("deliver")) delivered, \(count("duplicate")) duplicated, \
      \(count("drop", reason: "loss")) lost, \(count("drop", reason: "partition")) cut by the partition.
      Left over: \(network.leftovers).
      Same seed, same trace: try `swift run sipsim demo --seed \(seed) --jsonl`.
      """)
    return 0
  }

  static func scenario(seed: UInt64) throws -> Network {
    let simulation = Simulation(seed: seed)
    let network = Network(
      simulation: simulation,
      defaultLink: LinkConditions(
        latency: .milliseconds(20), jitter: .uniform(max: .milliseconds(10)),
        lossProbability: 0.1, duplicateProbability: 0.05, mtu: 600))
    try network.addHost("alice")
    try network.addHost("bob")
    try network.schedule(.partition("alice", "bob"), at: SimInstant(microseconds: 300_000))
    try network.schedule(.repair("alice", "bob"), at: SimInstant(microseconds: 500_000))
    // Bob answers each ping from the socket it arrived on.
    let bobSocket = SocketBox()
    let bob = try network.bindDatagram(host: "bob", port: 5060) { datagram in
      let text = String(decoding: datagram.payload, as: UTF8.self)
      try? bobSocket.socket?.send(
        Array(text.replacingOccurrences(of: "ping", with: "pong").utf8), to: datagram.from)
    }
    bobSocket.socket = bob
    let alice = try network.bindDatagram(host: "alice", port: 5060) { _ in }
    for number in 1...8 {
      simulation.schedule(at: SimInstant(microseconds: Int64(number) * 100_000)) {
        try? alice.send(Array("ping \(number)".utf8), to: bob.local)
      }
    }
    let listener = try network.listen(host: "bob", port: 5060) { connection in
      connection.onEvent = { event in
        if event == .closed { connection.close() }
      }
    }
    simulation.schedule(at: SimInstant(microseconds: 1_000_000)) {
      let holder = ConnectionBox()
      holder.connection = try? network.connect(from: "alice", to: listener.local) { event in
        guard event == .connected, let connection = holder.connection else { return }
        try? connection.send(Array(repeating: UInt8(ascii: "x"), count: 1_200))
        connection.close()
      }
    }
    simulation.runUntilIdle()
    return network
  }

  /// Lets a receive handler reply from its own socket (set once, before the run).
  final class SocketBox: @unchecked Sendable {
    var socket: DatagramSocket?
  }

  final class ConnectionBox: @unchecked Sendable {
    var connection: StreamConnection?
  }

  /// A fixed-width table of the trace: time in ms, event, endpoints, transport, details.
  static func table(_ events: [TraceEvent]) -> String {
    func pad(_ text: String, _ width: Int) -> String {
      text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
    var lines = [
      pad("t (ms)", 10) + pad("event", 12) + pad("from", 16) + pad("to", 16) + pad("via", 5)
        + "details"
    ]
    for event in events {
      let millis = String(format: "%.3f", Double(event.time) / 1000)
      var details: [String] = []
      if event.bytes > 0 { details.append("\(event.bytes) B") }
      for (name, value) in event.fields {
        switch value {
        case .string(let text): details.append("\(name)=\(text)")
        case .integer(let number): details.append("\(name)=\(number)")
        case .bool(let flag): details.append("\(name)=\(flag)")
        }
      }
      if let payload = event.payload, payload.count <= 16 {
        details.append("\"\(String(decoding: payload, as: UTF8.self))\"")
      }
      lines.append(
        pad(millis, 10) + pad(event.event, 12) + pad(event.from?.description ?? "-", 16)
          + pad(event.to?.description ?? "-", 16) + pad(event.transport?.rawValue ?? "-", 5)
          + details.joined(separator: " "))
    }
    return lines.joined(separator: "\n")
  }
}
