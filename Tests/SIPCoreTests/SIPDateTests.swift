import SIPCore
import Testing

/// SIP-date (§20.17): known instants, leap days and century rules, and the message validator
/// accepts what the formatter writes.
@Test(
  arguments: [
    (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
    (1_289_690_940, "Sat, 13 Nov 2010 23:29:00 GMT"),  // RFC 3261's example
    (946_684_800, "Sat, 01 Jan 2000 00:00:00 GMT"),
    (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),  // 2000 is a leap year (divisible by 400)
    (4_107_585_605, "Mon, 01 Mar 2100 12:00:05 GMT"),  // 2100 is not: no 29 Feb before it
    (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
    (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),  // the last instant four digits say
    (Int64.max, "Fri, 31 Dec 9999 23:59:59 GMT"),  // clamped
  ] as [(Int64, String)])
func sipDatesAreRFC1123(seconds: Int64, expected: String) throws {
  let text = SIPDate.text(secondsSince1970: seconds)
  #expect(text == expected)
  // Printed into a field's bytes, after what is there already.
  var field = Array("Date: ".utf8)
  SIPDate.write(secondsSince1970: seconds, to: &field)
  #expect(String(decoding: field, as: UTF8.self) == "Date: " + expected)
  let bytes = Array(
    "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nTo: <sip:a@example.com>\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nDate: \(text)\r\nContent-Length: 0\r\n\r\n"
      .utf8)
  #expect(try SIPMessage.parse(bytes).check().isValid)
}

/// Lower-case hex for branches, tags and Call-IDs: zero-padded to the minimum, never cut.
@Test(
  arguments: [
    (0, 8, "", "00000000"),
    (0xabc, 8, "", "00000abc"),
    (0x1_0000_0000, 8, "", "100000000"),
    (UInt64.max, 16, "z9hG4bK", "z9hG4bKffffffffffffffff"),
    (0x2a, 16, "z9hG4bK", "z9hG4bK000000000000002a"),
  ] as [(UInt64, Int, String, String)])
func lowercaseHex(value: UInt64, minimumDigits: Int, prefix: String, expected: String) {
  #expect(String(lowercaseHex: value, minimumDigits: minimumDigits, prefix: prefix) == expected)
  // A suffix goes after the digits (a Call-ID's `@host`), whatever its length.
  for suffix in ["@10.0.0.1", "@pc33.atlanta.example.com", "é"] {
    #expect(
      String(lowercaseHex: value, minimumDigits: minimumDigits, prefix: prefix, suffix: suffix)
        == expected + suffix)
  }
}
