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
    SimInstant(microseconds: microseconds + duration.microsecondsValue)
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

/// A deterministic event scheduler keyed by (time, sequence), so events at the same instant
/// run in the order they were scheduled. Schedule is O(1); cancel is O(1); a pop is O(1)
/// amortized plus one move per base-64 digit of the event's delay (two for a 10 ms packet,
/// four for a 32 s timer). No `Task` per timer.
///
/// The queue is a radix heap in base 64, which is also a hierarchical timing wheel: 11 levels
/// of 64 slots. An event waits at the level of the highest base-64 digit where its time differs
/// from `current` (a time no later than any pending event), in the slot named by that digit. At
/// level 0 a slot holds one exact instant, in scheduling order, so a pop takes the head of the
/// lowest non-empty slot of level 0 (found with one word of occupancy bits per level). When
/// level 0 is empty, the lowest non-empty slot of the lowest level is opened: `current` moves to
/// its start and its events move, in order, to lower levels. Nothing ever compares two keys.
///
/// Why it keeps (time, sequence) order: where an event waits depends only on its time and
/// `current`, so events with one time always share a slot, and each slot keeps the order in
/// which events reached it. Direct schedules reach a slot in sequence order, and a slot opened
/// moves its events in their order into slots that are empty (everything below it is), before
/// any later schedule can reach them.
///
/// Why not a base-2 radix heap (stop 16) or a 4-ary heap (before): the base-2 heap moved an
/// event once per bit of its delay (about 13 times for 10 ms) and scanned a bucket for its
/// smallest key on every pop; a heap of 100,000 events compared its way down eight to seventeen
/// levels of scattered memory on every pop.
///
/// The slots hold only plain values (time, sequence, slot), so moving them touches no
/// reference count; actions live in a slot table. Cancelling frees the slot at once and leaves a
/// stale entry that is dropped when it is reached (its sequence no longer matches the slot's);
/// when stale entries outnumber live ones every slot is filtered, so a timer that is armed and
/// cancelled over and over cannot grow the queue without bound.
public struct EventScheduler: TimerService {
  /// 16 bytes: the time, and the sequence (high 40 bits) with the slot (low 24 bits).
  fileprivate struct Entry {
    var time: Int64
    var key: UInt64
    var sequence: UInt64 { key >> 24 }
    var slot: UInt32 { UInt32(truncatingIfNeeded: key & 0xFF_FFFF) }
    init(time: Int64, sequence: UInt64, slot: UInt32) {
      self.time = time
      key = sequence << 24 | UInt64(slot)
    }
  }
  /// At most this many events can be pending at once (the slot field's range).
  public static let maximumPending = 0xFF_FFFF

  /// 11 base-64 digits cover a 64-bit time.
  fileprivate static let levels = 11

  private var wheel = Wheel()
  /// No later than any pending event's time, and no later than `now` once an event has popped.
  private var current: Int64 = 0
  /// Entries in the wheel, stale ones included.
  private var entryCount = 0
  /// Wheel entries whose event was cancelled and not yet dropped.
  private var staleEntries = 0
  private var nextSequence: UInt64 = 0

  /// The time of the last event taken.
  public private(set) var now: SimInstant = .zero

  public init() {}

  /// Events scheduled and neither run nor cancelled.
  public var pendingCount: Int { entryCount - staleEntries }

  /// Schedules `action` at `instant` (clamped to `now`: nothing runs in the past).
  public mutating func schedule(at instant: SimInstant, _ action: @escaping () -> Void)
    -> TimerHandle
  {
    schedule(at: instant, .closure(action))
  }

  /// Schedules `target.timerFired(token)` at `instant` (clamped to `now`). No closure is
  /// allocated: elements with many timers name them by token.
  public mutating func schedule(at instant: SimInstant, target: any TimerTarget, token: UInt64)
    -> TimerHandle
  {
    schedule(at: instant, .target(target, token))
  }

