extension Duration {
  /// Whole microseconds, the simulation's unit of time (finer parts are dropped). The SIP
  /// layers keep times they hold by the million (binding expiries, timer settings) as 8-byte
  /// microseconds rather than 16-byte `Duration`s, and convert here.
  package var wholeMicroseconds: Int64 {
    let (seconds, attoseconds) = components
    return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
  }
}
