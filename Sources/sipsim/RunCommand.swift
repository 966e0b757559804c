import Foundation
import SIPSim
import Simulation

/// `sipsim run <name|path> [flags]`: builds a topology, runs it, prints its ladder, writes the
/// requested files and checks the expectations. Exit 0 when they hold, 1 when not, 2 for a
/// usage or topology error.
enum RunCommand {
  static let usage = """
    usage: sipsim run [NAME|PATH] [--seed N] [--loss P] [--latency D] [--jitter D]
                      [--duplicate P] [--reorder P] [--duration D]
                      [--ladder text|mermaid|none] [--width N] [--trace FILE.jsonl]
                      [--pcap FILE.pcap] [--stats] [--verbose]

    Runs a topology (a bundled NAME from `sipsim list`, or a PATH to a .json file; default:
    `default`) and prints its ladder diagram. Exits 0 when the topology's expectations hold,
    1 when one does not (each is named), 2 for a bad flag or a bad topology file.

      --seed N        seed of every random draw (default: the topology's)
      --loss P        loss probability 0...1 on every link
      --latency D     fixed one-way latency of every link (500ms, 2s, 20us)
      --jitter D      uniform jitter of at most D on every link
      --duplicate P   duplication probability 0...1 on every link
      --reorder P     reordering probability 0...1 on every link
      --duration D    virtual time to run (default: the topology's)
      --ladder KIND   text (default), mermaid or none
      --width N       text ladder width in columns (default 100)
      --trace FILE    write the trace as JSON Lines (one object per event)
      --pcap FILE     write every delivered packet to a pcap file (Wireshark, tshark)
      --stats         print SIPp-like statistics
      --verbose       more detail: timers armed/cancelled, element logs, every check
    """

  struct Options {
    var target = "default"
    var run = RunOptions()
    var ladder = "text"
    var width = 100
    var trace: String?
    var pcap: String?
    var stats = false
    var verbose = false
  }

  /// Stops parsing with an exit code: 0 after help, 2 after an error.
  struct Exit: Error {
    var code: Int32
  }

  /// Parses the flags, or stops after printing help or an error.
  static func parse(_ arguments: [String]) -> Result<Options, Exit> {
    var options = Options()
    var reader = ArgumentReader(arguments, usage: usage)
    func value(_ flag: String) -> String? { reader.value(for: flag) }
    while let argument = reader.next() {
      switch argument {
      case "--help", "-h":
        print(usage)
        return .failure(Exit(code: 0))
      case "--seed":
        guard let text = value(argument) else { return .failure(Exit(code: 2)) }
        guard let seed = UInt64(text) else {
          CLI.fail("--seed takes a non-negative integer, not '\(text)'")
          return .failure(Exit(code: 2))
        }
        options.run.seed = seed
      case _ where linkFlags.contains(argument):
        guard let text = value(argument), linkOption(argument, text, into: &options.run) else {
          return .failure(Exit(code: 2))
        }
      case "--ladder":
        guard let text = value(argument) else { return .failure(Exit(code: 2)) }
        guard ["text", "mermaid", "none"].contains(text) else {
          CLI.fail("--ladder is text, mermaid or none, not '\(text)'")
          return .failure(Exit(code: 2))
        }
        options.ladder = text
      case "--width":
        guard let text = value(argument) else { return .failure(Exit(code: 2)) }
        guard let width = Int(text), (40...1000).contains(width) else {
          CLI.fail("--width takes a number of columns from 40 to 1000, not '\(text)'")
          return .failure(Exit(code: 2))
        }
        options.width = width
      case "--trace":
        guard let text = value(argument) else { return .failure(Exit(code: 2)) }
        options.trace = text
      case "--pcap":
        guard let text = value(argument) else { return .failure(Exit(code: 2)) }
        options.pcap = text
      case "--stats": options.stats = true
      case "--verbose", "-v": options.verbose = true
      default:
        guard reader.keep(argument) else { return .failure(Exit(code: 2)) }
      }
    }
    let (ok, target) = reader.topology(for: "run")
    guard ok else { return .failure(Exit(code: 2)) }
    if let target { options.target = target }
    return .success(options)
  }

