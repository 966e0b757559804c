import SIPCore
import Testing

/// `equalsIgnoringASCIICase`, which compares parameter names, hosts and schemes on every hop:
/// held to a byte-by-byte reference, for small and large strings, literals and strings made from
/// bytes (equal small strings share their bits, and the comparison takes that shortcut first).
@Suite struct CaseInsensitiveTests {
  private static func reference(_ left: String, _ right: String) -> Bool {
    func lower(_ byte: UInt8) -> UInt8 { (65...90).contains(byte) ? byte + 32 : byte }
    return left.utf8.map(lower) == right.utf8.map(lower)
  }

  private static let words = [
    "branch", "Branch", "BRANCH", "rport", "maddr", "received", "", "a", "A", "é", "É",
    "e\u{301}", "pc33.atlanta.example.com", "PC33.Atlanta.Example.COM",
    "pc33.atlanta.example.con", "z9hG4bK74bf9a1b2c3d4e5f6", "z9hg4bk74bf9a1b2c3d4e5f6",
  ]

  @Test func agreesWithTheByteReference() {
    // Every word as a literal and as a string made from its bytes (another representation).
    let made = Self.words.map { String(decoding: Array($0.utf8), as: UTF8.self) }
    for left in Self.words + made {
      for right in Self.words + made {
        #expect(
          left.equalsIgnoringASCIICase(right) == Self.reference(left, right), "\(left) \(right)")
      }
    }
  }

  @Test func identicalMeansTheSameRepresentation() {
    let literal = "branch"
    let copy = literal
    #expect(literal.isIdentical(to: copy))
    // Small strings are held in the value: the same bytes, the same bits.
    #expect(literal.isIdentical(to: String(decoding: Array("branch".utf8), as: UTF8.self)))
    #expect(!literal.isIdentical(to: "Branch"))
    // Large strings made apart have storage apart: equal, not identical.
    let large = "pc33.atlanta.example.com"
    let other = String(decoding: Array(large.utf8), as: UTF8.self)
    #expect(large == other && !large.isIdentical(to: other))
    #expect(large.isIdentical(to: large))
  }
}

/// `Via.hasMagicCookie` reads bytes first and answers what `hasPrefix("z9hG4bK")` answers:
/// exact, short, case-changed, a combining mark after the cookie, other scripts.
@Test func magicCookieByBytesIsHasPrefix() {
  let branches = [
    "z9hG4bK", "z9hG4bK776asdhds", "z9hG4bK-1", "z9hg4bK1", "Z9hG4bK1", "z9hG4b", "", "x",
    "z9hG4bK\u{301}1", "z9hG4bK\u{301}", "z9hG4bKé", "z9hG4bK日本", "z9hG4bK\r\n",
    "e\u{301}z9hG4bK", String(decoding: Array("z9hG4bK".utf8) + [0xCC, 0x81], as: UTF8.self),
  ]
  for branch in branches {
    #expect(Via.hasMagicCookie(branch) == branch.hasPrefix("z9hG4bK"), "\(branch.debugDescription)")
  }
}
