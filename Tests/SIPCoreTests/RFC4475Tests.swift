import Foundation
import SIPCore
import Testing

/// One message of the RFC 4475 torture corpus with its verdict from MANIFEST.tsv.
struct TortureCase: Sendable, CustomTestStringConvertible {
  var name: String
  var file: String
  var verdict: String
  var reason: String
  var testDescription: String { name }
}

enum Corpus {
  static var root: URL? { Bundle.module.url(forResource: "Resources", withExtension: nil) }

  static func bytes(_ relative: String) throws -> [UInt8] {
    let root = try #require(root)
    return Array(try Data(contentsOf: root.appendingPathComponent(relative)))
  }

  static let torture: [TortureCase] = {
    guard let root,
      let text = try? String(
        contentsOf: root.appendingPathComponent("rfc4475/MANIFEST.tsv"), encoding: .utf8)
    else { return [] }
    return text.split(separator: "\n").dropFirst().compactMap { line in
      let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      guard columns.count >= 9 else { return nil }
      return TortureCase(
        name: columns[0], file: "rfc4475/" + columns[1], verdict: columns[4], reason: columns[8])
    }
  }()

  /// Every message of the RFC 3665 flows: each flow folder holds one file per message.
  static let flowMessages: [String] = {
    guard let root else { return [] }
    let base = root.appendingPathComponent("rfc3665")
    guard
      let folders = try? FileManager.default.contentsOfDirectory(
        at: base, includingPropertiesForKeys: nil)
    else { return [] }
    var files: [String] = []
    for folder in folders.sorted(by: { $0.path < $1.path }) where folder.hasDirectoryPath {
      let names =
        (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.sorted() ?? []
      files += names.filter { $0.hasSuffix(".sip") }.map {
        "rfc3665/\(folder.lastPathComponent)/\($0)"
      }
    }
    return files
  }()
}

@Test func manifestListsEveryTortureMessage() {
  #expect(Corpus.torture.count == 51)
}

@Test(arguments: Corpus.torture)
func tortureMessageMeetsItsVerdict(entry: TortureCase) throws {
  let bytes = try Corpus.bytes(entry.file)
  let expectValid = entry.verdict.hasPrefix("valid")
  let verdict: MessageVerdict
  do {
    verdict = try SIPMessage.parse(bytes).check()
  } catch {
    #expect(!expectValid, "\(entry.name) rejected: \(error) — \(entry.reason)")
    return
  }
  #expect(verdict.isValid == expectValid, "\(entry.name): \(verdict) — \(entry.reason)")
}

/// What an element would answer to the semantically odd messages.
@Test(arguments: [
  ("unkscm", 416), ("novelsc", 416), ("bext01", 420), ("invut", 415), ("sdp01", 406),
  ("zeromf", 483), ("intmeth", 501), ("esc02", 501),
])
func oddMessagesGetTheirResponse(name: String, status: Int) throws {
  let entry = try #require(Corpus.torture.first { $0.name == name })
  let message = try SIPMessage.parse(try Corpus.bytes(entry.file))
  guard case .answer(let response) = message.check() else {
    Issue.record("\(name): expected an answer, got \(message.check())")
    return
  }
  #expect(response.status == status)
}

@Test(arguments: Corpus.torture.filter { $0.verdict.hasPrefix("valid") })
func validTortureMessagesRoundTrip(entry: TortureCase) throws {
  let message = try SIPMessage.parse(try Corpus.bytes(entry.file))
  let again = try SIPMessage.parse(message.serialized())
  #expect(again == message)
  #expect(again.serialized() == message.serialized())
}

@Test func flowCorpusIsBundled() { #expect(Corpus.flowMessages.count > 100) }

@Test(arguments: Corpus.flowMessages)
func flowMessageParsesChecksAndRoundTrips(file: String) throws {
  let message = try SIPMessage.parse(try Corpus.bytes(file))
  #expect(message.check().isValid, "\(file): \(message.check())")
  #expect(try SIPMessage.parse(message.serialized()) == message)
}
