import Testing

@testable import SIPCore

/// `splitBytes` (the SDP parser's splitter, over contiguous bytes) gives exactly what the
/// standard library's `split` gives, for every input made of separators, letters and a
/// multi-byte character, with and without a split limit and empty pieces.
@Test func splitBytesMatchesTheStandardSplit() {
  let alphabet: [String] = [" ", " ", ":", "a", "b", "é"]
  var inputs = ["", " ", "  ", "a", " a", "a ", " a  b ", "a:b:c", "é é"]
  var state: UInt64 = 7
  for _ in 0..<400 {
    var text = ""
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    var bits = state
    for _ in 0..<Int(bits % 9) {
      bits /= 7
      text += alphabet[Int(bits % UInt64(alphabet.count))]
    }
    inputs.append(text)
  }
  for text in inputs {
    for separator in [" ", ":"] as [Unicode.Scalar] {
      for maxSplits in [0, 1, 2, Int.max] {
        for omitting in [true, false] {
          let expected = text.utf8.split(
            separator: UInt8(ascii: separator), maxSplits: maxSplits,
            omittingEmptySubsequences: omitting
          ).map { String(Substring($0)) }
          let got = splitBytes(text, separator, maxSplits: maxSplits, omittingEmpty: omitting)
            .map(String.init)
          #expect(got == expected, "\(text.debugDescription) \(separator) \(maxSplits) \(omitting)")
        }
      }
    }
  }
}
