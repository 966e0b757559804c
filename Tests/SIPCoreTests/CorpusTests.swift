import Foundation
import Testing

/// The test corpora are copied into this target's resources (provenance in Resources/SOURCES.md)
/// so the package builds and tests without ../shared.
@Test func corpusIsBundled() throws {
  let root = try #require(Bundle.module.url(forResource: "Resources", withExtension: nil))
  let manifest = root.appendingPathComponent("rfc4475/MANIFEST.tsv")
  let text = try String(contentsOf: manifest, encoding: .utf8)
  #expect(text.split(separator: "\n").count == 52, "header + 51 messages")
}
