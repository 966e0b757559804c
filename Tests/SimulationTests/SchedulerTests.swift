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
