import Simulation
import Testing

@Test func eventsRunInTimeThenSequenceOrder() {
  var scheduler = EventScheduler()
  var order: [String] = []
  _ = scheduler.schedule(at: SimInstant(microseconds: 20), { order.append("b") })
  _ = scheduler.schedule(at: SimInstant(microseconds: 10), { order.append("a1") })
  _ = scheduler.schedule(at: SimInstant(microseconds: 10), { order.append("a2") })
  let dropped = scheduler.schedule(at: SimInstant(microseconds: 15), { order.append("x") })
  scheduler.cancel(dropped)
  while let action = scheduler.next() { action.run() }
  #expect(order == ["a1", "a2", "b"])
  #expect(scheduler.now == SimInstant(microseconds: 20))
  #expect(scheduler.pendingCount == 0)
}

@Test func fnvAndRandomAreStable() {
  #expect(fnv1a64("") == 0xcbf2_9ce4_8422_2325)
  #expect(fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
  var a = SimRandom(seed: 42, stream: "link a->b")
  var b = SimRandom(seed: 42, stream: "link a->b")
  var c = SimRandom(seed: 43, stream: "link a->b")
  let x = (0..<4).map { _ in a.next() }
  #expect(x == (0..<4).map { _ in b.next() })
  #expect(x != (0..<4).map { _ in c.next() })
}

@Test func cancelIsConstantTimeAndCountsStayRight() {
  var scheduler = EventScheduler()
  var handles: [TimerHandle] = []
  for index in 0..<10_000 {
    handles.append(scheduler.schedule(at: SimInstant(microseconds: Int64(index)), {}))
  }
  for handle in handles where handle.sequence % 2 == 0 { scheduler.cancel(handle) }
  #expect(scheduler.pendingCount == 5_000)
  var fired = 0
  while let action = scheduler.next() {
    action.run()
    fired += 1
  }
  #expect(fired == 5_000)
  #expect(scheduler.pendingCount == 0)
  scheduler.cancel(handles[1])  // already fired: ignored
  #expect(scheduler.pendingCount == 0)
}

/// Records the tokens of its timers in the order they fire.
final class TokenRecorder: TimerTarget, @unchecked Sendable {
  var fired: [UInt64] = []
  func timerFired(_ token: UInt64) { fired.append(token) }
}

@Test func targetTimersFireInOrderAndCancel() {
  let simulation = Simulation()
  let target = TokenRecorder()
  simulation.schedule(at: SimInstant(microseconds: 30), target: target, token: 3)
  simulation.schedule(at: SimInstant(microseconds: 10), target: target, token: 1)
  let cancelled = simulation.schedule(at: SimInstant(microseconds: 20), target: target, token: 2)
  simulation.schedule(at: SimInstant(microseconds: 10), target: target, token: 4)
  simulation.cancel(cancelled)
  #expect(simulation.timersArmed == 3)
  simulation.runUntilIdle()
  #expect(target.fired == [1, 4, 3])
  #expect(simulation.timersArmed == 0)
}

