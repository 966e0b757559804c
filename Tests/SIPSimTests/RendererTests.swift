import Foundation
import SIPSim
import Simulation
import Testing

@testable import sipsim

@Suite struct LadderTests {
  static func golden(_ name: String) throws -> String {
    let url = try #require(Bundle.module.url(forResource: "Golden/\(name)", withExtension: "txt"))
    return try String(contentsOf: url, encoding: .utf8)
  }

  /// The ladders in Tests/SIPSimTests/Golden were printed by `sipsim run NAME` and read by a
  /// person; a change to them is a change to what users see.
  @Test(arguments: [
    "default", "rfc3665-3.9", "cancel-race", "cancel-no-487", "proxy-cancel-no-487",
    "rfc3665-3.7", "rfc3263-failover", "invite-expires", "rfc3263-proxy-failover",
  ])
  func matchesItsGolden(name: String) throws {
    let ladder = Ladder(try run(name).trace).text()
    #expect(ladder == (try Self.golden(name)))
  }

  @Test func fitsHundredColumnsForFiveHosts() throws {
    let ladder = Ladder(try run("forking").trace).text()
    let lines = ladder.split(separator: "\n")
    #expect(lines.first?.contains("bob-mobile") == true)
    #expect(lines.allSatisfy { $0.count <= 100 })
  }

  @Test func marksRetransmissionsAndDrops() throws {
    let ladder = Ladder(try run("lossy-retransmission").trace)
    let messages = ladder.rows.compactMap { row -> LadderRow.Message? in
      if case .message(let message) = row { return message }
      return nil
    }
    #expect(messages.contains { $0.label == "INVITE" && $0.dropped == "fault" })
    #expect(messages.contains { $0.label == "INVITE" && $0.isRetransmission })
    let text = ladder.text()
    #expect(text.contains("INVITE (re)"))
    #expect(text.contains("Timer A fired (INVITE client)"))
    #expect(text.contains("call Early>Confirmed"))
  }

  /// RFC 3263: a server location and a fail-over are notes beside the element's lane.
  @Test func serverLocationAndFailOverAreNotes() {
    let events = [
      TraceEvent(
        time: 0, event: "host",
        fields: [("name", .string("alice")), ("address", .string("10.0.0.1"))]),
      TraceEvent(
        time: 1, event: "server-location",
        fields: [
          ("element", .string("alice")), ("uri", .string("sip:bob@biloxi.example.com")),
          ("rule", .string("SRV")), ("transport", .string("UDP")),
          ("queries", .string("SRV _sip._udp.biloxi.example.com: p1:5060 p2:5060")),
          ("targets", .string("10.0.0.2:5060/UDP 10.0.0.3:5060/UDP")),
        ]),
      TraceEvent(
        time: 2, event: "fail-over",
        fields: [
          ("element", .string("alice")), ("method", .string("INVITE")),
          ("from", .string("10.0.0.2:5060/UDP")), ("to", .string("10.0.0.3:5060/UDP")),
          ("reason", .string("Timer B")),
        ]),
    ]
    let notes = Ladder(events).rows.compactMap { row -> String? in
      if case .note(_, 0, let text) = row { return text }
      return nil
    }
    #expect(
      notes == [
        "SRV sip:bob@biloxi.example.com: 10.0.0.2:5060/UDP 10.0.0.3:5060/UDP",
        "fail-over 10.0.0.2:5060/UDP>10.0.0.3:5060/UDP (Timer B)",
      ])
  }

  /// A transaction's timer names its transaction; a proxy's own (Timer C, the §9.1
  /// cancel-wait) names the branch it watches, where the note printed empty parentheses.
  @Test func aTimerNamesItsTransactionOrBranch() {
    let events = [
      TraceEvent(
        time: 0, event: "host",
        fields: [("name", .string("proxy")), ("address", .string("10.0.0.1"))]),
      TraceEvent(
        time: 1, event: "timer-fired",
        fields: [
          ("element", .string("proxy")), ("transaction", .string("z9hG4bKa/INVITE/c")),
          ("timer", .string("A")),
        ]),
      TraceEvent(
        time: 2, event: "timer-fired",
        fields: [
          ("element", .string("proxy")), ("timer", .string("cancel-wait")),
          ("branch", .integer(1)),
        ]),
      TraceEvent(
        time: 3, event: "timer-fired",
        fields: [("element", .string("proxy")), ("timer", .string("X"))]),
    ]
    let text = Ladder(events).text()
    #expect(text.contains("Timer A fired (INVITE client)"), "\(text)")
    #expect(text.contains("Timer cancel-wait fired (branch 1)"), "\(text)")
    #expect(text.contains("Timer X fired\n") || text.hasSuffix("Timer X fired"), "\(text)")
    #expect(!text.contains("()"), "\(text)")
    // Verbose, an arming names its owner the same way.
    let armed = [
      events[0],
      TraceEvent(
        time: 1, event: "timer-armed",
        fields: [
          ("element", .string("proxy")), ("timer", .string("C")), ("branch", .integer(0)),
          ("duration", .integer(181_000_000)),
        ]),
      TraceEvent(
        time: 2, event: "timer-cancelled",
        fields: [
          ("element", .string("proxy")), ("transaction", .string("z9hG4bKa/INVITE/s")),
          ("timer", .string("2xx")),
        ]),
    ]
    let verbose = Ladder(armed, verbose: true).text()
    #expect(verbose.contains("Timer C armed (branch 0)"), "\(verbose)")
    #expect(verbose.contains("Timer 2xx cancelled (INVITE server)"), "\(verbose)")
    #expect(!Ladder(armed).text().contains("Timer C"))
  }

  @Test func mermaid() throws {
    let diagram = Ladder(try run("rfc3665-3.9").trace).mermaid()
    let lines = diagram.split(separator: "\n")
    #expect(lines.first == "sequenceDiagram")
    #expect(lines.contains("  participant h0 as alice"))
    #expect(lines.contains { $0.hasPrefix("  h0->>h1: ") && $0.hasSuffix("INVITE UDP") })
    #expect(lines.contains { $0.contains("486 Busy Here") })
  }
}

