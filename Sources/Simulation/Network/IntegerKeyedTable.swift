/// A table keyed by 64-bit integers, for the lookups every packet makes: the random stream of a
/// link by pair key (`from << 32 | to`), the host of an IPv4 address.
///
/// Open addressing over keys with their values' positions, the values apart in the order added:
/// a network of 10,000 hosts sending to random peers opens a million links, and a `Dictionary`
/// lookup there costs a SipHash and three cache misses (bitmap, keys, values) per packet.
/// Entries are never removed and the table is never iterated, so its order cannot reach
/// anything observable.
struct IntegerKeyedTable<Value> {
  /// A key and where its value is in `values`: 16 bytes, four to a cache line, so a probe
  /// reads one line and a slot never straddles two.
  private struct Slot {
    var key: UInt64
    var index: Int
  }
  /// The key no caller uses (pair keys have host indices below 2^32 - 1; address keys are 32-bit).
  static var empty: UInt64 { UInt64.max }
  private var slots: [Slot] = []
  /// The values in the order their keys were added: a new key's value is written at the end,
  /// memory the last insertion just touched, where a value beside its key in the probed slot
  /// (a link's 32-byte generator beside its key) was a second cache line half the time.
  private var values: [Value] = []
  var count: Int { values.count }
  private var shift = 64

  init() {}

  /// Runs `body` with the value of `key`, made by `make` the first time.
  mutating func with<R>(_ key: UInt64, make: () -> Value, _ body: (inout Value) -> R) -> R {
    if (count + 1) * 4 > slots.count * 3 { grow() }  // at most three quarters full
    let mask = slots.count - 1
    var index = Self.home(key, shift: shift)
    let position: Int = slots.withUnsafeMutableBufferPointer { buffer in
      while true {
        if buffer[index].key == key { return buffer[index].index }
        if buffer[index].key == Self.empty {
          buffer[index] = Slot(key: key, index: values.count)
          return -1
        }
        index = (index + 1) & mask
      }
    }
    if position < 0 {
      values.append(make())
      return values.withUnsafeMutableBufferPointer { body(&$0[$0.count - 1]) }
    }
    return values.withUnsafeMutableBufferPointer { body(&$0[position]) }
  }

  /// The value of `key`, if it has one.
  subscript(key: UInt64) -> Value? {
    guard !slots.isEmpty else { return nil }
    let mask = slots.count - 1
    var index = Self.home(key, shift: shift)
    let position: Int = slots.withUnsafeBufferPointer { buffer in
      while true {
        if buffer[index].key == key { return buffer[index].index }
        if buffer[index].key == Self.empty { return -1 }
        index = (index + 1) & mask
      }
    }
    return position < 0 ? nil : values[position]
  }

  /// Sets the value of `key`.
  mutating func set(_ key: UInt64, to value: Value) {
    with(key, make: { value }) { $0 = value }
  }

  /// Fibonacci hashing: the top bits of the key times 2^64/φ.
  private static func home(_ key: UInt64, shift: Int) -> Int {
    Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
  }

  private mutating func grow() {
    let capacity = max(16, slots.count * 2)
    let old = slots
    slots = Array(repeating: Slot(key: Self.empty, index: -1), count: capacity)
    shift = 64 - capacity.trailingZeroBitCount
    let mask = capacity - 1
    for slot in old where slot.key != Self.empty {
      var index = Self.home(slot.key, shift: shift)
      while slots[index].key != Self.empty { index = (index + 1) & mask }
      slots[index] = slot
    }
  }
}