  /// `arrival`: the action is `.target(network, token)`, a datagram's arrival, and the network
  /// is told of it shortly before (``Wheel/warmLevelZero()``).
  mutating func schedule(at instant: SimInstant, _ action: ScheduledAction, arrival: Bool = false)
    -> TimerHandle
  {
    makeWheelUnique()
    let sequence = nextSequence & 0xFF_FFFF_FFFF  // 40 bits: 10^12 events
    nextSequence += 1
    let slot = wheel.claim(sequence: sequence, action: action, arrival: arrival)
    insert(Entry(time: max(instant, now).microseconds, sequence: sequence, slot: slot))
    entryCount += 1
    return TimerHandle(sequence: sequence, slot: slot)
  }

  /// Schedules `action` after `delay` from `now`.
  @discardableResult
  public mutating func schedule(after delay: Duration, _ action: @escaping () -> Void)
    -> TimerHandle
  {
    schedule(at: now.advanced(by: delay), action)
  }

  /// Cancels a pending event in O(1): its slot is freed now, and its wheel entry, now stale, is
  /// dropped when it is reached (or when stale entries outnumber live ones).
  public mutating func cancel(_ handle: TimerHandle) {
    let index = Int(handle.slot)
    guard index < wheel.slotCount, wheel.sequence(of: index) == handle.sequence else { return }
    makeWheelUnique()
    wheel.release(index)
    staleEntries += 1
    if staleEntries > 1024, staleEntries * 2 > entryCount { compact() }
  }

  /// Moves `now` forward without running anything (used by `run(until:)` when no event is due).
  public mutating func advance(to instant: SimInstant) {
    now = max(now, instant)
  }

  /// The time of the next event, if any (stale entries it meets are dropped; nothing moves).
  public mutating func nextTime() -> SimInstant? {
    makeWheelUnique()
    while let (level, slot) = wheel.lowestOccupied() {
      if let time = earliestTime(level: level, slot: slot) {
        return SimInstant(microseconds: time)
      }
    }
    return nil
  }

  /// Removes and returns the next event's action, advancing `now` to its time; nil when the queue
  /// is empty or the next event is after `limit`.
  public mutating func next(until limit: SimInstant? = nil) -> ScheduledAction? {
    makeWheelUnique()
    while let (level, slot) = wheel.lowestOccupied() {
      if level == 0 {
        // One instant, in sequence order: the head is next (once stale heads are dropped).
        guard let first = liveHead(slot: slot) else { continue }
        if let limit, first.time > limit.microseconds { return nil }
        wheel.removeHead(of: slot)
        entryCount -= 1
        current = first.time
        now = SimInstant(microseconds: first.time)
        return wheel.take(Int(first.slot))
      }
      if let limit {
        // Opening a slot moves `current` to its start, which must stay at or before whatever is
        // scheduled next; past the limit, time may stop short of it, so only look.
        guard Self.start(level: level, slot: slot, current: current) <= limit.microseconds,
          let earliest = earliestTime(level: level, slot: slot)
        else {
          if wheel.isOccupied(level: level, slot: slot) { return nil }
          continue
        }
        if earliest > limit.microseconds { return nil }
      }
      open(level: level, slot: slot)
    }
    return nil
  }

  @inline(__always) private func isStale(_ entry: Entry) -> Bool {
    wheel.sequence(of: Int(entry.slot)) != entry.sequence
  }

  /// The level and slot where an event at `time` waits, given `current`.
  @inline(__always) private func place(_ time: Int64) -> Int {
    let differing = UInt64(bitPattern: time ^ current)
    let level = differing == 0 ? 0 : (63 - differing.leadingZeroBitCount) / 6
    let digit = Int(truncatingIfNeeded: UInt64(bitPattern: time) >> UInt64(6 * level)) & 63
    return level << 6 | digit
  }

  /// The first time of level `level`'s slot `slot`, given `current`'s higher digits.
  @inline(__always) private static func start(level: Int, slot: Int, current: Int64) -> Int64 {
    let shift = UInt64(6 * level)
    let above = shift + 6 >= 64 ? 0 : (UInt64(bitPattern: current) >> (shift + 6)) << (shift + 6)
    return Int64(bitPattern: above | UInt64(slot) << shift)
  }

