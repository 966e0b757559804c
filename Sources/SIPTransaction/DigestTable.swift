/// A key that carries its own well-mixed 64-bit digest, computed once when the key was made.
package protocol DigestKey: Equatable {
  var tableDigest: UInt64 { get }
}

/// A hash table for keys that carry their digest: the transaction layer's transactions, looked
/// up on every message and timer.
///
/// A `Dictionary` runs the seeded hasher over a key's `hash(into:)` on every lookup, insert and
/// delete (and again for the entries a delete shifts back): about 200 instructions a time, some
/// thirty times per transaction. Here a lookup multiplies the stored digest and probes.
///
/// Entries live in dense arrays (keys, values) and an index table of slots, probed linearly
/// from the digest's home slot. A slot holds the entry's position and 32 bits of its digest
/// (its tag), and the tag alone chooses the home slot: a probe compares tags in the slot array
/// and reads a key only when the tags agree, and a removal shifts entries back by their tags.
/// With a key read at every probed slot, each probe past a full slot missed the cache twice in
/// a big table (the dense key, then the key's storage for its digest): at 200,000 live
/// transactions, reading other keys was most of the lookups' time. A dense position stays valid
/// while values change in place and nothing is inserted or removed (the layer reads and writes
/// a transaction's fields through it). Removal moves the last entry into the hole. The order of
/// the dense arrays depends on the digests and removals: nothing observable may follow it
/// (the layer sorts what it reports).
///
/// Used only inside this module, where it is specialized: generic code called across modules
/// runs unspecialized, looking up type metadata at run time (slower than the `Dictionary` it
/// replaces).
package struct DigestTable<Key: DigestKey, Value> {
  /// The entries, dense and in the same order (a position is what ``index(forKey:)`` returns).
  /// Keys apart from values: probing reads keys only, and reading a key out of a key-value
  /// pair copied the whole pair (the layer's values hold messages: a retain for each).
  private var denseKeys: [Key] = []
  private var values: [Value] = []
  /// Each entry's tag, in the dense order: a removal finds the slot of the entry it moves
  /// without reading that entry's key. Kept only while the table has slots: a table of a few
  /// entries compares digests in dense order, and the array was an allocation per transaction
  /// of every agent.
  private var denseTags: [UInt32] = []
  /// A power-of-two count of slots, at most 3/4 in use; none while the table holds at most
  /// ``scannedUpTo`` entries, which a lookup finds by comparing digests in dense order.
  private var slots: [Slot] = []

  /// The most entries a table keeps without slots. A user agent's tables hold one or two
  /// transactions (and their timers) at a time, and building slots for them was an allocation
  /// and a rehash for every transaction; comparing four digests is as fast as a probe.
  static var scannedUpTo: Int { 4 }

  package init() {}

  package var count: Int { denseKeys.count }
  package var isEmpty: Bool { denseKeys.isEmpty }
  /// Entries the table holds before its slots grow (0 while it keeps no slots).
  package var capacity: Int { slots.count / 4 * 3 }
  /// The keys, in the table's order (which nothing observable may follow).
  package var keys: [Key] { denseKeys }

  /// The key at dense position `index`.
  package func key(at index: Int) -> Key { denseKeys[index] }

  /// The value at dense position `index`, read or changed in place.
  package subscript(at index: Int) -> Value {
    get { values[index] }
    _modify { yield &values[index] }
  }

  /// 32 bits of a digest: both halves folded, so keys differing anywhere differ here too.
  @inline(__always)
  private static func tag(_ digest: UInt64) -> UInt32 {
    UInt32(truncatingIfNeeded: digest ^ digest >> 32)
  }

  @inline(__always)
  private func home(_ tag: UInt32) -> Int {
    // Fibonacci hashing: the top bits of the product, so any tag spreads over the slots.
    let bits = UInt64(slots.count.trailingZeroBitCount)
    return Int(truncatingIfNeeded: (UInt64(tag) &* 0x9E37_79B9_7F4A_7C15) >> (64 - bits))
  }

  /// The slot holding `key`'s position, or nil.
  private func slot(of key: Key) -> Int? {
    slot(digest: key.tableDigest) { $0 == key }
  }

  /// The slot holding the position of the key with `digest` that `isKey` accepts, or nil.
  @inline(__always)
  private func slot(digest: UInt64, where isKey: (Key) -> Bool) -> Int? {
    guard !slots.isEmpty else { return nil }
    let tag = Self.tag(digest)
    let mask = slots.count - 1
    var slot = home(tag)
    while true {
      let entry = slots[slot]
      if entry.position < 0 { return nil }
      if entry.tag == tag, isKey(denseKeys[Int(entry.position)]) { return slot }
      slot = (slot + 1) & mask
    }
  }

  /// The dense position of `key`, or nil.
  @inline(__always)
  package func index(forKey key: Key) -> Int? {
    index(digest: key.tableDigest) { $0 == key }
  }

  /// The dense position of the key with `digest` that `isKey` accepts, or nil: a lookup by a
  /// key's parts, without making the key (a response's client key was an allocation, made
  /// only to be compared and dropped). `digest` must be the one the key would carry.
  @inline(__always)
  package func index(digest: UInt64, where isKey: (Key) -> Bool) -> Int? {
    guard slots.isEmpty else {
      return slot(digest: digest, where: isKey).map { Int(slots[$0].position) }
    }
    var index = 0
    while index < denseKeys.count {
      if denseKeys[index].tableDigest == digest, isKey(denseKeys[index]) { return index }
      index += 1
    }
    return nil
  }

  package subscript(key: Key) -> Value? {
    index(forKey: key).map { values[$0] }
  }

  /// Adds `value` for `key`, or replaces the value it has; returns the replaced value.
  @discardableResult
  package mutating func updateValue(_ value: Value, forKey key: Key) -> Value? {
    if let index = index(forKey: key) {
      // Swapped, not copied out and overwritten: a copy retains every reference a value holds
      // (a transaction's messages), and the overwrite releases them again.
      var old = value
      swap(&old, &values[index])
      return old
    }
    if slots.isEmpty {
      if denseKeys.isEmpty {
        denseKeys.reserveCapacity(Self.scannedUpTo)
        values.reserveCapacity(Self.scannedUpTo)
      }
      denseKeys.append(key)
      values.append(value)
      // Past the scanned size: tags and slots for every entry, the new one included.
      if denseKeys.count > Self.scannedUpTo { grow() }
      return nil
    }
    let tag = Self.tag(key.tableDigest)
    if denseKeys.count + 1 > capacity { grow() }
    denseKeys.append(key)
    values.append(value)
    denseTags.append(tag)
    place(Int32(denseKeys.count - 1), tag: tag)
    return nil
  }

  /// Removes `key`'s entry; returns its value, or nil when there was none.
  @discardableResult
  package mutating func removeValue(forKey key: Key) -> Value? {
    if slots.isEmpty {
      guard let index = index(forKey: key) else { return nil }
      return removeScanned(at: index)
    }
    guard let slot = slot(of: key) else { return nil }
    return remove(slot: slot, index: Int(slots[slot].position))
  }

  /// Removes the entry at dense position `index` (from ``index(forKey:)``).
  package mutating func remove(at index: Int) {
    if slots.isEmpty {
      removeScanned(at: index)
      return
    }
    guard let slot = slot(of: denseKeys[index]) else { return }
    remove(slot: slot, index: index)
  }

  /// Removes the entry at dense position `index` of a table without slots.
  @discardableResult
  private mutating func removeScanned(at index: Int) -> Value {
    let removed = takeDense(at: index)
    if denseKeys.isEmpty { removeAll() }
    return removed
  }

  /// Takes the entry at dense position `index` out of the dense arrays, the last entry filling
  /// the hole. Moved, not swapped: `swapAt` copies an element (a retain for each reference a
  /// transaction holds) and destroys the copy.
  @inline(__always)
  private mutating func takeDense(at index: Int) -> Value {
    var removed = values.removeLast()
    let lastKey = denseKeys.removeLast()
    let hasTags = !denseTags.isEmpty
    let lastTag = hasTags ? denseTags.removeLast() : 0
    if index != denseKeys.count {
      denseKeys[index] = lastKey
      if hasTags { denseTags[index] = lastTag }
      swap(&removed, &values[index])
    }
    return removed
  }

  /// Empties the table and gives its storage back.
  package mutating func removeAll() {
    denseKeys = []
    values = []
    denseTags = []
    slots = []
  }

  /// Removes the entry at `slot` (dense position `index`) and returns its value, moved out.
  @discardableResult
  private mutating func remove(slot: Int, index: Int) -> Value {
    let last = denseKeys.count - 1
    // The last entry fills the hole: its slot (found by its position, from its tag's home)
    // now points at `index`.
    if index != last {
      let mask = slots.count - 1
      var moved = home(denseTags[last])
      while slots[moved].position != Int32(last) { moved = (moved + 1) & mask }
      slots[moved].position = Int32(index)
    }
    let removed = takeDense(at: index)
    if denseKeys.isEmpty {
      // An idle element (one of a million agents between registrations) keeps no table.
      removeAll()
      return removed
    }
    // Backward-shift deletion: pull later entries of the probe run into the hole when their
    // home slot allows it, so lookups never need tombstones.
    let mask = slots.count - 1
    var hole = slot
    var next = (hole + 1) & mask
    while slots[next].position >= 0 {
      let want = home(slots[next].tag)
      // Movable when its home is not cyclically inside (hole, next].
      if (hole - want) & mask < (next - want) & mask {
        slots[hole] = slots[next]
        hole = next
      }
      next = (next + 1) & mask
    }
    slots[hole] = .empty
    return removed
  }

  private mutating func place(_ position: Int32, tag: UInt32) {
    let mask = slots.count - 1
    var slot = home(tag)
    while slots[slot].position >= 0 { slot = (slot + 1) & mask }
    slots[slot] = Slot(position: position, tag: tag)
  }

  private mutating func grow() {
    if denseTags.isEmpty {
      // Leaving the scanned size: the tags the slots are placed by.
      denseTags.reserveCapacity(denseKeys.count * 2)
      for key in denseKeys { denseTags.append(Self.tag(key.tableDigest)) }
    }
    slots = [Slot](repeating: .empty, count: max(8, slots.count * 2))
    for index in denseTags.indices { place(Int32(index), tag: denseTags[index]) }
  }
}

extension DigestTable: Sendable where Key: Sendable, Value: Sendable {}

/// A ``DigestTable`` slot: a dense position (-1: empty) and the tag of the entry there.
private struct Slot: Sendable {
  var position: Int32
  var tag: UInt32
  static var empty: Slot { Slot(position: -1, tag: 0) }
}
