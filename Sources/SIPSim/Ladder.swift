public import Simulation

/// One row of a ladder diagram, worked out from the trace alone: a message between two lanes,
/// or a note beside a lane (timers, state changes) or across all of them (scenario steps,
/// faults).
public enum LadderRow: Sendable, Equatable {
  public struct Message: Sendable, Equatable {
    public var time: Int64
    public var from: Int
    public var to: Int
    /// `INVITE`, `180 Ringing`, or `TCP segment` for stream bytes that are not a whole message.
    public var label: String
    public var transport: String
    /// The same bytes on the same path again (a retransmission, RFC 3261 §17).
    public var isRetransmission: Bool
    /// Why it never arrived (`loss`, `partition`, `fault`, `host-down`, …); nil if delivered.
    public var dropped: String?
    /// The network delivered it twice.
    public var duplicated: Bool
  }

  case message(Message)
  /// A note beside lane `lane`.
  case note(time: Int64, lane: Int, text: String)
  /// A note across the diagram.
  case banner(time: Int64, text: String)
}

/// Ladder diagrams (text and Mermaid) from a trace: a lane per host (from the trace's `host`
/// events, in order), an arrow per message sent, retransmissions and drops marked, and the
/// timers, transaction, dialog and call state changes of each element beside its lane, with
/// its RFC 3263 server locations (`SRV sip:bob@biloxi.example.com: 10.0.0.2:5060/UDP …`) and
/// fail-overs (`fail-over 10.0.0.2:5060/UDP>10.0.0.3:5060/UDP (Timer B)`).
public struct Ladder: Sendable {
  public var lanes: [String]
  public var rows: [LadderRow]

  /// - Parameter verbose: also timers armed and cancelled, transactions created and
  ///   destroyed, and element logs.
  public init(_ events: [TraceEvent], verbose: Bool = false) {
    var lanes: [String] = []
    var laneByAddress: [IPAddress: Int] = [:]
    for event in events where event.event == "host" {
      guard let name = event.field("name")?.description else { continue }
      let lane = lanes.count
      lanes.append(name)
      for text in (event.field("address")?.description ?? "").split(separator: " ") {
        if let address = IPAddress(String(text)) { laneByAddress[address] = lane }
      }
    }
    func lane(of address: SocketAddress?) -> Int? {
      guard let address else { return nil }
      if let known = laneByAddress[address.address] { return known }
      laneByAddress[address.address] = lanes.count
      lanes.append(address.address.description)
      return lanes.count - 1
    }
    func lane(named name: String?) -> Int? {
      guard let name else { return nil }
      let host = name.split(separator: " ").first.map(String.init) ?? name
      return lanes.firstIndex(of: host)
    }
    var drops: [Int64: String] = [:]
    var duplicates: Set<Int64> = []
    for event in events {
      guard let packet = event.field("packet"), case .integer(let id) = packet else { continue }
      if event.event == "drop" { drops[id] = event.field("reason")?.description ?? "dropped" }
      if event.event == "duplicate" { duplicates.insert(id) }
    }
    var seen: Set<String> = []
    var rows: [LadderRow] = []
    for event in events {
      let time = event.time
      let element = event.field("element")?.description
      switch event.event {
      case "send":
        guard let from = lane(of: event.from), let to = lane(of: event.to) else { continue }
        var packet: Int64 = -1
        if case .integer(let id)? = event.field("packet") { packet = id }
        let summary = event.field("summary")?.description
        let label = summary.map(Self.shortLabel) ?? "\(event.transport?.rawValue ?? "") segment"
        let again = summary != nil && !seen.insert(Statistics.identity(event)).inserted
        rows.append(
          .message(
            .init(
              time: time, from: from, to: to, label: label,
              transport: event.transport?.rawValue ?? "", isRetransmission: again,
              dropped: drops[packet], duplicated: duplicates.contains(packet))))
      case "timer-fired":
        guard let lane = lane(named: element) else { continue }
        rows.append(.note(time: time, lane: lane, text: Self.timerNote(event, "fired")))
      case "transaction-state":
        guard let lane = lane(named: element) else { continue }
        rows.append(
          .note(
            time: time, lane: lane,
            text: "\(Self.kind(event.field("transaction"))): "
              + "\(event.field("fromState")?.description ?? "")>"
              + "\(event.field("toState")?.description ?? "")"))
      case "call-state":
        guard let lane = lane(named: element) else { continue }
        rows.append(
          .note(
            time: time, lane: lane,
            text: "call \(event.field("fromState")?.description ?? "")>"
              + "\(event.field("toState")?.description ?? "")"))
      case "dialog-state":
        guard let lane = lane(named: element) else { continue }
        rows.append(
          .note(time: time, lane: lane, text: "dialog \(event.field("state")?.description ?? "")"))
      case "server-location":
        // RFC 3263: how the element found the servers for a URI, and their order.
        guard let lane = lane(named: element) else { continue }
        rows.append(
          .note(
            time: time, lane: lane,
            text: "\(event.field("rule")?.description ?? "") "
              + "\(event.field("uri")?.description ?? ""): "
              + "\(event.field("targets")?.description ?? "")"))
      case "fail-over":
        // RFC 3263 §4.3: the next server, and why.
        guard let lane = lane(named: element) else { continue }
        rows.append(
          .note(
            time: time, lane: lane,
            text: "fail-over \(event.field("from")?.description ?? "")>"
              + "\(event.field("to")?.description ?? "") "
              + "(\(event.field("reason")?.description ?? ""))"))
      case "binding":
        rows.append(
          .banner(
            time: time,
            text: "binding \(event.field("action")?.description ?? ""): "
              + "\(event.field("aor")?.description ?? "")"))
      case "scenario":
        rows.append(.banner(time: time, text: event.field("action")?.description ?? ""))
      case "scenario-error":
        rows.append(.banner(time: time, text: "error: \(event.field("text")?.description ?? "")"))
      case "move":
        // From here on the host's lane also takes packets to and from its new address.
        if let host = lane(named: event.field("host")?.description),
          let address = (event.field("address")?.description).flatMap({ IPAddress($0) })
        {
          laneByAddress[address] = host
        }
        fallthrough  // and a banner, as for the other network changes
      case "partition", "repair", "crash", "restart", "link":
        let what = event.fields.map { $0.1.description }.joined(separator: " ")
        rows.append(.banner(time: time, text: "\(event.event) \(what)"))
      case "message-fault":
        rows.append(
          .banner(
            time: time,
            text: "fault: \(event.field("action")?.description ?? "") "
              + "\(Self.shortLabel(event.field("summary")?.description ?? "")) "
              + "(rule \(event.field("rule")?.description ?? ""), "
              + "match \(event.field("match")?.description ?? ""))"))
      case "timer-armed" where verbose, "timer-cancelled" where verbose:
        guard let lane = lane(named: element) else { continue }
        let verb = event.event == "timer-armed" ? "armed" : "cancelled"
        rows.append(.note(time: time, lane: lane, text: Self.timerNote(event, verb)))
      case "log" where verbose:
        guard let lane = lane(named: element) else { continue }
        rows.append(.note(time: time, lane: lane, text: event.field("text")?.description ?? ""))
      default:
        continue
      }
    }
    self.lanes = lanes
    self.rows = rows
  }

