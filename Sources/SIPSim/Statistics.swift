public import Simulation

/// SIPp-like statistics of a run, from its trace alone: calls attempted, answered and failed
/// (by final status), messages and retransmissions per kind, transaction timeouts, drops by
/// reason, and call set-up times (INVITE sent to 2xx received at the caller) in virtual time.
public struct Statistics: Sendable, Equatable {
  public var attempted = 0
  public var answered = 0
  /// Calls that ended unanswered, by the caller's final status (`"none"` when there was none).
  public var failed: [(status: String, count: Int)] = []
  /// Messages sent, by method or status code, first sending and retransmissions apart.
  public var messages: [(kind: String, sent: Int, retransmitted: Int)] = []
  /// Client transactions that timed out: Timer B (INVITE) and F (non-INVITE); and INVITE
  /// server transactions whose ACK never came (Timer H).
  public var timeouts: [(timer: String, count: Int)] = []
  public var drops: [(reason: String, count: Int)] = []
  /// Set-up times in microseconds, sorted.
  public var setupTimes: [Int64] = []

  public static func == (lhs: Statistics, rhs: Statistics) -> Bool {
    lhs.report() == rhs.report()
  }

  public init(_ events: [TraceEvent]) {
    var started: [String: Int64] = [:]
    var failedCounts: [String: Int] = [:]
    var sent: [String: (Int, Int)] = [:]
    var order: [String] = []
    var timeouts: [String: Int] = [:]
    var drops: [String: Int] = [:]
    var seen: Set<String> = []
    for event in events {
      switch event.event {
      case "call-state" where event.field("side")?.description == "caller":
        guard let callID = event.field("callId")?.description else { continue }
        let to = event.field("toState")?.description
        if event.field("fromState")?.description == "Idle" {
          attempted += 1
          started[callID] = event.time
        }
        if to == "Confirmed", let start = started.removeValue(forKey: callID) {
          answered += 1
          setupTimes.append(event.time - start)
        }
      case "call-ended" where event.field("side")?.description == "caller":
        if event.field("answered") != .bool(true) {
          failedCounts[event.field("status")?.description ?? "none", default: 0] += 1
        }
      case "send":
        guard let summary = event.field("summary")?.description else { continue }
        let kind = Self.kind(summary)
        if sent[kind] == nil { order.append(kind) }
        let again = !seen.insert(Self.identity(event)).inserted
        var counts = sent[kind] ?? (0, 0)
        if again { counts.1 += 1 } else { counts.0 += 1 }
        sent[kind] = counts
      case "timer-fired":
        let timer = event.field("timer")?.description ?? ""
        if ["B", "F", "H"].contains(timer) { timeouts[timer, default: 0] += 1 }
      case "drop":
        drops[event.field("reason")?.description ?? "?", default: 0] += 1
      default:
        continue
      }
    }
    failed = failedCounts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    messages = order.map { ($0, sent[$0]?.0 ?? 0, sent[$0]?.1 ?? 0) }
    self.timeouts = timeouts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    self.drops = drops.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    setupTimes.sort()
  }

  /// `INVITE` or `200` (a response's status code).
  static func kind(_ summary: String) -> String {
    if summary.hasPrefix("SIP/2.0 ") { return String(summary.dropFirst(8).prefix(3)) }
    return summary.split(separator: " ").first.map(String.init) ?? summary
  }

  /// What makes a sent message "the same again": path, start line, CSeq, branch, Call-ID.
  static func identity(_ event: TraceEvent) -> String {
    [
      event.from?.description ?? "", event.to?.description ?? "",
      event.field("summary")?.description ?? "", event.field("cseq")?.description ?? "",
      event.field("branch")?.description ?? "", event.field("callId")?.description ?? "",
    ].joined(separator: "|")
  }

  /// The nearest-rank percentile `p` (0...100) of the set-up times, in microseconds.
  public func percentile(_ p: Double) -> Int64? {
    guard !setupTimes.isEmpty else { return nil }
    let rank = Int((p / 100 * Double(setupTimes.count)).rounded(.up))
    return setupTimes[min(setupTimes.count - 1, max(0, rank - 1))]
  }

  /// The statistics as a text table.
  public func report() -> String {
    var lines = ["Statistics"]
    let failedTotal = failed.reduce(0) { $0 + $1.count }
    lines.append(
      "  calls      attempted \(attempted)  answered \(answered)  failed \(failedTotal)")
    for (status, count) in failed { lines.append("             failed with \(status): \(count)") }
    if !setupTimes.isEmpty {
      let parts = [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)].map {
        "\($0.0) \(Ladder.seconds(percentile($0.1) ?? 0))"
      }
      lines.append("  set-up     " + parts.joined(separator: "  "))
    }
    lines.append("  messages   kind        sent  retransmitted")
    for message in messages {
      lines.append(
        "             " + message.kind.padding(toLength: 10, withPad: " ", startingAt: 0)
          + String(message.sent).leftPadded(6) + String(message.retransmitted).leftPadded(15))
    }
    let timeoutText = timeouts.map { "Timer \($0.timer): \($0.count)" }.joined(separator: "  ")
    lines.append("  timeouts   " + (timeoutText.isEmpty ? "none" : timeoutText))
    let dropText = drops.map { "\($0.reason): \($0.count)" }.joined(separator: "  ")
    lines.append("  drops      " + (dropText.isEmpty ? "none" : dropText))
    return lines.joined(separator: "\n")
  }
}

extension String {
  func leftPadded(_ width: Int) -> String {
    count >= width ? self : String(repeating: " ", count: width - count) + self
  }
}
