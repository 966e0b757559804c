#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How a link treats the packets that cross it. A network has a default for every pair of hosts
/// and per-pair overrides (one direction each).
///
/// Every probability is drawn from the link's own random sub-stream (named `link A->B` after
/// the two host names), so the faults on one link never depend on traffic elsewhere.
public struct LinkConditions: Sendable, Equatable {
  /// The fixed part of the one-way delay.
  public var latency: Duration
  /// The random part of the one-way delay, added to `latency`.
  public var jitter: Jitter
  /// Chance that a datagram is lost (dropped with reason `loss`).
  public var lossProbability: Double
  /// Chance that a datagram is delivered twice (the copy takes its own delay).
  public var duplicateProbability: Double
  /// Chance that a datagram is held back by `reorderDelay`, so packets sent after it overtake it.
  public var reorderProbability: Double
  /// The extra delay of a reordered datagram.
  public var reorderDelay: Duration
  /// Largest IP packet, headers included (20 bytes IPv4 or 40 IPv6, plus 8 UDP). Larger
  /// datagrams are dropped with reason `mtu`; streams are cut into segments that fit.
  public var mtu: Int

  public init(
    latency: Duration = .milliseconds(10), jitter: Jitter = .none, lossProbability: Double = 0,
    duplicateProbability: Double = 0, reorderProbability: Double = 0,
    reorderDelay: Duration = .milliseconds(20), mtu: Int = 1500
  ) {
    self.latency = latency
    self.jitter = jitter
    self.lossProbability = lossProbability
    self.duplicateProbability = duplicateProbability
    self.reorderProbability = reorderProbability
    self.reorderDelay = reorderDelay
    self.mtu = mtu
  }

  /// A perfect link: fixed latency, no faults.
  public static let perfect = LinkConditions()

  /// Whether a datagram on this link takes numbers from the link's random stream. A link with
  /// no loss, duplication, reordering or jitter takes none, so its stream is never made: one
  /// table entry and one probe per packet fewer (every benchmark's links but the kernel's are
  /// such), with the same draws as before on every other link (a stream made later starts where
  /// one made earlier and never drawn from would be).
  var datagramsDraw: Bool {
    lossProbability > 0 || duplicateProbability > 0 || reorderProbability > 0 || jitter.draws
  }

  /// Whether a stream segment on this link takes numbers from the link's random stream (its
  /// jitter, and its loss: a lost segment is retransmitted, late).
  var segmentsDraw: Bool { lossProbability > 0 || jitter.draws }
}

/// The random part of a link's delay.
public enum Jitter: Sendable, Equatable {
  /// No jitter: every packet takes exactly `latency`.
  case none
  /// Uniform on `[0, max]`, in whole microseconds.
  case uniform(max: Duration)
  /// Heavy-tailed: Pareto with shape `shape` (> 0; smaller is heavier) starting at zero
  /// (Lomax: `scale * (U^(-1/shape) - 1)`), cut at `max` so a delay is always bounded. Models the
  /// occasional very late packet of a congested path.
  case pareto(scale: Duration, shape: Double, max: Duration)

  /// Whether a draw takes a number from the link's stream (a uniform jitter of at most 0 µs
  /// takes none, as no jitter).
  var draws: Bool {
    switch self {
    case .none: return false
    case .uniform(let max): return max.microsecondsValue > 0
    case .pareto: return true
    }
  }

  /// The largest delay this jitter can add.
  public var maximum: Duration {
    switch self {
    case .none: return .zero
    case .uniform(let max): return max
    case .pareto(_, _, let max): return max
    }
  }

  /// Draws one delay in microseconds.
  func draw(_ random: inout SimRandom) -> Int64 {
    switch self {
    case .none:
      return 0
    case .uniform(let max):
      let bound = max.microsecondsValue
      guard bound > 0 else { return 0 }
      return Int64(random.next() % UInt64(bound + 1))
    case .pareto(let scale, let shape, let max):
      let uniform = random.nextUnitInterval()
      let value = scale.microsecondsValue.asDouble * (pow(1 - uniform, -1 / shape) - 1)
      let bound = max.microsecondsValue
      guard value.isFinite, value < Double(bound) else { return bound }
      return Swift.max(0, Int64(value))
    }
  }
}

extension Duration {
  /// Whole microseconds (truncating).
  var microsecondsValue: Int64 {
    // Every datagram and every timer set by a duration asks. 10^12 = 2^12 · 5^12: shifted
    // first, a duration up to about two years leaves a 64-bit division by a constant (a
    // multiplication); a 128-bit division is a library call.
    let attoseconds = self.attoseconds
    if attoseconds >= 0 {
      let shifted = attoseconds >> 12
      if shifted >> 64 == 0 {
        return Int64(UInt64(truncatingIfNeeded: shifted) / 244_140_625)
      }
    }
    return Int64(truncatingIfNeeded: attoseconds / 1_000_000_000_000)
  }
}

extension Int64 {
  fileprivate var asDouble: Double { Double(self) }
}

extension SimRandom {
  /// A double uniform on [0, 1) with 53 random bits.
  @inlinable
  public mutating func nextUnitInterval() -> Double {
    Double(next() >> 11) * 0x1.0p-53
  }

  /// True with probability `probability` (never for 0, always for 1).
  @inlinable
  public mutating func chance(_ probability: Double) -> Bool {
    probability > 0 && nextUnitInterval() < probability
  }
}
