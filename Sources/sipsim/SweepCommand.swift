import Foundation
import SIPSim
import Simulation

/// `sipsim sweep <name|path> --seeds A...B [flags]`: runs a topology once per seed and reports
/// which seeds fail which expectations. Exit 0 when every seed passes, 1 when one does not, 2
/// for a usage or topology error.
enum SweepCommand {
  static let usage = """
    usage: sipsim sweep [NAME|PATH] [--seeds A...B | --seeds N] [--loss P] [--latency D]
                        [--jitter D] [--duplicate P] [--reorder P] [--duration D]
                        [--json] [--quiet]

    Runs a topology (a bundled NAME from `sipsim list`, or a PATH to a .json file; default:
    `default`) once for each seed and checks its expectations each time. Prints how many seeds
    passed, each expectation that failed with the seeds it failed on and what happened instead,
    and the command that replays the first failing seed. Exits 0 when every seed passes, 1 when
    one does not, 2 for a bad flag or a bad topology file.

      --seeds A...B   the seeds to run, A to B inclusive (default 1...100)
      --seeds N       the same as 1...N
      --loss P        loss probability 0...1 on every link
      --latency D     fixed one-way latency of every link (500ms, 2s, 20us)
      --jitter D      uniform jitter of at most D on every link
      --duplicate P   duplication probability 0...1 on every link
      --reorder P     reordering probability 0...1 on every link
      --duration D    virtual time to run each seed (default: the topology's)
      --json          the report as one JSON object on standard output
      --quiet         no progress on standard error
    """

  struct Options {
    var target = "default"
    var seeds: ClosedRange<UInt64> = 1...100
    var run = RunOptions()
    var json = false
    var quiet = false
  }

  /// The most seeds one sweep runs: a bound on a typo (`--seeds 1...10000000000`), not on the
  /// machine; a million runs of a small topology take hours.
  static let maxSeeds: UInt64 = 10_000_000

  /// `A...B` or `N` (meaning `1...N`); nil for anything else, A > B, or N = 0.
  static func seeds(_ text: String) -> ClosedRange<UInt64>? {
    let parts = text.split(separator: "...", omittingEmptySubsequences: false)
    if parts.count == 1 {
      guard let last = UInt64(text), last >= 1 else { return nil }
      return 1...last
    }
    guard parts.count == 2, let first = UInt64(parts[0]), let last = UInt64(parts[1]),
      first <= last
    else { return nil }
    return first...last
  }

  /// Parses the flags, or stops after printing help or an error.
  static func parse(_ arguments: [String]) -> Result<Options, RunCommand.Exit> {
    var options = Options()
    var reader = ArgumentReader(arguments, usage: usage)
    func value(_ flag: String) -> String? { reader.value(for: flag) }
    let failure = Result<Options, RunCommand.Exit>.failure(RunCommand.Exit(code: 2))
    while let argument = reader.next() {
      switch argument {
      case "--help", "-h":
        print(usage)
        return .failure(RunCommand.Exit(code: 0))
      case "--seeds":
        guard let text = value(argument) else { return failure }
        guard let seeds = seeds(text) else {
          CLI.fail("--seeds takes A...B (A ≤ B) or a count N ≥ 1, not '\(text)'")
          return failure
        }
        guard seeds.upperBound - seeds.lowerBound < maxSeeds else {
          CLI.fail("--seeds '\(text)' is more than \(maxSeeds) seeds")
          return failure
        }
        options.seeds = seeds
      case "--seed":
        CLI.fail("sweep runs many seeds: give them with --seeds A...B", usage: usage)
        return failure
      case _ where RunCommand.linkFlags.contains(argument):
        guard let text = value(argument),
          RunCommand.linkOption(argument, text, into: &options.run)
        else { return failure }
      case "--json": options.json = true
      case "--quiet", "-q": options.quiet = true
      default:
        guard reader.keep(argument) else { return failure }
      }
    }
    let (ok, target) = reader.topology(for: "sweep")
    guard ok else { return failure }
    if let target { options.target = target }
    return .success(options)
  }

  static func run(_ arguments: [String]) -> Int32 {
    let options: Options
    switch parse(arguments) {
    case .success(let parsed): options = parsed
    case .failure(let exit): return exit.code
    }
    let sweep: Sweep
    do {
      let topology = try TopologyLibrary.load(options.target)
      let total = Sweep.count(options.seeds)
      // About twenty progress lines for a long sweep, none for a short one.
      let step = max(1, total / 20)
      sweep = try Sweep.run(topology, seeds: options.seeds, options: options.run) {
        done, failed in
        guard !options.quiet, total >= 50, done % step == 0 || done == total else { return }
        CLI.note("sweep: \(done)/\(total) seeds, \(failed) failed")
      }
    } catch {
      CLI.fail(error.description)
      return 2
    }
    if options.json {
      print(sweep.json)
    } else {
      print(sweep.text(reproduce: reproduce(options)))
    }
    return sweep.failures.isEmpty ? 0 : 1
  }

  /// The `sipsim run` command line that replays one seed of this sweep, `{seed}` for the seed.
  static func reproduce(_ options: Options) -> String {
    var words = ["sipsim", "run", options.target, "--seed", "{seed}"]
    if let loss = options.run.loss { words += ["--loss", "\(loss)"] }
    if let latency = options.run.latency { words += ["--latency", TimeSpan.format(latency)] }
    if let jitter = options.run.jitter { words += ["--jitter", TimeSpan.format(jitter)] }
    if let duplicate = options.run.duplicate { words += ["--duplicate", "\(duplicate)"] }
    if let reorder = options.run.reorder { words += ["--reorder", "\(reorder)"] }
    if let duration = options.run.duration { words += ["--duration", TimeSpan.format(duration)] }
    return words.joined(separator: " ")
  }
}
