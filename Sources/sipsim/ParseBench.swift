import Foundation
import SIPCore

/// `sipsim bench parse [FILE|DIR...] [--json]`: parses, and parses then serializes, the given
/// messages in a loop. Default: the RFC 3665 corpus bundled under Tests/SIPCoreTests/Resources.
enum ParseBench {
  static let usage = """
    usage: sipsim bench parse [FILE|DIR...] [--json] [--seconds S]

      Parses every message (one per .sip file) in a loop for about S seconds (default 2) and
      reports ns per message for parse alone and for parse + serialize, messages/s and MB/s.
      Default input: Tests/SIPCoreTests/Resources/rfc3665 (run from the package root).
    """

  static func run(_ arguments: [String]) -> Int32 {
    var json = false
    var seconds = 2.0
    var paths: [String] = []
    var index = 0
    while index < arguments.count {
      let argument = arguments[index]
      switch argument {
      case "--json": json = true
      case "--seconds":
        index += 1
        guard index < arguments.count, let value = Double(arguments[index]), value > 0 else {
          CLI.fail("--seconds needs a positive number", usage: usage)
          return 2
        }
        seconds = value
      case "--help", "-h":
        print(usage)
        return 0
      default:
        if argument.hasPrefix("-") {
          CLI.fail("unknown option '\(argument)' for bench parse", usage: usage)
          return 2
        }
        paths.append(argument)
      }
      index += 1
    }
    if paths.isEmpty { paths = ["Tests/SIPCoreTests/Resources/rfc3665"] }
    var messages: [[UInt8]] = []
    for path in paths {
      guard let found = load(path) else {
        CLI.fail("cannot read '\(path)': no such file or directory")
        return 2
      }
      messages += found
    }
    // Only messages that parse are timed (the corpus is all valid).
    messages = messages.filter { (try? SIPMessage.parse($0)) != nil }
    guard !messages.isEmpty else {
      CLI.fail("no parsable SIP message found in \(paths.joined(separator: ", "))")
      return 2
    }
    let totalBytes = messages.reduce(0) { $0 + $1.count }
    func measure(_ body: ([UInt8]) -> Int) -> (nanoseconds: Double, rounds: Int) {
      var rounds = 0
      var sink = 0
      let stopwatch = Stopwatch()
      repeat {
        for message in messages { sink &+= body(message) }
        rounds += 1
      } while stopwatch.seconds < seconds
      let elapsed = stopwatch.seconds
      if sink == 42 { CLI.note("") }  // keeps the work observable to the optimizer
      return (elapsed * 1e9 / Double(rounds * messages.count), rounds)
    }
    let parse = measure { bytes in (try? SIPMessage.parse(bytes))?.headers.count ?? 0 }
    let both = measure { bytes in (try? SIPMessage.parse(bytes))?.serialized().count ?? 0 }
    var report = BenchReport(benchmark: "parse")
    report.add("messages", Double(messages.count))
    report.add("mean_bytes", Double(totalBytes) / Double(messages.count))
    report.add("parse_ns_per_message", parse.nanoseconds)
    report.add("parse_serialize_ns_per_message", both.nanoseconds)
    report.add("parse_messages_per_second", 1e9 / parse.nanoseconds)
    report.add(
      "parse_mb_per_second",
      Double(totalBytes) / Double(messages.count) / parse.nanoseconds * 1e9 / 1_000_000)
    if let peak = peakResidentBytes() { report.add("peak_rss_mb", Double(peak) / 1_048_576) }
    print(report.render(json: json))
    return 0
  }

  /// The messages in a file, or in every `.sip` file under a directory (sorted by path).
  static func load(_ path: String) -> [[UInt8]]? {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      return nil
    }
    if !isDirectory.boolValue {
      return FileManager.default.contents(atPath: path).map { [Array($0)] }
    }
    guard let enumerator = FileManager.default.enumerator(atPath: path) else { return nil }
    var files: [String] = []
    while let relative = enumerator.nextObject() as? String {
      if relative.hasSuffix(".sip") && !relative.contains("/variants/") { files.append(relative) }
    }
    return files.sorted().compactMap { FileManager.default.contents(atPath: path + "/" + $0) }
      .map { Array($0) }
  }
}
