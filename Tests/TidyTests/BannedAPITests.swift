import Foundation
import Testing

/// The determinism contract of ARCHITECTURE.md, enforced: simulated code must not read the wall
/// clock, start unmanaged concurrency, or draw from an unseeded random source. This scans every
/// Swift file under `Sources/` and fails naming file and line.
struct BannedAPITests {
  /// What is banned, as (label, matcher). The standard library's random APIs (`.random(in:)`,
  /// `.random()`, `.randomElement()`, `.shuffled()`, `.shuffle()`) are banned only without
  /// `using:`; a method of ours that merely has "random" in its name (`simulation.random(stream:)`)
  /// is not one of them.
  static let rules: [(label: String, matches: @Sendable (String) -> Bool)] = [
    ("Date()", { $0.contains("Date()") }),
    ("ContinuousClock", { $0.contains("ContinuousClock") }),
    ("SuspendingClock", { $0.contains("SuspendingClock") }),
    ("Task.sleep", { $0.contains("Task.sleep") }),
    ("Task.detached", { $0.contains("Task.detached") }),
    ("DispatchQueue", { $0.contains("DispatchQueue") }),
    ("Thread", { containsWord($0, "Thread") }),
    (
      ".random( without using:",
      { code in
        [".random(in:", ".random()", ".randomElement()", ".shuffled()", ".shuffle()"].contains {
          code.contains($0)
        } && !code.contains("using:")
      }
    ),
    ("SystemRandomNumberGenerator", { $0.contains("SystemRandomNumberGenerator") }),
    ("UUID()", { $0.contains("UUID()") }),
  ]

  /// Files that may use a banned API on lines marked `// allowed: <reason>`. Benchmarks measure
  /// wall time; a future real-network runtime will join this list, and say so.
  static let allowedFiles: Set<String> = ["Sources/sipsim/BenchSupport.swift"]

  /// The code part of a line: text before a `//` comment (doc comments may name banned APIs).
  static func code(of line: Substring) -> String {
    guard let range = line.range(of: "//") else { return String(line) }
    return String(line[..<range.lowerBound])
  }

  static func containsWord(_ text: String, _ word: String) -> Bool {
    var searchStart = text.startIndex
    while let range = text.range(of: word, range: searchStart..<text.endIndex) {
      let before =
        range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
      let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
      let isIdentifier: (Character?) -> Bool = {
        $0.map { $0.isLetter || $0.isNumber || $0 == "_" } ?? false
      }
      if !isIdentifier(before) && !isIdentifier(after) { return true }
      searchStart = range.upperBound
    }
    return false
  }

  /// Violations in one file's text, as "path:line: label".
  static func violations(path: String, text: String) -> [String] {
    var found: [String] = []
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
    {
      let code = code(of: line)
      for rule in rules where rule.matches(code) {
        if allowedFiles.contains(path) && line.contains("// allowed:") { continue }
        found.append("\(path):\(index + 1): \(rule.label)")
      }
    }
    return found
  }

  static var packageRoot: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
  }

  @Test func sourcesUseNoBannedAPI() throws {
    let root = Self.packageRoot
    let sources = root.appendingPathComponent("Sources")
    let enumerator = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
    var files: [URL] = []
    while let url = enumerator?.nextObject() as? URL {
      if url.pathExtension == "swift" { files.append(url) }
    }
    #expect(files.count > 5, "found too few sources under \(sources.path)")
    var all: [String] = []
    for url in files.sorted(by: { $0.path < $1.path }) {
      let relative = String(url.path.dropFirst(root.path.count + 1))
      let text = try String(contentsOf: url, encoding: .utf8)
      all += Self.violations(path: relative, text: text)
    }
    #expect(all.isEmpty, "banned APIs in Sources/:\n\(all.joined(separator: "\n"))")
  }

  /// The scanner itself must catch what it claims to catch (a test that cannot fail is a defect).
  @Test(arguments: [
    ("let now = Date()", true),
    ("try await Task.sleep(for: .seconds(1))", true),
    ("let t = Thread.current", true),
    ("let x = Int.random(in: 0..<3)", true),
    ("let x = Int.random(in: 0..<3, using: &rng)", false),
    ("let b = Bool.random()", true),
    ("let h = hosts.randomElement()", true),
    ("let h = hosts.shuffled()", true),
    ("let h = hosts.randomElement(using: &rng)", false),
    ("var r = simulation.random(stream: \"link a->b\")", false),
    ("let q = DispatchQueue(label: \"x\")", true),
    ("var threadCount = 0  // Thread is fine in a comment", false),
    ("let clock = ContinuousClock()", true),
  ])
  func scannerFlags(line: String, flagged: Bool) {
    let found = Self.violations(path: "Sources/X/Y.swift", text: line)
    #expect(found.isEmpty == !flagged, "\(line) → \(found)")
  }

  @Test func allowedFileNeedsMarker() {
    let path = "Sources/sipsim/BenchSupport.swift"
    #expect(Self.violations(path: path, text: "let s = ContinuousClock.now").count == 1)
    #expect(
      Self.violations(path: path, text: "let s = ContinuousClock.now  // allowed: bench").isEmpty)
  }
}
