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
  /// The event's sequence number, unique within one scheduler.
  public let sequence: UInt64
}

/// A timer service: what an element needs to arm and cancel timers. A future real-network runtime
/// can implement the same protocol with wall-clock timers.
public protocol TimerService {
  /// Runs `action` at `instant`; returns a handle for `cancel`.
  mutating func schedule(at instant: SimInstant, _ action: @escaping () -> Void) -> TimerHandle
  /// Cancels a pending event; cancelling a fired or unknown handle does nothing.
  mutating func cancel(_ handle: TimerHandle)
}

/// A deterministic event scheduler: a binary heap keyed by (time, sequence), so events at the
/// same instant run in the order they were scheduled. Cancellation is lazy (O(1) mark, skipped
/// when popped); schedule and pop are O(log n). No `Task` per timer.
public struct EventScheduler: TimerService {
  private struct Entry {
    var time: SimInstant
    var sequence: UInt64
    var action: () -> Void
    func precedes(_ other: Entry) -> Bool {
      time != other.time ? time < other.time : sequence < other.sequence
    }
  }

  private var heap: [Entry] = []
  private var cancelled: Set<UInt64> = []
  /// Sequences of armed events, so `cancel` is O(1) and never scans the heap.
  private var armed: Set<UInt64> = []
  private var nextSequence: UInt64 = 0

  /// The current virtual time: the time of the last event run.
  public private(set) var now: SimInstant = .zero

  /// Makes an empty scheduler at time zero.
  public init() {}

  /// Number of armed (not cancelled, not fired) events.
  public var pendingCount: Int { armed.count }

  public mutating func schedule(at instant: SimInstant, _ action: @escaping () -> Void)
    -> TimerHandle
  {
    let entry = Entry(time: max(instant, now), sequence: nextSequence, action: action)
    nextSequence += 1
    armed.insert(entry.sequence)
    heap.append(entry)
    var child = heap.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard heap[child].precedes(heap[parent]) else { break }
      heap.swapAt(child, parent)
      child = parent
    }
    return TimerHandle(sequence: entry.sequence)
  }

  /// Runs `action` after `delay` of virtual time.
  @discardableResult
  public mutating func schedule(after delay: Duration, _ action: @escaping () -> Void)
    -> TimerHandle
  {
    schedule(at: now.advanced(by: delay), action)
  }

  public mutating func cancel(_ handle: TimerHandle) {
    if armed.remove(handle.sequence) != nil {
      cancelled.insert(handle.sequence)
    }
  }

  private mutating func popMin() -> Entry? {
    guard let last = heap.popLast() else { return nil }
    guard !heap.isEmpty else { return last }
    let top = heap[0]
    heap[0] = last
    var parent = 0
    while true {
      let left = 2 * parent + 1
      let right = left + 1
      var best = parent
      if left < heap.count, heap[left].precedes(heap[best]) { best = left }
      if right < heap.count, heap[right].precedes(heap[best]) { best = right }
      if best == parent { break }
      heap.swapAt(parent, best)
      parent = best
    }
    return top
  }

  /// Moves `now` forward to `instant` (never backward) without running anything: the end of
  /// `run(until:)` when no event is due before it.
  public mutating func advance(to instant: SimInstant) {
    now = max(now, instant)
  }

  /// Removes the next live event and advances `now` to its time; returns its action.
  /// The caller runs the action (so it may schedule more events on this scheduler).
  public mutating func next(until limit: SimInstant? = nil) -> (() -> Void)? {
    while let first = heap.first {
      if let limit, first.time > limit { return nil }
      guard let entry = popMin() else { return nil }
      if cancelled.remove(entry.sequence) != nil { continue }
      armed.remove(entry.sequence)
      now = entry.time
      return entry.action
    }
    return nil
  }
}