@Suite struct StatisticsTests {
  @Test func countsCallsRetransmissionsTimeoutsAndSetUp() throws {
    let lossy = Statistics(try run("lossy-retransmission").trace)
    #expect(lossy.attempted == 1 && lossy.answered == 1)
    let invites = try #require(lossy.messages.first { $0.kind == "INVITE" })
    #expect(invites.retransmitted >= 2)
    #expect(lossy.drops.contains { $0.reason == "fault" && $0.count == 1 })
    let setup = try #require(lossy.percentile(50))
    #expect(setup > 1_500_000)  // two INVITEs lost before one got through

    let busy = Statistics(try run("rfc3665-3.9").trace)
    #expect(busy.attempted == 1 && busy.answered == 0)
    #expect(busy.failed.map(\.status) == ["486"])
    let silent = Statistics(try run("rfc3665-3.10").trace)
    #expect(silent.timeouts.contains { $0.timer == "B" })
    #expect(silent.report().contains("failed with 480: 1"))
  }
}

@Suite struct PcapTests {
  struct Reader {
    var bytes: [UInt8]
    var offset = 0
    mutating func take(_ count: Int) throws -> [UInt8] {
      guard offset + count <= bytes.count else { throw CocoaError(.fileReadCorruptFile) }
      defer { offset += count }
      return Array(bytes[offset..<offset + count])
    }
    mutating func le32() throws -> UInt32 {
      try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }
  }

  static func be16(_ bytes: [UInt8], _ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }

  /// Every record: Ethernet + IPv4 + UDP with lengths that add up, a valid IPv4 header
  /// checksum and a valid UDP checksum, the exact payload delivered, virtual timestamps.
  @Test func structureLengthsAndChecksums() throws {
    let trace = try run("default").trace
    let delivered = trace.filter { $0.event == "deliver" }
    var reader = Reader(bytes: Pcap.file(trace))
    #expect(try reader.le32() == 0xa1b2_c3d4)
    _ = try reader.take(16)
    #expect(try reader.le32() == 1)
    for event in delivered {
      let seconds = try reader.le32()
      let micros = try reader.le32()
      #expect(Int64(seconds) * 1_000_000 + Int64(micros) == event.time)
      let length = Int(try reader.le32())
      #expect(Int(try reader.le32()) == length)
      let frame = try reader.take(length)
      #expect(Self.be16(frame, 12) == 0x0800)
      let ip = Array(frame[14...])
      #expect(ip[0] == 0x45 && ip[9] == 17)
      #expect(Self.be16(ip, 2) == ip.count)
      #expect(Pcap.checksum(Array(ip[0..<20])) == 0, "IPv4 header checksum")
      let udp = Array(ip[20...])
      #expect(Self.be16(udp, 4) == udp.count)
      #expect(Self.be16(udp, 0) == Int(event.from?.port ?? 0))
      let pseudo = Array(ip[12..<20]) + [0, 17, UInt8(udp.count >> 8), UInt8(udp.count & 0xFF)]
      #expect(Pcap.checksum(pseudo + udp) == 0, "UDP checksum")
      #expect(Array(udp[8...]) == event.payload)
    }
    #expect(reader.offset == reader.bytes.count)
  }
}

@Suite struct CommandLineTests {
  @Test(arguments: [
    ["--seed", "x"], ["--loss", "2"], ["--latency", "fast"], ["--ladder", "svg"], ["--frobnicate"],
    ["--trace"], ["a", "b"], ["--width", "5"], ["--duplicate", "1.5"], ["--reorder", "x"],
    ["--jitter", "fast"],
  ])
  func badFlagsExitTwo(arguments: [String]) {
    guard case .failure(let exit) = RunCommand.parse(arguments) else {
      Issue.record("\(arguments) parsed")
      return
    }
    #expect(exit.code == 2)
  }

