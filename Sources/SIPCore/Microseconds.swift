extension Duration {
  /// Whole microseconds, the simulation's unit of time (finer parts are dropped, toward zero).
  /// The SIP layers keep times they hold by the million (binding expiries, timer settings) as
  /// 8-byte microseconds rather than 16-byte `Duration`s, and convert here, once per timer
  /// armed.
  package var wholeMicroseconds: Int64 {
    let attoseconds = self.attoseconds
    // 10^12 = 2^12 · 5^12: shifted first, a duration up to about two years leaves a 64-bit
    // division by a constant (a multiplication); through `components`, a 128-bit division was a
    // library call of ~200 instructions on every timer armed.
    if attoseconds >= 0 {
      let shifted = attoseconds >> 12
      if shifted >> 64 == 0 {
        return Int64(UInt64(truncatingIfNeeded: shifted) / 244_140_625)
      }
    }
    // Negative or beyond two years: from the components, clamped (a duration of more than
    // 292,000 years has no microsecond count, and a timer set that far must not trap).
    let (seconds, remainder) = components
    let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
    let (total, overflowAgain) = scaled.addingReportingOverflow(remainder / 1_000_000_000_000)
    guard !overflow, !overflowAgain else { return seconds < 0 ? .min : .max }
    return total
  }
}