  /// A flag that changes every link or the run's length (`--loss`, `--latency`, `--jitter`,
  /// `--duplicate`, `--reorder`, `--duration`) with its value, which `run` and `sweep` share:
  /// what a run may change without editing the topology. False after printing what is wrong.
  static func linkOption(_ flag: String, _ text: String, into run: inout RunOptions) -> Bool {
    let probabilities: [String: WritableKeyPath<RunOptions, Double?>] = [
      "--loss": \.loss, "--duplicate": \.duplicate, "--reorder": \.reorder,
    ]
    let spans: [String: WritableKeyPath<RunOptions, Duration?>] = [
      "--latency": \.latency, "--jitter": \.jitter, "--duration": \.duration,
    ]
    if let field = probabilities[flag] {
      guard let probability = Double(text), (0...1).contains(probability) else {
        CLI.fail("\(flag) takes a probability from 0 to 1, not '\(text)'")
        return false
      }
      run[keyPath: field] = probability
    } else if let field = spans[flag] {
      guard let span = TimeSpan.parse(text) else {
        CLI.fail("\(flag) takes a time span such as 20ms or 1.5s, not '\(text)'")
        return false
      }
      run[keyPath: field] = span
    }
    return true
  }

  /// The flags ``linkOption(_:_:into:)`` takes.
  static let linkFlags: Set<String> = [
    "--loss", "--latency", "--jitter", "--duplicate", "--reorder", "--duration",
  ]

  static func run(_ arguments: [String]) -> Int32 {
    let options: Options
    switch parse(arguments) {
    case .success(let parsed): options = parsed
    case .failure(let exit): return exit.code
    }
    let topology: Topology
    let simulation: TopologyRun
    do {
      topology = try TopologyLibrary.load(options.target)
      simulation = try TopologyRun(topology, options: options.run)
    } catch {
      CLI.fail(error.description)
      return 2
    }
    let outcome = simulation.run()
    if options.verbose, let notes = topology.notes { print(notes + "\n") }
    switch options.ladder {
    case "text": print(Ladder(outcome.trace, verbose: options.verbose).text(width: options.width))
    case "mermaid": print(Ladder(outcome.trace, verbose: options.verbose).mermaid())
    default: break
    }
    if let path = options.trace {
      let text = outcome.trace.map(\.jsonLine).joined(separator: "\n") + "\n"
      guard write(Data(text.utf8), to: path) else { return 2 }
    }
    if let path = options.pcap {
      guard write(Data(Pcap.file(outcome.trace)), to: path) else { return 2 }
    }
    if options.stats { print(Statistics(outcome.trace).report()) }
    let head =
      "\(topology.name) (seed \(outcome.seed), \(TimeSpan.format(outcome.duration)) of virtual time)"
    if options.verbose { for check in outcome.checks { print("  ok: \(check)") } }
    if outcome.passed {
      print("PASS \(head): \(outcome.checks.count) expectation(s) hold")
      return 0
    }
    print("FAIL \(head):")
    for failure in outcome.failures { print("  - \(failure)") }
    return 1
  }

  static func write(_ data: Data, to path: String) -> Bool {
    do {
      try data.write(to: URL(fileURLWithPath: path))
      return true
    } catch {
      CLI.fail("cannot write \(path): \(error.localizedDescription)")
      return false
    }
  }
}

/// `sipsim list`: the bundled topologies, a line each.
enum ListCommand {
  static let usage = """
    usage: sipsim list

    Lists the bundled topologies (the Topologies/ folder of this package, or $SIPSIM_TOPOLOGIES)
    with the one-line summary of each. Run one with `sipsim run NAME`.
    """

  static func run(_ arguments: [String]) -> Int32 {
    if arguments.contains("--help") || arguments.contains("-h") {
      print(usage)
      return 0
    }
    if let extra = arguments.first {
      CLI.fail("list takes no arguments, not '\(extra)'", usage: usage)
      return 2
    }
    let names = TopologyLibrary.names()
    guard !names.isEmpty else {
      CLI.fail(
        "no bundled topologies found (looked in "
          + TopologyLibrary.searchPaths.map(\.path).joined(separator: ", ") + ")")
      return 2
    }
    let width = names.map(\.count).max() ?? 0
    var failed = false
    for name in names {
      do {
        let topology = try TopologyLibrary.load(name)
        print(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + topology.summary)
      } catch {
        failed = true
        print(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  (broken: \(error))")
      }
    }
    return failed ? 1 : 0
  }
}