  @inline(__always) private mutating func insert(_ entry: Entry) {
    wheel.append(entry, to: place(entry.time))
  }

  /// Drops the stale entries at the head of a level-0 slot; returns the live head, or nil when
  /// the slot turned out empty (it is then marked empty).
  private mutating func liveHead(slot: Int) -> Entry? {
    while let head = wheel.head(of: slot) {
      guard isStale(head) else { return head }
      wheel.removeHead(of: slot)
      entryCount -= 1
      staleEntries -= 1
    }
    return nil
  }

  /// The earliest live time in a slot, dropping its stale entries (order kept); nil when none
  /// are live (the slot is then marked empty).
  private mutating func earliestTime(level: Int, slot: Int) -> Int64? {
    let index = level << 6 | slot
    if staleEntries > 0 { dropStale(in: index) }
    return wheel.earliestTime(in: index)
  }

  /// Opens a slot above level 0: `current` moves to its start and its live entries move, in
  /// order, to lower levels.
  private mutating func open(level: Int, slot: Int) {
    let index = level << 6 | slot
    current = Self.start(level: level, slot: slot, current: current)
    let (entries, range) = wheel.empty(index)
    // Every entry goes to a lower level, so `entries` is not written to while it is read.
    if staleEntries == 0 {
      for position in range { insert(entries[position]) }
    } else {
      for position in range {
        let entry = entries[position]
        if isStale(entry) {
          entryCount -= 1
          staleEntries -= 1
        } else {
          insert(entry)
        }
      }
    }
    wheel.shrinkIfEmpty(index)
    // Level 0 was empty (a slot opens only then): what it holds now is the next 64 µs of
    // events, whose misses are better taken together now than one per pop.
    wheel.warmLevelZero()
  }

  private mutating func dropStale(in index: Int) {
    let wheel = wheel
    let dropped = wheel.removeAll(in: index) { wheel.sequence(of: Int($0.slot)) != $0.sequence }
    staleEntries -= dropped
    entryCount -= dropped
  }

  private mutating func compact() {
    makeWheelUnique()
    for index in 0..<(Self.levels << 6) where wheel.count(of: index) > 0 {
      dropStale(in: index)
    }
  }

  private mutating func makeWheelUnique() {
    if !isKnownUniquelyReferenced(&wheel) { wheel = wheel.copy() }
  }
}

/// The scheduler's storage, managed by hand: the wheel's 704 slots with their occupancy bits,
/// and the table of pending events' actions (an event's slot names its row) with its free list.
/// The hot loop appends and removes plain values, and an array per part checked uniqueness and
/// bounds at every step. Slot buffers are allocated on a slot's first use and kept.
private final class Wheel {
  typealias Entry = EventScheduler.Entry
  struct Slot {
    var entries: UnsafeMutablePointer<Entry>?
    var head: Int
    var count: Int
    var capacity: Int
  }
  /// A row of the action table: the sequence of its pending event (or `free`) and its action.
  struct Row {
    var sequence: UInt64
    var action: ScheduledAction?
    /// The action is a datagram's arrival: `.target(network, token)` with a ``Network``.
    var isArrival = false
  }
  private static let wheelSlots = EventScheduler.levels << 6
  private static let free = UInt64.max
  private let slots: UnsafeMutablePointer<Slot>
  /// One word per level: bit `d` set when slot `d` of that level holds entries.
  private let occupied: UnsafeMutablePointer<UInt64>
  private var rows: UnsafeMutablePointer<Row>
  /// Rows initialized (pending or free).
  private(set) var slotCount = 0
  private var rowCapacity = 0
  /// Free rows, reused last-in first-out (deterministic).
  private var freeRows: UnsafeMutablePointer<UInt32>
  private var freeCount = 0

  init() {
    slots = .allocate(capacity: Self.wheelSlots)
    slots.initialize(
      repeating: Slot(entries: nil, head: 0, count: 0, capacity: 0), count: Self.wheelSlots)
    occupied = .allocate(capacity: EventScheduler.levels)
    occupied.initialize(repeating: 0, count: EventScheduler.levels)
    rows = .allocate(capacity: 0)
    freeRows = .allocate(capacity: 0)
  }

