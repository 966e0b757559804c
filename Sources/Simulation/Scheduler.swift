/// A point in virtual time: integer microseconds since the simulation started.
///
/// Integers (not floating point) keep ordering exact and traces byte-identical across runs.
public struct SimInstant: Comparable, Hashable, Sendable {
  /// Microseconds since the start of the simulation.
  public var microseconds: Int64

  /// Makes an instant `microseconds` after the start.
  public init(microseconds: Int64) { self.microseconds = microseconds }

  /// The start of every simulation.
  public static let zero = SimInstant(microseconds: 0)

  public static func < (lhs: SimInstant, rhs: SimInstant) -> Bool {
    lhs.microseconds < rhs.microseconds
  }

  /// The instant `duration` later, truncated to whole microseconds.
  public func advanced(by duration: Duration) -> SimInstant {
    let (seconds, atto) = duration.components
    return SimInstant(microseconds: microseconds + seconds * 1_000_000 + atto / 1_000_000_000_000)
  }
}

/// A handle that cancels a scheduled event.
public struct TimerHandle: Hashable, Sendable {
  /// The event's sequence number, unique within one scheduler: it orders ties and tells a live
  /// slot from a reused one.
  public let sequence: UInt64
  /// Where the event's action is stored (an index into the scheduler's slot table).
  let slot: UInt32

  /// A handle of no event: cancelling it does nothing (a placeholder in an owner's table).
  public static let none = TimerHandle(sequence: .max, slot: .max)
}

/// A timer service: what an element needs to arm and cancel timers. A future real-network runtime
/// can implement the same protocol with wall-clock timers.
public protocol TimerService {
  /// Runs `action` at `instant`; returns a handle for `cancel`.
  mutating func schedule(at instant: SimInstant, _ action: @escaping () -> Void) -> TimerHandle
  /// Cancels a pending event; cancelling a fired or unknown handle does nothing.
  mutating func cancel(_ handle: TimerHandle)
}

/// A deterministic event scheduler: a radix heap keyed by (time, sequence), so events at the
/// same instant run in the order they were scheduled. Schedule is O(1); cancel is O(1); a pop is
/// O(log range) amortized. No `Task` per timer.
///
/// Why a radix heap: the keys a simulation pops never go down (nothing is scheduled before
/// `now`, and sequences grow), which is exactly the case a radix heap serves. An entry sits in
/// the bucket named by the highest bit where its 128-bit key (time, then sequence) differs from
/// the key last popped; a pop takes the smallest entry of the lowest non-empty bucket and moves
/// that bucket's other entries to lower buckets. Each entry moves a few times in its life, along
/// arrays scanned in order, where a binary or 4-ary heap with 100,000 pending events compared
/// its way down eight to seventeen levels of scattered memory on every pop (about 700
/// instructions per event, most of a timer event's cost).
///
/// The buckets hold only plain values (time, sequence, slot), so moving them touches no
/// reference count; actions live in a slot table. Cancelling frees the slot at once and leaves a
/// stale entry that is dropped when its bucket is next scanned (its sequence no longer matches
/// the slot's); when stale entries outnumber live ones every bucket is filtered, so a timer that
/// is armed and cancelled over and over cannot grow the queue without bound.
public struct EventScheduler: TimerService {
  /// 16 bytes: the time, and the sequence (high 40 bits) with the slot (low 24 bits). Comparing
  /// `key` compares sequences (unique), so (time, key) orders events as (time, sequence).
  private struct Entry {
    var time: Int64
    var key: UInt64
    var sequence: UInt64 { key >> 24 }
    var slot: UInt32 { UInt32(truncatingIfNeeded: key & 0xFF_FFFF) }
    init(time: Int64, sequence: UInt64, slot: UInt32) {
      self.time = time
      key = sequence << 24 | UInt64(slot)
    }
    init(time: Int64, key: UInt64) {
      self.time = time
      self.key = key
    }
    @inline(__always) func precedes(_ other: Entry) -> Bool {
      time != other.time ? time < other.time : key < other.key
    }
  }
  /// Slots are 24 bits: at most 16,777,215 events pending at once.
  public static let maximumPending = 0xFF_FFFF

