import Testing

@testable import SIPCore

/// `HeaderName.canonical(_:)` answers a known header's name from a table: for every known
/// header in lower, upper and mixed case, and every compact letter in both cases, it is what
/// lower-casing the bytes (and expanding a compact form) gives, as it was before the table.
@Test func aKnownNameIsCanonicalInAnyCase() {
  var names: [String] = []
  for known in KnownHeader.allCases where known != .other {
    let spelling = known.spelling.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
    names += [spelling, spelling.uppercased(), titleCase(spelling)]
  }
  for letter in HeaderName.compact.keys.sorted() {
    let text = String(decoding: [letter], as: UTF8.self)
    names += [text, text.uppercased()]
  }
  names += ["X-Custom", "Referred-By", "P-Asserted-Identity", "max-forwards"]
  for name in names {
    #expect(HeaderName.canonical(name) == HeaderName.canonical(bytes: Array(name.utf8)), "\(name)")
  }
  #expect(HeaderName.canonical("Max-Forwards") == "max-forwards")
  #expect(HeaderName.canonical("V") == "via")
}

private func titleCase(_ name: String) -> String {
  name.split(separator: "-", omittingEmptySubsequences: false).map {
    $0.prefix(1).uppercased() + $0.dropFirst()
  }.joined(separator: "-")
}