  deinit {
    for index in 0..<Self.wheelSlots { slots[index].entries?.deallocate() }
    slots.deallocate()
    occupied.deallocate()
    rows.deinitialize(count: slotCount)
    rows.deallocate()
    freeRows.deallocate()
  }

  func copy() -> Wheel {
    let other = Wheel()
    for index in 0..<Self.wheelSlots {
      let source = slots[index]
      guard let entries = source.entries else { continue }
      for position in source.head..<source.count { other.append(entries[position], to: index) }
    }
    other.reserveRows(rowCapacity)
    other.rows.initialize(from: rows, count: slotCount)
    other.slotCount = slotCount
    other.freeRows.initialize(from: freeRows, count: freeCount)
    other.freeCount = freeCount
    return other
  }

  // MARK: The action table

  /// A row for a new event: the last one freed, or a new one.
  @inline(__always) func claim(sequence: UInt64, action: ScheduledAction, arrival: Bool)
    -> UInt32
  {
    if freeCount > 0 {
      freeCount -= 1
      let row = freeRows[freeCount]
      rows[Int(row)] = Row(sequence: sequence, action: action, isArrival: arrival)
      return row
    }
    // More pending events than an entry can name is a runaway simulation, not input.
    precondition(slotCount < EventScheduler.maximumPending, "more than 16M events pending")
    if slotCount == rowCapacity { reserveRows(max(64, rowCapacity * 2)) }
    (rows + slotCount).initialize(to: Row(sequence: sequence, action: action, isArrival: arrival))
    slotCount += 1
    return UInt32(slotCount - 1)
  }

  private func reserveRows(_ capacity: Int) {
    guard capacity > rowCapacity else { return }
    let larger = UnsafeMutablePointer<Row>.allocate(capacity: capacity)
    larger.moveInitialize(from: rows, count: slotCount)
    rows.deallocate()
    rows = larger
    let largerFree = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
    largerFree.moveInitialize(from: freeRows, count: freeCount)
    freeRows.deallocate()
    freeRows = largerFree
    rowCapacity = capacity
  }

  /// The sequence of row `row`'s pending event (`free` when none).
  @inline(__always) func sequence(of row: Int) -> UInt64 { rows[row].sequence }

  /// Frees a row (its event was cancelled).
  @inline(__always) func release(_ row: Int) {
    rows[row] = Row(sequence: Self.free, action: nil)
    freeRows[freeCount] = UInt32(truncatingIfNeeded: row)
    freeCount += 1
  }

  /// Frees a row and returns its action (its event is due).
  @inline(__always) func take(_ row: Int) -> ScheduledAction? {
    let action = rows[row].action.take()
    rows[row].sequence = Self.free
    freeRows[freeCount] = UInt32(truncatingIfNeeded: row)
    freeCount += 1
    return action
  }

  /// What ``warmLevelZero()`` read, summed and kept so that the reads are not optimized away.
  private var warmed: UInt64 = 0

  /// Reads, for the events about to fire (level 0's, once a slot has opened into it: the next
  /// 64 µs), what their firing will read: each event's row, and for a datagram's arrival its
  /// flight and destination (``Network/arrivalIsNear(_:)``). Each pop otherwise
  /// waited for a cache miss on its row and arrivals for more on the network's records (10,000
  /// hosts with 100,000 datagrams in flight scatter rows and flights over megabytes); read
  /// here, in loops whose iterations do not depend on each other, the misses overlap. Nothing
  /// observable changes.
  func warmLevelZero() {
    var occupiedSlots = occupied[0]
    while occupiedSlots != 0 {
      let slot = slots[occupiedSlots.trailingZeroBitCount]
      occupiedSlots &= occupiedSlots &- 1
      guard let entries = slot.entries else { continue }
      warm(entries, slot.head..<slot.count)
    }
  }