  private static let free = UInt64.max
  /// Bucket 0 holds keys equal to the last popped one; 1...64 differ first in a bit of `key`;
  /// 65...128 first in a bit of `time`.
  private static let bucketCount = 129

  private var buckets = Buckets()
  /// Which buckets are non-empty: bit `b % 64` of word `b / 64`.
  private var occupied: (UInt64, UInt64, UInt64) = (0, 0, 0)
  /// The key last popped. Every pending entry's key is greater.
  private var last = Entry(time: 0, key: 0)
  /// Entries in the buckets, stale ones included.
  private var entryCount = 0
  /// Per slot: the sequence of the event stored there, or `free`. Kept apart from the actions
  /// so that checking whether an entry is live touches no reference count.
  private var slotSequences: [UInt64] = []
  private var slotActions: [ScheduledAction?] = []

  private var freeSlots: [UInt32] = []
  private var staleEntries = 0
  private var nextSequence: UInt64 = 0

  /// The current virtual time: the time of the last event run.
  public private(set) var now: SimInstant = .zero

  /// Makes an empty scheduler at time zero.
  public init() {}

  /// Number of armed (not cancelled, not fired) events.
  public var pendingCount: Int { entryCount - staleEntries }

  public mutating func schedule(at instant: SimInstant, _ action: @escaping () -> Void)
    -> TimerHandle
  {
    schedule(at: instant, .closure(action))
  }

  /// Arms a timer that calls `target.timerFired(token)`: no allocation per timer, and the target
  /// (an element's transaction layer, say) is shared by all its timers.
  public mutating func schedule(at instant: SimInstant, target: any TimerTarget, token: UInt64)
    -> TimerHandle
  {
    schedule(at: instant, .target(target, token))
  }

  mutating func schedule(at instant: SimInstant, _ action: ScheduledAction) -> TimerHandle {
    makeBucketsUnique()
    let sequence = nextSequence & 0xFF_FFFF_FFFF  // 40 bits: 10^12 events
    nextSequence += 1
    let slot: UInt32
    if let reused = freeSlots.popLast() {
      slot = reused
      slotSequences[Int(reused)] = sequence
      slotActions[Int(reused)] = action
    } else {
      // More pending events than an entry can name is a runaway simulation, not input.
      precondition(slotSequences.count < Self.maximumPending, "more than 16M events pending")
      slot = UInt32(slotSequences.count)
      slotSequences.append(sequence)
      slotActions.append(action)
    }
    insert(Entry(time: max(instant, now).microseconds, sequence: sequence, slot: slot))
    entryCount += 1
    return TimerHandle(sequence: sequence, slot: slot)
  }

  /// Runs `action` after `delay` of virtual time.
  @discardableResult
  public mutating func schedule(after delay: Duration, _ action: @escaping () -> Void)
    -> TimerHandle
  {
    schedule(at: now.advanced(by: delay), action)
  }

  public mutating func cancel(_ handle: TimerHandle) {
    let index = Int(handle.slot)
    guard index < slotSequences.count, slotSequences[index] == handle.sequence else { return }
    release(slot: handle.slot)
    staleEntries += 1
    if staleEntries > 1024, staleEntries * 2 > entryCount { compact() }
  }

  /// Moves `now` forward to `instant` (never backward) without running anything: the end of
  /// `run(until:)` when no event is due before it.
  public mutating func advance(to instant: SimInstant) {
    now = max(now, instant)
  }

  /// The time of the next live event, if any.
  public mutating func nextTime() -> SimInstant? {
    makeBucketsUnique()
    guard let (bucket, index) = smallest() else { return nil }
    return SimInstant(microseconds: buckets.entry(index, of: bucket).time)
  }

