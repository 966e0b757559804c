import Testing

@testable import SIPTransaction

/// The layer's packed list of armed timers behaves like the array it replaced: arming order
/// kept, removal from anywhere, a missing timer reported, every timer's code round-trips.
@Test func armedTimersBehaveLikeAnOrderedArray() {
  let all = TransactionTimer.allCases
  for timer in all { #expect(TransactionTimer(ordinal: timer.ordinal) == timer) }
  #expect(TransactionTimer(ordinal: UInt8(all.count)) == nil)
  var packed = ArmedTimers()
  var model: [TransactionTimer] = []
  var state: UInt64 = 3
  for _ in 0..<5_000 {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    let timer = all[Int(state >> 33) % all.count]
    if state >> 20 & 1 == 0 {
      // Arm (or re-arm): the layer removes the timer first, then appends it.
      packed.remove(timer)
      model.removeAll { $0 == timer }
      packed.append(timer)
      model.append(timer)
    } else {
      let removed = packed.remove(timer)
      let position = model.firstIndex(of: timer)
      #expect(removed == (position != nil))
      if let position { model.remove(at: position) }
    }
    #expect(Array(packed) == model)
  }
  // Every timer at once (more than any machine arms) still fits, in order.
  var full = ArmedTimers()
  for timer in all.reversed() { full.append(timer) }
  #expect(Array(full) == Array(all.reversed()))
}
