import Testing

@testable import SIPCore

/// `Syntax.appendDecimal` prints every port, Content-Length, CSeq number and expiry: the digits
/// `String(_:)` gives, appended after what the buffer held.
@Test func decimalDigitsAreThoseOfString() {
  var values: [UInt64] = [0, 1, 9, 10, 11, 99, 100, 5060, 65535, 4_294_967_295, .max, .max - 1]
  var power: UInt64 = 1
  while power <= UInt64.max / 10 {
    power *= 10
    values += [power - 1, power, power + 1]
  }
  for value in values {
    var out: [UInt8] = Array("x=".utf8)
    Syntax.appendDecimal(value, to: &out)
    #expect(out == Array("x=\(value)".utf8))
  }
  for value in [Int.min, -1, 0, 42, Int.max] {
    var out: [UInt8] = []
    Syntax.appendDecimal(value, to: &out)
    #expect(out == Array(String(value).utf8))
  }
}