  /// Removes the next live event and advances `now` to its time; returns its action.
  /// The caller runs the action (so it may schedule more events on this scheduler).
  public mutating func next(until limit: SimInstant? = nil) -> ScheduledAction? {
    makeBucketsUnique()
    guard let (bucket, index) = smallest() else { return nil }
    let first = buckets.entry(index, of: bucket)
    if let limit, first.time > limit.microseconds { return nil }
    // Only now, when it is popped, does the smallest become `last`: a peek that stops at
    // `limit` must leave room for events scheduled before it.
    take(index, from: bucket)
    let action = slotActions[Int(first.slot)].take()
    release(slot: first.slot)
    now = SimInstant(microseconds: first.time)
    return action
  }

  private mutating func release(slot: UInt32) {
    slotSequences[Int(slot)] = Self.free
    slotActions[Int(slot)] = nil
    freeSlots.append(slot)
  }

  @inline(__always) private func bucket(of entry: Entry) -> Int {
    let time = UInt64(bitPattern: entry.time ^ last.time)
    if time != 0 { return 128 - time.leadingZeroBitCount }
    return 64 - (entry.key ^ last.key).leadingZeroBitCount
  }

  @inline(__always) private mutating func insert(_ entry: Entry) {
    let index = bucket(of: entry)
    buckets.append(entry, to: index)
    mark(index)
  }

  @inline(__always) private mutating func mark(_ index: Int) {
    let bit = UInt64(1) << UInt64(index & 63)
    switch index >> 6 {
    case 0: occupied.0 |= bit
    case 1: occupied.1 |= bit
    default: occupied.2 |= bit
    }
  }

  private mutating func unmark(_ index: Int) {
    let bit = ~(UInt64(1) << UInt64(index & 63))
    switch index >> 6 {
    case 0: occupied.0 &= bit
    case 1: occupied.1 &= bit
    default: occupied.2 &= bit
    }
  }

  private var lowestOccupied: Int? {
    if occupied.0 != 0 { return occupied.0.trailingZeroBitCount }
    if occupied.1 != 0 { return 64 + occupied.1.trailingZeroBitCount }
    if occupied.2 != 0 { return 128 + occupied.2.trailingZeroBitCount }
    return nil
  }

  /// The bucket and index of the smallest live entry, dropping stale entries of the buckets it
  /// scans. Changes no key: the smallest is not popped yet.
  private mutating func smallest() -> (bucket: Int, index: Int)? {
    while let bucket = lowestOccupied {
      if staleEntries > 0 { dropStale(in: bucket) }
      let found = buckets.smallest(in: bucket)
      if let found { return (bucket, found) }
      unmark(bucket)
    }
    return nil
  }

  /// Pops entry `index` of `bucket` (the smallest of all), makes it `last`, and moves the
  /// bucket's other entries to the lower buckets they now belong in.
  private mutating func take(_ index: Int, from bucket: Int) {
    last = buckets.entry(index, of: bucket)
    entryCount -= 1
    unmark(bucket)
    let (entries, count) = buckets.empty(bucket, removing: index)
    // Every other entry of the bucket goes to a lower one, so `entries` is not written to
    // while it is read.
    for position in 0..<count { insert(entries[position]) }
  }

  private mutating func dropStale(in bucket: Int) {
    let dropped = slotSequences.withUnsafeBufferPointer { sequences in
      buckets.removeAll(in: bucket) { sequences[Int($0.slot)] != $0.sequence }
    }
    staleEntries -= dropped
    entryCount -= dropped
  }

  private mutating func compact() {
    makeBucketsUnique()
    for bucket in 0..<Self.bucketCount where buckets.count(of: bucket) > 0 {
      dropStale(in: bucket)
      if buckets.count(of: bucket) == 0 { unmark(bucket) }
    }
  }

