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
}

/// A timer service: what an element needs to arm and cancel timers. A future real-network runtime
/// can implement the same protocol with wall-clock timers.
public protocol TimerService {
  /// Runs `action` at `instant`; returns a handle for `cancel`.
  mutating func schedule(at instant: SimInstant, _ action: @escaping () -> Void) -> TimerHandle
  /// Cancels a pending event; cancelling a fired or unknown handle does nothing.
  mutating func cancel(_ handle: TimerHandle)
}

/// A deterministic event scheduler: a 4-ary heap (shallower than a binary one, so fewer cache
/// misses per pop when many events are pending) keyed by (time, sequence), so events at the
/// same instant run in the order they were scheduled. Schedule and pop are O(log n); cancel is
/// O(1). No `Task` per timer.
///
/// The heap holds only plain values (time, sequence, slot), so sifting moves no reference
/// counts; actions live in a slot table. Cancelling frees the slot at once and leaves a stale
/// heap entry that is skipped when it surfaces (its sequence no longer matches the slot's);
/// when stale entries outnumber live ones the heap is rebuilt, so a timer that is armed and
/// cancelled over and over cannot grow it without bound.
public struct EventScheduler: TimerService {
  /// 16 bytes: the time, and the sequence (high 40 bits) with the slot (low 24 bits), so four
  /// siblings of the 4-ary heap share one cache line. Comparing `key` compares sequences.
  private struct Entry {
    var time: Int64
    var key: UInt64
    var sequence: UInt64 { key >> 24 }
    var slot: UInt32 { UInt32(truncatingIfNeeded: key & 0xFF_FFFF) }
    init(time: Int64, sequence: UInt64, slot: UInt32) {
      self.time = time
      key = sequence << 24 | UInt64(slot)
    }
    @inline(__always) func precedes(_ other: Entry) -> Bool {
      time != other.time ? time < other.time : key < other.key
    }
  }
  /// Slots are 24 bits: at most 16,777,215 events pending at once.
  public static let maximumPending = 0xFF_FFFF

  private static let free = UInt64.max

  private var heap: [Entry] = []
  /// Per slot: the sequence of the event stored there, or `free`. Kept apart from the actions
  /// so that checking whether a heap entry is live touches no reference count.
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
  public var pendingCount: Int { heap.count - staleEntries }

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
    let sequence = nextSequence & 0xFF_FFFF_FFFF  // 40 bits: 10^12 events
    nextSequence += 1
    let slot: UInt32
    if let reused = freeSlots.popLast() {
      slot = reused
      slotSequences[Int(reused)] = sequence
      slotActions[Int(reused)] = action
    } else {
      // More pending events than a heap entry can name is a runaway simulation, not input.
      precondition(slotSequences.count < Self.maximumPending, "more than 16M events pending")
      slot = UInt32(slotSequences.count)
      slotSequences.append(sequence)
      slotActions.append(action)
    }
    push(Entry(time: max(instant, now).microseconds, sequence: sequence, slot: slot))
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
    if staleEntries > 1024, staleEntries * 2 > heap.count { compact() }
  }

  /// Moves `now` forward to `instant` (never backward) without running anything: the end of
  /// `run(until:)` when no event is due before it.
  public mutating func advance(to instant: SimInstant) {
    now = max(now, instant)
  }

  /// The time of the next live event, if any.
  public mutating func nextTime() -> SimInstant? {
    dropStaleTop()
    return heap.first.map { SimInstant(microseconds: $0.time) }
  }

  /// Removes the next live event and advances `now` to its time; returns its action.
  /// The caller runs the action (so it may schedule more events on this scheduler).
  public mutating func next(until limit: SimInstant? = nil) -> ScheduledAction? {
    dropStaleTop()
    guard let first = heap.first else { return nil }
    if let limit, first.time > limit.microseconds { return nil }
    popTop()
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

  private func isLive(_ entry: Entry) -> Bool { slotSequences[Int(entry.slot)] == entry.sequence }

  private mutating func dropStaleTop() {
    // With nothing cancelled every entry is live: skip the slot lookup (a cache miss).
    guard staleEntries > 0 else { return }
    while let first = heap.first, !isLive(first) {
      popTop()
      staleEntries -= 1
    }
  }

  private mutating func compact() {
    let live = heap.filter { isLive($0) }
    heap = []
    heap.reserveCapacity(live.count)
    for entry in live { push(entry) }
    staleEntries = 0
  }

  private mutating func push(_ entry: Entry) {
    heap.append(entry)
    var child = heap.count - 1
    heap.withUnsafeMutableBufferPointer { buffer in
      while child > 0 {
        let parent = (child - 1) / 4
        guard entry.precedes(buffer[parent]) else { break }
        buffer[child] = buffer[parent]
        child = parent
      }
      buffer[child] = entry
    }
  }

  /// Removes the top. Floyd's method: the hole goes down to a leaf along the smallest
  /// children without comparing against the moved last entry (which nearly always belongs near
  /// the bottom), then that entry sifts up the little it needs.
  private mutating func popTop() {
    guard let last = heap.popLast() else { return }
    let count = heap.count
    guard count > 0 else { return }
    heap.withUnsafeMutableBufferPointer { buffer in
      var hole = 0
      while true {
        let first = 4 * hole + 1
        if first >= count { break }
        var best = first
        let end = min(first + 4, count)
        var child = first + 1
        while child < end {
          if buffer[child].precedes(buffer[best]) { best = child }
          child += 1
        }
        buffer[hole] = buffer[best]
        hole = best
      }
      while hole > 0 {
        let parent = (hole - 1) / 4
        guard last.precedes(buffer[parent]) else { break }
        buffer[hole] = buffer[parent]
        hole = parent
      }
      buffer[hole] = last
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
