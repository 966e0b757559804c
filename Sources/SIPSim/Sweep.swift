import Simulation

/// One topology run once per seed, its failures grouped by expectation: how an engineer finds
/// the seeds on which a call flow breaks under loss, jitter or a fault, and how often each way
/// of breaking happens. Every run is the same deterministic ``TopologyRun`` that `sipsim run
/// --seed N` does, so any seed a sweep reports failing fails the same way when run alone.
///
/// Runs go one after another on the calling thread, in seed order: the report depends on the
/// topology, the seeds and the run options only.
public struct Sweep: Sendable, Equatable {
  /// One seed whose run did not pass, with what did not hold.
  public struct Failure: Sendable, Equatable {
    public var seed: UInt64
    public var unmet: [Unmet]

    public init(seed: UInt64, unmet: [Unmet]) {
      self.seed = seed
      self.unmet = unmet
    }
  }

  /// One thing that happened instead of an expectation, and the seeds on which it did.
  public struct Observation: Sendable, Equatable {
    public var observed: String
    public var seeds: [UInt64]

    public init(observed: String, seeds: [UInt64]) {
      self.observed = observed
      self.seeds = seeds
    }
  }

  /// One expectation that failed on some seeds, with the different things observed instead.
  public struct Group: Sendable, Equatable {
    public var expectation: String
    /// Ascending, each once.
    public var seeds: [UInt64]
    /// Most seeds first, then by text.
    public var observations: [Observation]
  }

  /// The topology's name.
  public var topology: String
  public var seeds: ClosedRange<UInt64>
  /// The seeds that failed, ascending.
  public var failures: [Failure]

  public init(topology: String, seeds: ClosedRange<UInt64>, failures: [Failure]) {
    self.topology = topology
    self.seeds = seeds
    self.failures = failures.sorted { $0.seed < $1.seed }
  }

  /// How many seeds were run.
  public var count: Int { Self.count(seeds) }
  public var passed: Int { count - failures.count }

  /// The number of seeds in `seeds`, which may be every UInt64 (more than an `Int` holds: then
  /// `Int.max`, which no sweep runs to the end anyway).
  public static func count(_ seeds: ClosedRange<UInt64>) -> Int {
    let span = seeds.upperBound - seeds.lowerBound
    return span >= UInt64(Int.max) ? Int.max : Int(span) + 1
  }

  /// Runs `topology` once for each of `seeds` with `options` (its seed replaced each time),
  /// calling `progress(done, failed)` after each run. Throws what ``TopologyRun/init(_:options:)``
  /// throws for a topology it cannot build, which the first seed finds.
  public static func run(
    _ topology: Topology, seeds: ClosedRange<UInt64>, options: RunOptions = RunOptions(),
    progress: (_ done: Int, _ failed: Int) -> Void = { _, _ in }
  ) throws(TopologyError) -> Sweep {
    var failures: [Failure] = []
    var done = 0
    var seed = seeds.lowerBound
    while true {
      var seeded = options
      seeded.seed = seed
      let outcome = try TopologyRun(topology, options: seeded).run()
      if !outcome.passed { failures.append(Failure(seed: seed, unmet: outcome.unmet)) }
      done += 1
      progress(done, failures.count)
      // Stepping with a check, not iterating the range: a range ending at UInt64.max would
      // overflow its iterator's last step.
      guard seed < seeds.upperBound else { break }
      seed += 1
    }
    return Sweep(topology: topology.name, seeds: seeds, failures: failures)
  }

  /// The failures grouped by expectation: the expectation that failed on most seeds first, ties
  /// by text; within one, what was observed instead, most seeds first.
  public var groups: [Group] {
    // Insertion-ordered tables (arrays indexed through a dictionary): no dictionary order
    // reaches the report.
    var expectations: [String] = []
    var index: [String: Int] = [:]
    var seedsOf: [[UInt64]] = []
    var observed: [[(text: String, seeds: [UInt64])]] = []
    for failure in failures {
      for unmet in failure.unmet {
        let at: Int
        if let known = index[unmet.expectation] {
          at = known
        } else {
          at = expectations.count
          index[unmet.expectation] = at
          expectations.append(unmet.expectation)
          seedsOf.append([])
          observed.append([])
        }
        if seedsOf[at].last != failure.seed { seedsOf[at].append(failure.seed) }
        if let known = observed[at].firstIndex(where: { $0.text == unmet.observed }) {
          if observed[at][known].seeds.last != failure.seed {
            observed[at][known].seeds.append(failure.seed)
          }
        } else {
          observed[at].append((unmet.observed, [failure.seed]))
        }
      }
    }
    let groups = expectations.indices.map { at in
      Group(
        expectation: expectations[at], seeds: seedsOf[at],
        observations: observed[at].map { Observation(observed: $0.text, seeds: $0.seeds) }
          .sorted {
            $0.seeds.count != $1.seeds.count
              ? $0.seeds.count > $1.seeds.count : $0.observed < $1.observed
          })
    }
    return groups.sorted {
      $0.seeds.count != $1.seeds.count
        ? $0.seeds.count > $1.seeds.count : $0.expectation < $1.expectation
    }
  }

