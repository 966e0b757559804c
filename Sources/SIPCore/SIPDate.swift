/// SIP-date (RFC 3261 §20.17, §25.1): an RFC 1123 date, always in GMT and case-sensitive, as a
/// registrar puts in its 200 to REGISTER (§10.3 step 8) so a client without a clock can learn
/// the time (§10.2.5).
///
/// Written from a count of seconds with integer arithmetic (the proleptic Gregorian calendar,
/// no leap seconds): no Foundation and no wall clock, so a simulation's dates follow its virtual
/// time and repeat exactly from a seed.
public enum SIPDate {
  /// Three letters per day from Sunday, then per month from January.
  private static let names = Array("SunMonTueWedThuFriSatJanFebMarAprMayJunJulAugSepOctNovDec".utf8)

  /// `Wkd, DD Mon YYYY HH:MM:SS GMT` for `seconds` since 1970-01-01 00:00:00 GMT (years 0 to
  /// 9999; earlier or later instants are clamped to them).
  public static func text(secondsSince1970 seconds: Int64) -> String {
    String(unsafeUninitializedCapacity: 29) { write(secondsSince1970: seconds, into: $0) }
  }

  /// Appends ``text(secondsSince1970:)``'s bytes to `out`: a registrar's 200 prints its Date
  /// straight into the field (a string first was an allocation per REGISTER).
  package static func write(secondsSince1970 seconds: Int64, to out: inout [UInt8]) {
    let start = out.count
    out.append(contentsOf: repeatElement(0, count: 29))
    out.withUnsafeMutableBufferPointer { bytes in
      guard let base = bytes.baseAddress else { return }
      _ = write(
        secondsSince1970: seconds, into: UnsafeMutableBufferPointer(start: base + start, count: 29))
    }
  }

  /// Writes the 29 bytes of the date into `out` (29 bytes long); returns 29.
  private static func write(
    secondsSince1970 seconds: Int64, into out: UnsafeMutableBufferPointer<UInt8>
  )
    -> Int
  {
    // 0000-01-01 and 9999-12-31 23:59:59 bound what four year digits can say.
    let clamped = min(max(seconds, -62_167_219_200), 253_402_300_799)
    let days = clamped >= 0 ? clamped / 86_400 : (clamped - 86_399) / 86_400
    let secondOfDay = clamped - days * 86_400
    let weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday
    // Days to a civil date (H. Hinnant's algorithm): eras of 400 years from 0000-03-01.
    let shifted = days + 719_468
    let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthFromMarch = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
    let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    // Written into the string's (or the field's) own 29 bytes: a registrar dates every 200 to
    // REGISTER, and interpolating padded pieces cost about 7,000 instructions a date.
    do {
      var at = 0
      func put(_ byte: UInt8) {
        out[at] = byte
        at += 1
      }
      func name(_ index: Int) {
        for offset in 0..<3 { put(names[index * 3 + offset]) }
      }
      func digits(_ value: Int64, _ width: Int) {
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor > 0 {
          put(UInt8(truncatingIfNeeded: 48 + value / divisor % 10))
          divisor /= 10
        }
      }
      name(weekday)
      put(UInt8(ascii: ","))
      put(UInt8(ascii: " "))
      digits(day, 2)
      put(UInt8(ascii: " "))
      name(7 + Int(month) - 1)
      put(UInt8(ascii: " "))
      digits(year, 4)
      put(UInt8(ascii: " "))
      digits(secondOfDay / 3_600, 2)
      put(UInt8(ascii: ":"))
      digits(secondOfDay / 60 % 60, 2)
      put(UInt8(ascii: ":"))
      digits(secondOfDay % 60, 2)
      for byte in " GMT".utf8 { put(byte) }
      return at
    }
  }
}