  /// Copy on write, checked once per operation instead of once per bucket append.
  private mutating func makeBucketsUnique() {
    if !isKnownUniquelyReferenced(&buckets) { buckets = buckets.copy() }
  }

  /// The buckets' entries in manually managed arrays: a nested `[[Entry]]` paid two
  /// uniqueness checks on every append, and entries are appended several times in their life.
  private final class Buckets {
    struct Bucket {
      var entries: UnsafeMutablePointer<Entry>
      var count: Int
      var capacity: Int
    }
    let table: UnsafeMutablePointer<Bucket>

    init() {
      table = .allocate(capacity: EventScheduler.bucketCount)
      for index in 0..<EventScheduler.bucketCount {
        (table + index).initialize(
          to: Bucket(entries: .allocate(capacity: 4), count: 0, capacity: 4))
      }
    }

    deinit {
      for index in 0..<EventScheduler.bucketCount { table[index].entries.deallocate() }
      table.deallocate()
    }

    func copy() -> Buckets {
      let other = Buckets()
      for index in 0..<EventScheduler.bucketCount {
        let source = table[index]
        for position in 0..<source.count { other.append(source.entries[position], to: index) }
      }
      return other
    }

    @inline(__always) func count(of bucket: Int) -> Int { table[bucket].count }

    @inline(__always) func entry(_ index: Int, of bucket: Int) -> Entry {
      table[bucket].entries[index]
    }

    @inline(__always) func append(_ entry: Entry, to bucket: Int) {
      if table[bucket].count == table[bucket].capacity { grow(bucket) }
      table[bucket].entries[table[bucket].count] = entry
      table[bucket].count += 1
    }

    private func grow(_ bucket: Int) {
      let old = table[bucket]
      let larger = UnsafeMutablePointer<Entry>.allocate(capacity: old.capacity * 2)
      larger.update(from: old.entries, count: old.count)
      old.entries.deallocate()
      table[bucket].entries = larger
      table[bucket].capacity = old.capacity * 2
    }

    /// The index of the smallest entry of `bucket`, if it has any.
    func smallest(in bucket: Int) -> Int? {
      let (entries, count) = (table[bucket].entries, table[bucket].count)
      guard count > 0 else { return nil }
      var best = entries[0]
      var bestIndex = 0
      for index in 1..<count where entries[index].precedes(best) {
        best = entries[index]
        bestIndex = index
      }
      return bestIndex
    }

    /// Empties `bucket` but for its storage, which holds, until the next append to it, the
    /// entries other than `removed`: returned with their count.
    func empty(_ bucket: Int, removing removed: Int) -> (UnsafeMutablePointer<Entry>, Int) {
      let entries = table[bucket].entries
      let remaining = table[bucket].count - 1
      entries[removed] = entries[remaining]
      table[bucket].count = 0
      return (entries, remaining)
    }

    /// Removes the entries of `bucket` for which `isDropped` holds; returns how many.
    func removeAll(in bucket: Int, where isDropped: (Entry) -> Bool) -> Int {
      let entries = table[bucket].entries
      let count = table[bucket].count
      var kept = 0
      for index in 0..<count where !isDropped(entries[index]) {
        entries[kept] = entries[index]
        kept += 1
      }
      table[bucket].count = kept
      return count - kept
    }
  }
}

/// What a fired event does: run a closure, or tell a target which of its timers fired.
public enum ScheduledAction {
  case closure(() -> Void)
  case target(any TimerTarget, UInt64)

  /// Carries the action out.
  @inline(__always)
  public func run() {
    switch self {
    case .closure(let body): body()
    case .target(let target, let token): target.timerFired(token)
    }
  }
}

/// Something that owns many timers and tells them apart by a token: the cheapest way to arm a
/// timer (no closure to allocate). Called on the thread driving the simulation.
public protocol TimerTarget: AnyObject {
  func timerFired(_ token: UInt64)
}