  /// `Timer B fired (INVITE client)`: a transaction's timer names its transaction; a proxy's
  /// own timers (C, ring, cancel-wait) name the branch of the request they watch; an agent's
  /// own (cancel-wait, 2xx) the transaction they watch, and its glare timer nothing.
  static func timerNote(_ event: TraceEvent, _ verb: String) -> String {
    let timer = event.field("timer")?.description ?? "?"
    let owner =
      event.field("transaction").map { kind($0) }
      ?? event.field("branch").map { "branch \($0)" } ?? ""
    return owner.isEmpty ? "Timer \(timer) \(verb)" : "Timer \(timer) \(verb) (\(owner))"
  }

  /// `INVITE sip:bob@b SIP/2.0` → `INVITE`; `SIP/2.0 180 Ringing` → `180 Ringing`.
  static func shortLabel(_ summary: String) -> String {
    if summary.hasPrefix("SIP/2.0 ") { return String(summary.dropFirst(8)) }
    return summary.split(separator: " ").first.map(String.init) ?? summary
  }

  /// `…/INVITE/c` → `INVITE client`.
  static func kind(_ key: TraceValue?) -> String {
    let text = key?.description ?? ""
    let parts = text.split(separator: "/")
    guard parts.count >= 2 else { return text }
    let role = parts[parts.count - 1] == "c" ? "client" : "server"
    return "\(parts[parts.count - 2]) \(role)"
  }

  /// `12.345s` for a time in microseconds.
  static func seconds(_ micros: Int64) -> String {
    let whole = micros / 1_000_000
    let millis = (micros % 1_000_000) / 1_000
    let fraction = String(millis)
    return "\(whole)." + String(repeating: "0", count: 3 - fraction.count) + fraction + "s"
  }

  // MARK: Text

