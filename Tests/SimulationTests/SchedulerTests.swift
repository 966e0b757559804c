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
  while let action = scheduler.next() { action() }
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
