import SIPCore
import Testing

/// The parser finds each line's end eight bytes at a time; these hold it to a byte-by-byte
/// search at every alignment, with the bytes a word-wise test could confuse with LF around it.
struct ByteScanTests {
  static func naive(_ bytes: [UInt8], from start: Int) -> Int {
    var position = max(start, 0)
    while position < bytes.count, bytes[position] != 10 { position += 1 }
    return max(position, min(start, bytes.count))
  }

  static func scan(_ bytes: [UInt8], from start: Int) -> Int {
    bytes.withUnsafeBufferPointer { ByteScan.firstLineFeed(in: $0, from: start) }
  }

  @Test func findsTheFirstLineFeedAtEveryPosition() {
    // Neighbours of LF (0x0A) in value and in borrow: 0x09, 0x0B, 0x8A, 0x0A with the high
    // bit, 0x00, 0xFF, 0x01, 0x0D.
    let fillers: [UInt8] = [0x41, 0x09, 0x0B, 0x8A, 0x00, 0xFF, 0x01, 0x0D, 0x0A ^ 0x80]
    for filler in fillers {
      for length in 0...40 {
        let plain = [UInt8](repeating: filler, count: length)
        for start in 0...length {
          #expect(Self.scan(plain, from: start) == length, "no LF: \(filler) \(length) \(start)")
        }
        for lineFeed in 0..<length {
          var bytes = plain
          bytes[lineFeed] = 10
          // A second LF after the first, and bytes that borrow into the word above it.
          if lineFeed + 3 < length { bytes[lineFeed + 3] = 10 }
          if lineFeed + 1 < length { bytes[lineFeed + 1] = 0x0B }
          for start in 0...length {
            #expect(
              Self.scan(bytes, from: start) == Self.naive(bytes, from: start),
              "\(filler) \(length) LF at \(lineFeed) from \(start)")
          }
        }
      }
    }
  }

  @Test func aStartPastTheEndFindsNothing() {
    #expect(Self.scan([10, 10], from: 2) == 2)
    #expect(Self.scan([10, 10], from: 5) == 2)
    #expect(Self.scan([], from: 0) == 0)
  }
}

/// The start line's version is compared as one word when spelled `SIP/2.0`; every other
/// spelling goes through the grammar (SIP-Version, §25: "SIP" case-insensitive, digits).
struct VersionTests {
  @Test(arguments: [
    ("SIP/2.0", true), ("sip/2.0", true), ("Sip/2.0", true), ("SIP/7.0", true),
    ("SIP/2.00", true), ("SIP/12.3", true), ("SIP/2-0", false), ("SIP/2.", false),
    ("SIP/.0", false), ("SIQ/2.0", false), ("SIP 2.0", false), ("SIP/2.x", false),
    ("SIP/2.0\u{7F}", false), ("HTTP/1.1", false),
  ])
  func versionsFollowTheGrammar(version: String, valid: Bool) {
    let request = "OPTIONS sip:bob@example.com \(version)\r\nCSeq: 1 OPTIONS\r\n\r\n"
    let response = "\(version) 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\n"
    #expect(((try? SIPMessage.parse(request)) != nil) == valid, "\(version) request")
    #expect(((try? SIPMessage.parse(response)) != nil) == valid, "\(version) response")
  }
}