/// The scheduler against a plain sorted model: random schedules (at `now`, near it, and far
/// off), cancellations, pops, and peeks that stop at a limit followed by events scheduled before
/// the peeked one (what `run(until:)` does). The radix heap must run exactly the model's order.
@Test(arguments: [1, 2, 3, 4] as [UInt64])
func schedulerRunsWhatASortedModelRuns(seed: UInt64) {
  final class Ran: @unchecked Sendable { var labels: [Int] = [] }
  let ran = Ran()
  var random = SimRandom(seed: seed, stream: "scheduler model")
  var scheduler = EventScheduler()
  // The model: live events as (time, label), labels in scheduling order, so ties break by label.
  var model: [(time: Int64, label: Int)] = []
  var handles: [(TimerHandle, label: Int)] = []
  var expected: [Int] = []
  func runNext(until limit: SimInstant? = nil) {
    let next = model.indices.min { model[$0] < model[$1] }
    if let next, limit.map({ model[next].time <= $0.microseconds }) ?? true {
      expected.append(model.remove(at: next).label)
      scheduler.next(until: limit)?.run()
    } else {
      #expect(scheduler.next(until: limit) == nil)
    }
  }
  for label in 0..<20_000 {
    let now = scheduler.now.microseconds
    switch random.next() % 10 {
    case 0...4:
      let offset: Int64 =
        switch random.next() % 4 {
        case 0: 0
        case 1: Int64(random.next() % 16)
        case 2: Int64(random.next() % 1_000_000)
        default: Int64(random.next() % 5_000_000_000)
        }
      let handle = scheduler.schedule(at: SimInstant(microseconds: now + offset)) {
        ran.labels.append(label)
      }
      handles.append((handle, label))
      model.append((now + offset, label))
    case 5:
      guard !handles.isEmpty else { continue }
      let (handle, cancelled) = handles[Int(random.next() % UInt64(handles.count))]
      scheduler.cancel(handle)
      model.removeAll { $0.label == cancelled }
    case 6:
      // A peek that stops short of the next event, then time stepped to the limit: later
      // schedules may land before the peeked event.
      let limit = SimInstant(microseconds: now + Int64(random.next() % 1_000))
      runNext(until: limit)
      if scheduler.now < limit, model.allSatisfy({ $0.time > limit.microseconds }) {
        scheduler.advance(to: limit)
      }
    default:
      #expect(scheduler.nextTime()?.microseconds == model.min { $0 < $1 }?.time)
      runNext()
    }
    #expect(scheduler.pendingCount == model.count)
  }
  while !model.isEmpty { runNext() }
  #expect(scheduler.next() == nil)
  #expect(scheduler.pendingCount == 0)
  #expect(ran.labels == expected)
  #expect(expected.count > 5_000)
}

/// `EventScheduler` is a value: a copy runs and cancels on its own, leaving the original as it
/// was (its storage is shared until either side changes).
@Test func aCopiedSchedulerIsIndependent() {
  final class Ran: @unchecked Sendable { var labels: [String] = [] }
  let ran = Ran()
  var original = EventScheduler()
  var handles: [TimerHandle] = []
  for index in 0..<200 {
    handles.append(
      original.schedule(at: SimInstant(microseconds: Int64(index % 7) * 1_000_000)) {
        ran.labels.append("e\(index)")
      })
  }
  var copy = original
  copy.cancel(handles[3])
  _ = copy.schedule(at: SimInstant(microseconds: 0)) { ran.labels.append("copy") }
  while let action = copy.next() { action.run() }
  let fromCopy = ran.labels
  ran.labels = []
  #expect(original.pendingCount == 200)
  while let action = original.next() { action.run() }
  #expect(fromCopy.count == 200 && fromCopy.contains("copy") && !fromCopy.contains("e3"))
  #expect(ran.labels.count == 200 && ran.labels.contains("e3") && !ran.labels.contains("copy"))
  // Ties keep scheduling order on both sides: e0, e7, e14, … first.
  #expect(Array(ran.labels.prefix(3)) == ["e0", "e7", "e14"])
}

/// A burst (thousands of events at one far instant, as a million agents' refresh timers) passes
/// down every level of the wheel, whose large slot buffers are freed on the way: every event
/// still runs once, in scheduling order, with events scheduled during the burst in their place.
@Test func aBurstAtOneInstantRunsInOrder() {
  final class Ran: @unchecked Sendable { var labels: [Int] = [] }
  let ran = Ran()
  var scheduler = EventScheduler()
  let burst = SimInstant(microseconds: 3_600_000_000)
  for label in 0..<5_000 {
    _ = scheduler.schedule(at: burst) { ran.labels.append(label) }
    if label % 1_000 == 0 {
      _ = scheduler.schedule(at: SimInstant(microseconds: Int64(label))) {
        ran.labels.append(-label - 1)
      }
    }
  }
  var steps = 0
  while let action = scheduler.next() {
    action.run()
    steps += 1
    // Mid-burst, more events at the same instant: they run after the ones already there.
    if steps == 10 {
      _ = scheduler.schedule(at: burst) { ran.labels.append(5_000) }
    }
  }
  #expect(ran.labels == [-1, -1_001, -2_001, -3_001, -4_001] + Array(0...5_000))
  #expect(scheduler.pendingCount == 0)
}
