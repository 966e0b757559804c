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

  /// The figures, then the allocator cache depth they were measured with (every benchmark
  /// reports it: `sipsim` restarts itself with a deeper cache unless told otherwise).
  func render(json: Bool) -> String {
    let metrics = metrics + [("malloc_tcache_count", Double(AllocatorTuning.cacheCount))]
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

/// The flags of `sipsim bench kernel` and `bench transactions`, read one way: `--json`,
/// `--help`, on/off switches, and `--name N` for positive integers. Anything else is an error
/// that names the flag and the value.
struct BenchArguments {
  enum Outcome {
    case run(BenchArguments)
    /// Help was printed (0) or the arguments were wrong (2).
    case exit(Int32)
  }

  var json = false
  private var switchesOn: [String] = []
  private var integers: [(flag: String, value: Int)] = []

  func has(_ flag: String) -> Bool { switchesOn.contains(flag) }

  /// The last value given for `flag`, or `fallback`.
  func integer(_ flag: String, or fallback: Int) -> Int {
    integers.last { $0.flag == flag }?.value ?? fallback
  }

  static func parse(
    _ arguments: [String], command: String, integers integerFlags: [String],
    switches: [String] = [], usage: String
  ) -> Outcome {
    var result = BenchArguments()
    var index = 0
    while index < arguments.count {
      let argument = arguments[index]
      switch argument {
      case "--json": result.json = true
      case "--help", "-h":
        print(usage)
        return .exit(0)
      case _ where switches.contains(argument):
        result.switchesOn.append(argument)
      case _ where integerFlags.contains(argument):
        index += 1
        guard index < arguments.count else {
          CLI.fail("\(argument) needs a positive integer", usage: usage)
          return .exit(2)
        }
        guard let value = Int(arguments[index]), value > 0 else {
          CLI.fail(
            "\(argument) needs a positive integer, not '\(arguments[index])'", usage: usage)
          return .exit(2)
        }
        result.integers.append((argument, value))
      default:
        CLI.fail("unknown option '\(argument)' for \(command)", usage: usage)
        return .exit(2)
      }
      index += 1
    }
    return .run(result)
  }
}