  /// The ladder as text at most `width` columns wide (100 fits five hosts).
  public func text(width: Int = 100) -> String {
    let timeWidth = 10
    let count = max(1, lanes.count)
    let spacing = count == 1 ? 20 : max(8, min(24, (width - timeWidth - 2) / (count - 1)))
    let last = timeWidth + spacing * (count - 1)
    func x(_ lane: Int) -> Int { timeWidth + spacing * lane }
    func blank() -> [Character] {
      var line = [Character](repeating: " ", count: last + 1)
      for lane in 0..<count { line[x(lane)] = "|" }
      return line
    }
    func put(_ text: String, at column: Int, into line: inout [Character]) {
      for (offset, character) in text.enumerated() {
        let index = column + offset
        if index >= width { break }
        if index >= line.count {
          line.append(contentsOf: repeatElement(" ", count: index - line.count + 1))
        }
        line[index] = character
      }
    }
    func finish(_ line: [Character]) -> String {
      var text = String(line.prefix(width))
      while text.last == " " { text.removeLast() }
      return text
    }
    func stamp(_ micros: Int64, into line: inout [Character]) {
      let text = Self.seconds(micros)
      put(
        String(repeating: " ", count: max(0, timeWidth - 2 - text.count)) + text, at: 0, into: &line
      )
    }
    var output: [String] = []
    var header = [Character](repeating: " ", count: last + 1)
    for (lane, name) in lanes.enumerated() {
      let label = String(name.prefix(spacing - 1))
      let start = max(0, min(x(lane) - label.count / 2, width - label.count))
      put(label, at: start, into: &header)
    }
    output.append(finish(header))
    output.append(finish(blank()))
    for row in rows {
      var line = blank()
      switch row {
      case .message(let message):
        stamp(message.time, into: &line)
        var label = message.label
        if message.isRetransmission { label += " (re)" }
        if message.duplicated { label += " x2" }
        if let reason = message.dropped { label += " [\(reason)]" }
        let from = x(message.from)
        let to = x(message.to)
        if from == to {
          put("<-' \(label) \(message.transport)", at: from + 1, into: &line)
          break
        }
        let low = min(from, to) + 1
        let high = max(from, to) - 1
        // A lost message keeps its full length but ends in X instead of an arrowhead.
        let head: Character = message.dropped == nil ? (to < from ? "<" : ">") : "X"
        for index in low...high { line[index] = "-" }
        line[to < from ? low : high] = head
        let gap = high - low - 3
        var text = label
        if text.count + message.transport.count + 1 <= gap { text += " " + message.transport }
        if text.count > gap, gap > 0 { text = String(text.prefix(gap)) }
        put(text, at: low + 1, into: &line)
      case .note(let time, let lane, let text):
        stamp(time, into: &line)
        // Beside its lane: to the right when it fits, else to the left, else cut.
        let right = x(lane) + 2
        if right + text.count <= width || x(lane) - 2 - text.count < timeWidth {
          put(text, at: right, into: &line)
        } else {
          put(text + " -", at: x(lane) - 2 - text.count, into: &line)
        }
      case .banner(let time, let text):
        stamp(time, into: &line)
        put("== \(text) ==", at: timeWidth - 1, into: &line)
      }
      output.append(finish(line))
    }
    return output.joined(separator: "\n") + "\n"
  }

  // MARK: Mermaid

  /// The ladder as a Mermaid sequence diagram (paste into any Markdown that renders Mermaid).
  public func mermaid() -> String {
    func id(_ lane: Int) -> String { "h\(lane)" }
    func clean(_ text: String) -> String {
      String(text.map { ";#:".contains($0) ? " " : $0 })
    }
    var lines = ["sequenceDiagram"]
    for (lane, name) in lanes.enumerated() { lines.append("  participant \(id(lane)) as \(name)") }
    for row in rows {
      switch row {
      case .message(let message):
        var label = "\(message.label) \(message.transport)"
        if message.isRetransmission { label += " (retransmission)" }
        if message.duplicated { label += " (duplicated)" }
        if let reason = message.dropped { label += " (lost: \(reason))" }
        let arrow = message.dropped != nil ? "-x" : message.isRetransmission ? "-->>" : "->>"
        lines.append(
          "  \(id(message.from))\(arrow)\(id(message.to)): \(Self.seconds(message.time)) "
            + clean(label))
      case .note(let time, let lane, let text):
        lines.append("  Note right of \(id(lane)): \(Self.seconds(time)) \(clean(text))")
      case .banner(let time, let text):
        let span = lanes.count > 1 ? "\(id(0)),\(id(lanes.count - 1))" : id(0)
        lines.append("  Note over \(span): \(Self.seconds(time)) \(clean(text))")
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }
}