  @Test func flagsParse() throws {
    guard
      case .success(let options) = RunCommand.parse([
        "forking", "--seed", "9", "--loss", "0.1", "--latency", "30ms", "--duration", "1m",
        "--ladder", "mermaid", "--stats", "--verbose", "--trace", "t.jsonl", "--pcap", "p.pcap",
        "--jitter", "5ms", "--duplicate", "0.05", "--reorder", "0.2",
      ])
    else {
      Issue.record("did not parse")
      return
    }
    #expect(options.target == "forking" && options.run.seed == 9 && options.run.loss == 0.1)
    #expect(options.run.latency == .milliseconds(30) && options.run.duration == .seconds(60))
    #expect(options.ladder == "mermaid" && options.stats && options.verbose)
    #expect(options.trace == "t.jsonl" && options.pcap == "p.pcap")
    #expect(options.run.jitter == .milliseconds(5) && options.run.duplicate == 0.05)
    #expect(options.run.reorder == 0.2)
  }

  /// `--duplicate`, `--reorder` and `--jitter` reach every link, pairs included: with
  /// duplication certain every datagram is delivered twice; with reordering certain (and the
  /// topology's 10 ms jitter taken away) every one is held back by the link's reorder delay
  /// (20 ms); with jitter a delivery is late by up to the bound and no more.
  @Test func duplicationReorderingAndJitterReachEveryLink() throws {
    let topology = try TopologyLibrary.load("lossy-retransmission")
    func deliveries(_ options: RunOptions) throws -> [TraceEvent] {
      try TopologyRun(topology, options: options).run().trace.filter {
        $0.event == "deliver" || $0.event == "duplicate"
      }
    }
    let plain = try deliveries(RunOptions(loss: 0, latency: .milliseconds(15)))
    let sends = plain.filter { $0.event == "deliver" }.count
    let doubled = try deliveries(RunOptions(loss: 0, latency: .milliseconds(15), duplicate: 1))
    #expect(doubled.filter { $0.event == "duplicate" }.count >= sends)
    let trace = try TopologyRun(
      topology, options: RunOptions(loss: 0, latency: .milliseconds(15), jitter: .zero, reorder: 1)
    ).run().trace
    var sent: [Int64: Int64] = [:]
    for event in trace where event.event == "send" {
      if case .integer(let packet) = event.field("packet") { sent[packet] = event.time }
    }
    let late = trace.filter { $0.event == "deliver" }.compactMap { event -> Int64? in
      guard case .integer(let packet) = event.field("packet"), let at = sent[packet] else {
        return nil
      }
      return event.time - at
    }
    #expect(!late.isEmpty && late.allSatisfy { $0 == 35_000 }, "\(Set(late))")
    let jittered = try TopologyRun(
      topology, options: RunOptions(loss: 0, latency: .milliseconds(15), jitter: .milliseconds(4))
    ).run().trace
    sent = [:]
    for event in jittered where event.event == "send" {
      if case .integer(let packet) = event.field("packet") { sent[packet] = event.time }
    }
    let delays = jittered.filter { $0.event == "deliver" }.compactMap { event -> Int64? in
      guard case .integer(let packet) = event.field("packet"), let at = sent[packet] else {
        return nil
      }
      return event.time - at
    }
    #expect(delays.allSatisfy { (15_000...19_000).contains($0) } && Set(delays).count > 1)
  }

  @Test func exitCodes() throws {
    #expect(RunCommand.run(["no-such-topology", "--ladder", "none"]) == 2)
    #expect(SipsimCommand.main(["frobnicate"]) == 2)
    #expect(SipsimCommand.main(["run", "--help"]) == 0)
    #expect(SipsimCommand.main(["list", "--help"]) == 0)
    let broken = FileManager.default.temporaryDirectory.appendingPathComponent(
      "sipsim-broken-\(getpid()).json")
    defer { try? FileManager.default.removeItem(at: broken) }
    try Data("{\"hosts\": [}".utf8).write(to: broken)
    #expect(RunCommand.run([broken.path, "--ladder", "none"]) == 2)
    // A topology whose expectation fails: exit 1.
    let failing = FileManager.default.temporaryDirectory.appendingPathComponent(
      "sipsim-failing-\(getpid()).json")
    defer { try? FileManager.default.removeItem(at: failing) }
    try Data(
      #"""
      {"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}, {"name": "b", "role": "ua", "aor": "sip:b@y", "behaviour": "busy"}],
       "scenario": [{"at": "0s", "action": "call", "from": "a", "to": "sip:b@10.0.0.2", "call": "c"}],
       "expect": {"calls": [{"call": "c", "answered": true}]}}
      """#.utf8
    ).write(to: failing)
    #expect(RunCommand.run([failing.path, "--ladder", "none"]) == 1)
  }
}
