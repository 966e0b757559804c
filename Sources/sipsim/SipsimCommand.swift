import Foundation

/// Top-level dispatch of `sipsim`. Exit codes: 0 success, 1 the job ran and failed (an invalid
/// message, an unmet expectation), 2 a usage error (bad flag, missing file).
enum SipsimCommand {
  static let usage = """
    usage: sipsim [COMMAND] [ARGS...]

    Commands:
      run [NAME|PATH]      run a topology and print its ladder (default: `default`)
      sweep [NAME|PATH]    run a topology over many seeds; which seeds fail, and how
      list                 the bundled topologies, a line each
      demo                 the built-in kernel demo (no SIP)
      parse FILE...        parse SIP messages from files (datagram semantics)
      bench kernel         benchmark the simulation kernel      (build with -c release)
      bench parse [PATH]   benchmark the SIP parser/serializer  (build with -c release)
      bench transactions   benchmark the transaction layer      (build with -c release)
      bench calls          basic calls through a stateful proxy (build with -c release)
      bench growth         cost per call from 1k to 1M calls    (build with -c release)
      bench registrations  1M UAs registering for an hour       (build with -c release)
      help                 this text

    With no command, `sipsim` is `sipsim run default`.
    `sipsim COMMAND --help` describes a command.
    """

  static func main(_ arguments: [String]) -> Int32 {
    guard let command = arguments.first else { return RunCommand.run([]) }
    let rest = Array(arguments.dropFirst())
    switch command {
    case "run": return RunCommand.run(rest)
    case "sweep": return SweepCommand.run(rest)
    case "list": return ListCommand.run(rest)
    case "demo": return KernelDemo.run(rest)
    case "parse": return ParseCommand.run(rest)
    case "bench": return bench(rest)
    case "help", "--help", "-h":
      print(usage)
      return 0
    default:
      CLI.fail("unknown command '\(command)'", usage: usage)
      return 2
    }
  }

  static let benchUsage = """
    usage: sipsim bench <kernel|parse|transactions|calls|growth|registrations> [ARGS...] [--json]

      kernel        timer events and datagram deliveries per second, peak memory
      parse         ns per message to parse, and to parse + serialize; messages/s and MB/s
      transactions  non-INVITE transactions per second between two endpoints over UDP
      calls         basic calls per second through a stateful proxy (N callers, N callees)
      growth        the calls workload at 1k…1M calls: cost per call at each size
      registrations 1M UAs registering and refreshing for a simulated hour

    Build with -c release for meaningful numbers: swift run -c release sipsim bench kernel
    """

  static func bench(_ arguments: [String]) -> Int32 {
    guard let which = arguments.first else {
      CLI.fail("bench needs a benchmark name", usage: benchUsage)
      return 2
    }
    let rest = Array(arguments.dropFirst())
    switch which {
    case "kernel": return KernelBench.run(rest)
    case "parse": return ParseBench.run(rest)
    case "transactions": return TransactionBench.run(rest)
    case "calls": return CallsBench.run(rest)
    case "growth": return CallsBench.growth(rest)
    case "registrations": return RegistrationsBench.run(rest)
    case "--help", "-h", "help":
      print(benchUsage)
      return 0
    default:
      CLI.fail("unknown benchmark '\(which)'", usage: benchUsage)
      return 2
    }
  }
}

/// Small helpers every subcommand shares.
enum CLI {
  /// Writes `sipsim: error: <message>` and the usage text to standard error.
  static func fail(_ message: String, usage: String? = nil) {
    var text = "sipsim: error: \(message)\n"
    if let usage { text += "\n\(usage)\n" }
    FileHandle.standardError.write(Data(text.utf8))
  }

  /// Writes a progress or diagnostic line to standard error (never to stdout, which may be JSON).
  static func note(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
  }
}

/// Reads a command's arguments in order: each one, and the value after a flag that takes one.
/// `run` and `sweep` share it, with the topology they take and the flags that change a run.
struct ArgumentReader {
  private let arguments: [String]
  private let usage: String
  private var index = -1
  /// The arguments that are not flags, in order.
  private(set) var positional: [String] = []

  init(_ arguments: [String], usage: String) {
    self.arguments = arguments
    self.usage = usage
  }

  /// The next argument, or nil after the last.
  mutating func next() -> String? {
    index += 1
    return index < arguments.count ? arguments[index] : nil
  }

  /// The argument after `flag`, or nil after saying that it is missing.
  mutating func value(for flag: String) -> String? {
    guard let value = next() else {
      CLI.fail("\(flag) needs a value", usage: usage)
      return nil
    }
    return value
  }

  /// Keeps `argument` as positional; false, after saying so, when it looks like a flag.
  mutating func keep(_ argument: String) -> Bool {
    if argument.hasPrefix("-") {
      CLI.fail("unknown flag '\(argument)'", usage: usage)
      return false
    }
    positional.append(argument)
    return true
  }

  /// The one topology `command` takes (nil when none was given); false, after saying so, when
  /// more than one was.
  func topology(for command: String) -> (ok: Bool, target: String?) {
    guard positional.count <= 1 else {
      CLI.fail(
        "\(command) takes one topology, not \(positional.count): "
          + positional.joined(separator: " "))
      return (false, nil)
    }
    return (true, positional.first)
  }
}