  /// The report `sipsim sweep` prints: a summary line, each failed expectation with its seeds
  /// and (up to three of) what was observed instead, and how to reproduce the first failing
  /// seed. `reproduce` is the command line that runs one seed, `{seed}` standing for it.
  public func text(reproduce: String? = nil) -> String {
    var lines = [
      "sweep \(topology): seeds \(seeds.lowerBound)...\(seeds.upperBound): "
        + "\(passed) passed, \(failures.count) failed"
    ]
    for group in groups {
      lines.append(
        "  \(Self.plural(group.seeds.count, "seed")) failed: \(Self.clipped(group.expectation)) "
          + "(\(Self.list(group.seeds)))")
      for observation in group.observations.prefix(Self.shownObservations)
      where !observation.observed.isEmpty {
        lines.append(
          "      \(observation.seeds.count): \(Self.clipped(observation.observed)) "
            + "(\(Self.list(observation.seeds)))")
      }
      let more = group.observations.count - Self.shownObservations
      if more > 0 { lines.append("      …and \(Self.plural(more, "other observation"))") }
    }
    if let first = failures.first, let reproduce {
      lines.append(
        "first failing seed: "
          + reproduce.replacing("{seed}", with: String(first.seed)))
    }
    return lines.joined(separator: "\n")
  }

  /// The report as one JSON object: `topology`, `from`, `to`, `runs`, `passed`, `failed`,
  /// `groups` (each `expectation`, `seeds`, `observations` with `observed` and `seeds`), and
  /// `failures` (each `seed` and its `unmet` sentences), every list in the text report's order.
  public var json: String {
    var out = "{\"topology\":" + JSONString.quoted(topology)
    out += ",\"from\":\(seeds.lowerBound),\"to\":\(seeds.upperBound)"
    out += ",\"runs\":\(count),\"passed\":\(passed),\"failed\":\(failures.count),\"groups\":["
    for (at, group) in groups.enumerated() {
      if at > 0 { out += "," }
      out += "{\"expectation\":" + JSONString.quoted(group.expectation)
      out += ",\"seeds\":" + Self.jsonList(group.seeds) + ",\"observations\":["
      for (number, observation) in group.observations.enumerated() {
        if number > 0 { out += "," }
        out += "{\"observed\":" + JSONString.quoted(observation.observed)
        out += ",\"seeds\":" + Self.jsonList(observation.seeds) + "}"
      }
      out += "]}"
    }
    out += "],\"failures\":["
    for (at, failure) in failures.enumerated() {
      if at > 0 { out += "," }
      out += "{\"seed\":\(failure.seed),\"unmet\":["
      out += failure.unmet.map { JSONString.quoted($0.sentence) }.joined(separator: ",")
      out += "]}"
    }
    return out + "]}"
  }

  static let shownObservations = 3
  static let shownSeeds = 8
  static let clipLength = 120

  static func plural(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
  }

  /// Seeds as "3, 17, 42" or, past ``shownSeeds``, "3, 17, … (+12 more)".
  static func list(_ seeds: [UInt64]) -> String {
    let shown = seeds.prefix(shownSeeds).map(String.init).joined(separator: ", ")
    return seeds.count > shownSeeds ? "\(shown), … +\(seeds.count - shownSeeds) more" : shown
  }

  static func clipped(_ text: String) -> String {
    text.count > clipLength ? String(text.prefix(clipLength - 1)) + "…" : text
  }

  static func jsonList(_ seeds: [UInt64]) -> String {
    "[" + seeds.map(String.init).joined(separator: ",") + "]"
  }
}
