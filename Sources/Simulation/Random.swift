/// SplitMix64: used only to expand a 64-bit seed into generator state (Steele, Lea, Flood 2014).
public struct SplitMix64: RandomNumberGenerator, Sendable {
  private var state: UInt64
  /// Seeds the generator.
  public init(seed: UInt64) { state = seed }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// xoshiro256** (Blackman, Vigna): the generator every simulation draw uses. Seeded through
/// SplitMix64 so that any seed (even 0) gives a valid, well-mixed state.
public struct SimRandom: RandomNumberGenerator, Sendable {
  // Inlinable: the network draws several numbers per packet from other modules' call sites.
  @usableFromInline var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

  /// A generator for `seed`.
  public init(seed: UInt64) {
    var mix = SplitMix64(seed: seed)
    s0 = mix.next()
    s1 = mix.next()
    s2 = mix.next()
    s3 = mix.next()
  }

  /// A sub-stream derived from `seed` and a stable `name` (e.g. a link "a->b" or a host):
  /// seed XOR FNV-1a-64(UTF-8 of name). Adding a host never changes another stream's draws.
  public init(seed: UInt64, stream name: String) {
    self.init(seed: seed ^ fnv1a64(name))
  }

  @inlinable
  public mutating func next() -> UInt64 {
    let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
    let t = s1 << 17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << 45) | (s3 >> 19)
    return result
  }
}

/// FNV-1a 64-bit hash of the UTF-8 bytes of `text` (offset basis 0xcbf29ce484222325, prime
/// 0x100000001b3). Fixed and documented, unlike Swift's per-process seeded `Hasher`.
public func fnv1a64(_ text: String) -> UInt64 {
  fnv1a64(continuing: 0xcbf2_9ce4_8422_2325, text)
}

/// Continues an FNV-1a 64 hash over the UTF-8 bytes of `text`, read as one contiguous buffer:
/// iterating a `String.UTF8View` byte by byte cost about 40 instructions a byte, and the network
/// hashes a host name for every new link.
public func fnv1a64(continuing hash: UInt64, _ text: String) -> UInt64 {
  var text = text
  return text.withUTF8 { fnv1a64(continuing: hash, $0) }
}

/// Continues an FNV-1a 64 hash over more bytes: `fnv1a64(continuing: fnv1a64("ab"), "c".utf8)`
/// equals `fnv1a64("abc")`. Lets the network hash `link A->B` without building the string.
public func fnv1a64(continuing hash: UInt64, _ bytes: some Sequence<UInt8>) -> UInt64 {
  var hash = hash
  for byte in bytes {
    hash ^= UInt64(byte)
    hash &*= 0x0000_0100_0000_01b3
  }
  return hash
}
