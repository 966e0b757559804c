import Testing

@testable import SIPCore

/// A CSeq read in one pass (`CSeq.scanCompact`) is the CSeq the grammar reads, or nil and left
/// to the grammar: for the usual values, odd spacing, leading zeros, limits and malformed ones.
@Test func cseqReadInOnePassIsTheGrammarsCSeq() throws {
  let values = [
    "1 REGISTER", "4711 INVITE", " 2  BYE ", "3\tACK", "0 OPTIONS", "4294967295 INVITE",
    "4294967296 INVITE", "0000000001 INVITE", "00000000001 INVITE", "1REGISTER", "1 ",
    "REGISTER", "", " ", "1 INVITE x", "1 INV;ITE", "-1 BYE", "1 register", "1 X-Custom.Method",
    "99999999999999999999 BYE", "1 INVITE,", "１ INVITE",
  ]
  var compact = 0
  for value in values {
    let bytes = ArraySlice(Array(value.utf8))
    let grammar = try? parseWhole(bytes, "CSeq", CSeq.scan)
    if let read = CSeq.scanCompact(bytes) {
      compact += 1
      #expect(read == grammar, "\(value)")
    }
    // The message's getter answers what the grammar answers, either way.
    let message = try SIPMessage.parse("OPTIONS sip:a@b SIP/2.0\r\nCSeq: \(value)\r\n\r\n")
    #expect(message.cseq == grammar, "\(value)")
  }
  #expect(compact >= 8)
}

/// Expires read in one pass (`compactDelta`) is what the grammar reads, or nil and left to it.
@Test func deltaReadInOnePassIsTheGrammarsDelta() throws {
  let values = [
    "3600", " 0 ", "\t60", "4294967295", "4294967296", "0000003600", "00000000001", "", " ",
    "36 00", "3600;x", "-1", "1e3", "99999999999999999999", "３６００",
  ]
  var compact = 0
  for value in values {
    let bytes = ArraySlice(Array(value.utf8))
    let grammar = try? parseWhole(bytes, "Expires") { scanner throws(SyntaxError) in
      try scanDecimal(&scanner, maximum: UInt64(UInt32.max), "Expires")
    }
    if let read = SIPMessage.compactDelta(bytes) {
      compact += 1
      #expect(UInt64(read) == grammar, "\(value)")
    }
    let message = try SIPMessage.parse("OPTIONS sip:a@b SIP/2.0\r\nExpires: \(value)\r\n\r\n")
    #expect(message.expires.map(UInt64.init) == grammar, "\(value)")
  }
  #expect(compact >= 5)
}
