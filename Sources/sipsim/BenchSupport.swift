import Foundation

// This file is the only place in Sources/ allowed to read the wall clock: benchmarks measure
// real time by definition. Nothing here reaches a simulation. (TidyTests allows this file.)

/// A wall-clock stopwatch for benchmarks.
struct Stopwatch {
  private let start = ContinuousClock.now  // allowed: benchmarks measure wall time

  /// Seconds elapsed since the stopwatch was made.
  var seconds: Double {
    let elapsed = ContinuousClock.now - start  // allowed: benchmarks measure wall time
    let (whole, atto) = elapsed.components
    return Double(whole) + Double(atto) / 1e18
  }
}

/// Peak resident memory of this process in bytes (`VmHWM` of /proc/self/status), or nil where
/// the system does not say.
func peakResidentBytes() -> Int? {
  guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
    return nil
  }
  for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
    let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    return digits.map { $0 * 1024 }
  }
  return nil
}

/// The result of one benchmark. With `--json`, every `sipsim bench` command prints exactly one
/// object: `{"benchmark": "<name>", "metrics": {"<metric>": <number>, ...}}` (keys in the order
/// given), so scripts can compare runs.
struct BenchReport {
  var benchmark: String
  var metrics: [(name: String, value: Double)] = []

  mutating func add(_ name: String, _ value: Double) { metrics.append((name, value)) }

  func render(json: Bool) -> String {
    if json {
      let body = metrics.map { "\"\($0.name)\": \(Self.number($0.value))" }.joined(separator: ", ")
      return "{\"benchmark\": \"\(benchmark)\", \"metrics\": {\(body)}}"
    }
    let width = metrics.map(\.name.count).max() ?? 0
    let lines = metrics.map { metric in
      metric.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
        + Self.number(metric.value)
    }
    return ([benchmark] + lines.map { "  " + $0 }).joined(separator: "\n")
  }

  /// Integers print without a fraction; others with up to 3 decimals. JSON has no NaN/inf.
  static func number(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return String(format: "%.3f", value)
  }
}