  private func warm(_ entries: UnsafeMutablePointer<Entry>, _ range: Range<Int>) {
    var sum: UInt64 = 0
    for position in range { sum &+= rows[Int(entries[position].slot)].sequence }
    warmed &+= sum
    for position in range {
      let entry = entries[position]
      let row = rows + Int(entry.slot)
      guard row.pointee.isArrival, row.pointee.sequence == entry.sequence,
        case .target(let network, let token)? = row.pointee.action
      else { continue }
      unsafeDowncast(network, to: Network.self).arrivalIsNear(token)
    }
  }

  // MARK: The wheel

  /// The lowest occupied (level, slot): level 0 first, then the lowest slot.
  @inline(__always) func lowestOccupied() -> (level: Int, slot: Int)? {
    for level in 0..<EventScheduler.levels where occupied[level] != 0 {
      return (level, occupied[level].trailingZeroBitCount)
    }
    return nil
  }

  func isOccupied(level: Int, slot: Int) -> Bool { occupied[level] & (1 << UInt64(slot)) != 0 }

  @inline(__always) func count(of index: Int) -> Int { slots[index].count - slots[index].head }

  @inline(__always) func append(_ entry: Entry, to index: Int) {
    if slots[index].count == slots[index].capacity { grow(index) }
    slots[index].entries.unsafelyUnwrapped[slots[index].count] = entry
    slots[index].count += 1
    occupied[index >> 6] |= 1 << UInt64(index & 63)
  }

  private func grow(_ index: Int) {
    let old = slots[index]
    let live = old.count - old.head
    let capacity = max(8, live * 2)
    let larger = UnsafeMutablePointer<Entry>.allocate(capacity: capacity)
    if let entries = old.entries {
      larger.update(from: entries + old.head, count: live)
      entries.deallocate()
    }
    slots[index] = Slot(entries: larger, head: 0, count: live, capacity: capacity)
  }

  private func markEmpty(_ index: Int) {
    slots[index].head = 0
    slots[index].count = 0
    occupied[index >> 6] &= ~(1 << UInt64(index & 63))
  }

  /// Frees an empty slot's buffer when it is large: a burst of events (a million agents'
  /// refresh timers at one instant) passes down the levels, and each slot it passed through kept
  /// room for all of it.
  func shrinkIfEmpty(_ index: Int) {
    guard slots[index].count == 0, slots[index].capacity > 1024 else { return }
    slots[index].entries?.deallocate()
    slots[index] = Slot(entries: nil, head: 0, count: 0, capacity: 0)
  }

  @inline(__always) func head(of index: Int) -> Entry? {
    let slot = slots[index]
    guard slot.head < slot.count, let entries = slot.entries else {
      markEmpty(index)
      return nil
    }
    return entries[slot.head]
  }

  @inline(__always) func removeHead(of index: Int) {
    slots[index].head += 1
    if slots[index].head == slots[index].count {
      markEmpty(index)
      shrinkIfEmpty(index)
    }
  }

  /// The slot's entries in order; the slot is left empty (its buffer kept for reuse).
  func empty(_ index: Int) -> (UnsafeMutablePointer<Entry>, Range<Int>) {
    let slot = slots[index]
    markEmpty(index)
    return (slot.entries.unsafelyUnwrapped, slot.head..<slot.count)
  }

  func earliestTime(in index: Int) -> Int64? {
    let slot = slots[index]
    guard slot.head < slot.count, let entries = slot.entries else {
      markEmpty(index)
      return nil
    }
    var earliest = entries[slot.head].time
    for position in (slot.head + 1)..<slot.count where entries[position].time < earliest {
      earliest = entries[position].time
    }
    return earliest
  }

  /// Removes the entries for which `isDropped` holds, keeping the others' order.
  func removeAll(in index: Int, where isDropped: (Entry) -> Bool) -> Int {
    let slot = slots[index]
    guard let entries = slot.entries else { return 0 }
    var kept = slot.head
    for position in slot.head..<slot.count where !isDropped(entries[position]) {
      entries[kept] = entries[position]
      kept += 1
    }
    slots[index].count = kept
    if kept == slot.head { markEmpty(index) }
    return slot.count - kept
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
