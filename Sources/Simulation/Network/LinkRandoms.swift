/// The random stream of every link that has carried a packet, by pair key (`from << 32 | to`).
///
/// An open-addressing table with each key next to its generator: a network of 10,000 hosts
/// sending to random peers opens a million links, and a `Dictionary` lookup there costs a
/// SipHash and three cache misses (bitmap, keys, values) per packet. Never iterated, so its
/// order cannot reach anything observable.
struct LinkRandoms {
  private struct Slot {
    var key: UInt64
    var random: SimRandom
  }
  /// No pair key is all ones (host indices are below 2^32 - 1).
  private static let empty = UInt64.max
  private var slots: [Slot] = []
  private var count = 0
  private var shift = 64

  /// Runs `body` with the generator of `key`, made by `make` the first time.
  mutating func with<R>(
    _ key: UInt64, make: () -> SimRandom, _ body: (inout SimRandom) -> R
  ) -> R {
    if (count + 1) * 2 > slots.count { grow() }
    let mask = slots.count - 1
    var index = Self.home(key, shift: shift)
    return slots.withUnsafeMutableBufferPointer { buffer in
      while true {
        if buffer[index].key == key { return body(&buffer[index].random) }
        if buffer[index].key == Self.empty {
          buffer[index] = Slot(key: key, random: make())
          count += 1
          return body(&buffer[index].random)
        }
        index = (index + 1) & mask
      }
    }
  }

  /// Fibonacci hashing: the top bits of the key times 2^64/φ.
  private static func home(_ key: UInt64, shift: Int) -> Int {
    Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
  }

  private mutating func grow() {
    let capacity = max(16, slots.count * 2)
    let old = slots
    slots = Array(
      repeating: Slot(key: Self.empty, random: SimRandom(seed: 0)), count: capacity)
    shift = 64 - capacity.trailingZeroBitCount
    let mask = capacity - 1
    for slot in old where slot.key != Self.empty {
      var index = Self.home(slot.key, shift: shift)
      while slots[index].key != Self.empty { index = (index + 1) & mask }
      slots[index] = slot
    }
  }
}
