import SIPCore
import Testing

@testable import SIPTransaction

/// The layer's packed list of armed timers behaves like an ordered array of (timer, slot):
/// arming order kept, removal from anywhere giving the slot back, a missing timer reported,
/// every timer's code and the largest slot number round-trip; four places, a fifth refused (no
/// machine arms more than two at once).
@Test func armedTimersBehaveLikeAnOrderedArray() {
  let all = TransactionTimer.allCases
  for timer in all { #expect(TransactionTimer(ordinal: timer.ordinal) == timer) }
  #expect(TransactionTimer(ordinal: UInt8(all.count)) == nil)
  var packed = ArmedTimers()
  var model: [(timer: TransactionTimer, slot: Int)] = []
  var state: UInt64 = 3
  for step in 0..<5_000 {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    let timer = all[Int(state >> 33) % all.count]
    if state >> 20 & 1 == 0 {
      // Arm (or re-arm): the layer removes the timer first, then appends it with its slot.
      let removed = packed.remove(timer)
      let position = model.firstIndex { $0.timer == timer }
      #expect(removed == position.map { model[$0].slot })
      if let position { model.remove(at: position) }
      let slot = (step &* 7919 &* 104_729) % ArmedTimers.slotLimit
      let appended = packed.append(timer, slot: slot)
      #expect(appended == (model.count < ArmedTimers.capacity))
      if appended { model.append((timer, slot)) }
    } else {
      let removed = packed.remove(timer)
      let position = model.firstIndex { $0.timer == timer }
      #expect(removed == position.map { model[$0].slot })
      if let position { model.remove(at: position) }
    }
    #expect(packed.map(\.timer) == model.map(\.timer))
    #expect(packed.map(\.slot) == model.map(\.slot))
  }
  // The last timer and the largest slot number survive the packing.
  var full = ArmedTimers()
  let last = all[all.count - 1]
  let fitted = full.append(last, slot: ArmedTimers.slotLimit - 1)
  #expect(fitted && full.map(\.timer) == [last])
  let back = full.remove(last)
  #expect(back == ArmedTimers.slotLimit - 1)
}

/// The layer numbers timer slots from 0, reuses a number once its timer is cancelled or fires
/// (the lowest first), keeps a timer's number when it is armed again, and numbers from 0 again
/// once no transaction is left; numbers stay below the timers armed at once.
@Test func timerSlotsAreSmallAndReused() throws {
  var layer = TransactionLayer()
  func slots(_ actions: [TransactionLayerAction]) -> [String] {
    actions.compactMap { action in
      switch action {
      case .startTimer(_, let timer, _, let slot): "start \(timer.rawValue) \(slot)"
      case .cancelTimer(_, let timer, let slot): "cancel \(timer.rawValue) \(slot)"
      default: nil
      }
    }
  }
  let first = Sample.request("OPTIONS", branch: "z9hG4bKslot1")
  let second = Sample.request("OPTIONS", branch: "z9hG4bKslot2")
  #expect(
    slots(layer.sendRequest(first, to: "bob", reliable: false)) == ["start E 0", "start F 1"])
  #expect(
    slots(layer.sendRequest(second, to: "bob", reliable: false)) == ["start E 2", "start F 3"])
  let key = try #require(TransactionKey.client(for: first))
  // Timer E fires and is armed again: its number is given back, then taken again.
  #expect(slots(layer.timerFired(.e, of: key)) == ["start E 0"])
  // The 200: E and F cancelled, K takes the lowest number free.
  #expect(
    slots(layer.receive(Sample.response(200, to: first), from: "bob", reliable: false)) == [
      "cancel E 0", "cancel F 1", "start K 0",
    ])
  // The other ends by a transport error: its numbers are given back.
  let other = try #require(TransactionKey.client(for: second))
  #expect(slots(layer.transportError(for: other)) == ["cancel E 2", "cancel F 3"])
  #expect(slots(layer.timerFired(.k, of: key)).isEmpty)
  #expect(layer.count == 0)
  // No transaction left: numbering starts again at 0.
  #expect(
    slots(layer.sendRequest(second, to: "bob", reliable: false)) == ["start E 0", "start F 1"])
  #expect(slots(layer.transportError(for: other)) == ["cancel E 0", "cancel F 1"])

  // Past 64 numbers: the ones above are listed when given back, and taken back last first.
  var keys: [TransactionKey] = []
  for index in 0..<33 {
    let request = Sample.request("OPTIONS", branch: "z9hG4bKmany\(index)")
    let started = slots(layer.sendRequest(request, to: "bob", reliable: false))
    #expect(started == ["start E \(2 * index)", "start F \(2 * index + 1)"])
    keys.append(try #require(TransactionKey.client(for: request)))
  }
  #expect(slots(layer.transportError(for: keys[32])) == ["cancel E 64", "cancel F 65"])
  #expect(layer.freeTimerSlots == [64, 65])
  let late = Sample.request("OPTIONS", branch: "z9hG4bKlate")
  #expect(
    slots(layer.sendRequest(late, to: "bob", reliable: false)) == ["start E 65", "start F 64"])
  keys[32] = try #require(TransactionKey.client(for: late))
  for key in keys { _ = layer.transportError(for: key) }
  // All given back with the last transaction: no list, numbering from 0.
  #expect(layer.count == 0 && layer.freeTimerSlots.capacity == 0)
  #expect(layer.unusedTimerSlot == 0 && layer.freeLowTimerSlots == 0)
}

/// A timer the layer cannot number (a slot past the limit) is refused with an action the
/// owner logs, never dropped silently.
@Test func aTimerPastTheSlotLimitIsRefused() throws {
  var layer = TransactionLayer()
  layer.unusedTimerSlot = Int32(ArmedTimers.slotLimit)
  let actions = layer.sendRequest(Sample.request("OPTIONS"), to: "bob", reliable: false)
  let refused = actions.compactMap { action -> String? in
    if case .timerRefused(_, let timer) = action { return timer.rawValue }
    return nil
  }
  #expect(refused == ["E", "F"])
  #expect(!actions.contains { if case .startTimer = $0 { true } else { false } })
}

/// The machines and the layer append to the caller's array and never clear it (the endpoint
/// reuses one array from event to event), giving what the array-returning calls give; the
/// layer keeps its room for a machine's actions only while a transaction lives.
@Test func layerAppendsToTheCallersArrayAndKeepsNoRoomWhenIdle() throws {
  var machine = NonInviteClientTransaction(request: "OPTIONS", isReliable: false)
  var machineActions: [TransactionAction<String>] = [.terminate]
  machine.start(into: &machineActions)
  #expect(
    machineActions == [
      .terminate, .send("OPTIONS"), .startTimer(.e, .milliseconds(500)),
      .startTimer(.f, .seconds(32)),
    ])
  machine.handle(.response(status: 200, "200"), into: &machineActions)
  #expect(machineActions.count == 8 && machineActions[4] == .cancelTimer(.e))

  var layer = TransactionLayer()
  var twin = TransactionLayer()
  let request = Sample.request("OPTIONS")
  let sentinel = TransactionLayerAction.rejected(request, reason: "sentinel")
  var actions = [sentinel]
  layer.sendRequest(request, topVia: request.topVia, to: "bob", reliable: false, into: &actions)
  #expect(
    lines(actions) == [sentinel.description]
      + lines(twin.sendRequest(request, to: "bob", reliable: false)))
  #expect(layer.machineActions.capacity > 0)
  let key = try #require(TransactionKey.client(for: request))
  let ok = Sample.response(200, to: request)
  actions = [sentinel]
  layer.receive(ok, topVia: ok.topVia, from: "bob", reliable: false, into: &actions)
  #expect(
    lines(actions) == [sentinel.description] + lines(twin.receive(ok, from: "bob", reliable: false))
  )
  actions = [sentinel]
  layer.timerFired(.k, of: key, into: &actions)
  #expect(lines(actions) == [sentinel.description] + lines(twin.timerFired(.k, of: key)))
  #expect(lines(actions).last == "destroyed")
  #expect(layer.count == 0 && layer.machineActions.capacity == 0)
}

/// A server key's identity is `branch|sent-by` with the sent-by host lower-cased and the port
/// kept (§17.2.3), written in one pass: the trace shows it as the transaction.
@Test func serverKeyIdentityLowercasesTheSentByHost() throws {
  let cases: [(sentBy: String, identity: String)] = [
    ("pc33.atlanta.com", "z9hG4bK776asdhds|pc33.atlanta.com"),
    ("PC33.Atlanta.COM:5070", "z9hG4bK776asdhds|pc33.atlanta.com:5070"),
    ("10.0.0.1:5060", "z9hG4bK776asdhds|10.0.0.1:5060"),
    ("[2001:DB8::1]:0", "z9hG4bK776asdhds|[2001:db8::1]:0"),
  ]
  for (sentBy, identity) in cases {
    let key = try #require(TransactionKey.server(for: Sample.request("OPTIONS", sentBy: sentBy)))
    #expect(key.identity == identity)
    #expect(key.description == identity + "/OPTIONS/s")
  }
  // Ports of every length, and one only code can make, print as their description.
  let request = Sample.request("OPTIONS", sentBy: "h")
  for port in [0, 9, 10, 99, 100, 5060, 65535, -1, 123_456] {
    let via = Via(
      transport: "UDP", host: "H", port: port, parameters: [SIPParameter("branch", "z9hG4bKa")])
    let key = try #require(TransactionKey.server(for: request, topVia: via))
    #expect(key.identity == "z9hG4bKa|h:\(port)")
  }
}

/// A key whose digest the test chooses: few distinct digests force long probe runs, so removal
/// must shift entries back correctly. Spread 0: every digest differs but folds to the same
/// 32-bit tag (the table's slots compare tags before keys).
private struct ChosenKey: DigestKey, Hashable {
  var id: Int
  var spread: Int
  var tableDigest: UInt64 {
    if spread == 0 { return UInt64(truncatingIfNeeded: id) << 32 | UInt64(truncatingIfNeeded: id) }
    return UInt64(truncatingIfNeeded: id % spread) &* 0x1234_5678_9ABC_DEF1
  }
}

/// The layer's table behaves like a `Dictionary` under random inserts,
/// updates, removals (by key and by position) and lookups, with colliding and spread digests,
/// through growth and emptying (which gives the storage back).
@Test(arguments: [(0, 64), (1, 64), (3, 64), (1_000_000, 64), (0, 7), (1_000_000, 7)])
func digestTableBehavesLikeADictionary(spread: Int, keys: Int) throws {
  // 64 keys keep the table in its slots; 7 keep it crossing the size where it scans instead.
  var table = DigestTable<ChosenKey, Int>()
  var model: [ChosenKey: Int] = [:]
  var state = UInt64(spread)
  func next(_ bound: Int) -> Int {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Int(state >> 33) % bound
  }
  for step in 0..<20_000 {
    let key = ChosenKey(id: next(keys), spread: spread)
    switch next(5) {
    case 0, 1:
      #expect(table.updateValue(step, forKey: key) == model.updateValue(step, forKey: key))
    case 2:
      #expect(table.removeValue(forKey: key) == model.removeValue(forKey: key))
    case 3:
      if let index = table.index(forKey: key) {
        #expect(table.key(at: index) == key && table[at: index] == model[key])
        table.remove(at: index)
        model[key] = nil
      } else {
        #expect(model[key] == nil)
      }
    default:
      #expect(table[key] == model[key])
      if let index = table.index(forKey: key) { table[at: index] += 1 }
      if model[key] != nil { model[key]? += 1 }
    }
    #expect(table.count == model.count)
    if step % 500 == 0 {
      for (key, value) in model { #expect(table[key] == value) }
      #expect(Set(table.keys) == Set(model.keys))
    }
    if table.isEmpty { #expect(table.capacity == 0) }
  }
}

/// A key's digest (FNV-1a then a finalizer, unseeded) tells keys apart and spreads them: over
/// 20,000 keys that differ in one character of their branch, their role or their method, no two
/// share a digest, and the top byte the tables take their slots from takes nearly every value.
@Test func keyDigestsAreDistinctAndSpread() {
  var digests = Set<UInt64>()
  var topBytes = Set<UInt64>()
  var keys = 0
  for index in 0..<5_000 {
    let branch = "z9hG4bK" + String(index, radix: 16)
    for (role, method) in [
      (TransactionKey.Role.client, "INVITE"), (.client, "BYE"), (.server, "INVITE"),
      (.server, "ACK"),
    ] {
      let key = TransactionKey(
        role: role, method: method, branch: branch, rest: role == .server ? "10.0.0.1:5060" : "")
      digests.insert(key.tableDigest)
      topBytes.insert(key.tableDigest >> 56)
      keys += 1
    }
  }
  #expect(digests.count == keys)
  #expect(topBytes.count > 250)
  // The same parts give the same digest.
  let one = TransactionKey(role: .client, method: "BYE", branch: "z9hG4bKa")
  let two = TransactionKey(role: .client, method: "BYE", branch: "z9hG4bKa")
  #expect(one.tableDigest == two.tableDigest && one == two)
  // A server key compares its branch and its sent-by: the same branch from another sent-by is
  // another transaction (§17.2.3), and so is a client key with that branch.
  let server = TransactionKey(role: .server, method: "BYE", branch: "z9hG4bKa", rest: "h:1")
  let again = TransactionKey(role: .server, method: "BYE", branch: "z9hG4bKa", rest: "h:1")
  let elsewhere = TransactionKey(role: .server, method: "BYE", branch: "z9hG4bKa", rest: "h:2")
  #expect(server == again && server.tableDigest == again.tableDigest)
  #expect(server != elsewhere && server != one)
  #expect(server.description == "z9hG4bKa|h:1/BYE/s" && one.description == "z9hG4bKa/BYE/c")
}

/// A final response a server transaction keeps to answer retransmissions (a non-INVITE's over
/// UDP, for Timer J; an INVITE's non-2xx, until the ACK) is kept, and sent, as its own bytes:
/// the same message and bytes the core gave, without holding the request's bytes and the
/// fields' own buffers for 32 s. A provisional response, a 2xx to INVITE (let go at once) and a
/// non-INVITE final over a reliable transport (Timer J is zero) are left as they are.
@Test func aKeptFinalResponseIsItsOwnBytes() throws {
  let cases: [(method: String, status: Int, reliable: Bool, kept: Bool)] = [
    ("OPTIONS", 200, false, true), ("OPTIONS", 404, false, true), ("OPTIONS", 200, true, false),
    ("OPTIONS", 180, false, false), ("INVITE", 486, false, true), ("INVITE", 486, true, true),
    ("INVITE", 180, false, false), ("INVITE", 200, false, false),
  ]
  for row in cases {
    var layer = TransactionLayer()
    let request = Sample.request(row.method)
    _ = layer.receive(request, from: "alice", reliable: row.reliable)
    let key = try #require(TransactionKey.server(for: request))
    let response = Sample.response(row.status, to: request)
    let sent = layer.respond(response, in: key).compactMap { action -> SIPMessage? in
      if case .send(let message, _, _) = action { return message }
      return nil
    }
    #expect(sent == [response], "\(row)")
    #expect(sent.first?.serialized() == response.serialized(), "\(row)")
    #expect(sent.first?.isKeptAsSerialization == row.kept, "\(row)")
    let held: SIPMessage? =
      switch layer.entries[key]?.machine {
      case .nonInviteServer(let machine): machine.lastResponse
      case .inviteServer(let machine): machine.lastResponse
      default: nil
      }
    #expect(held?.isKeptAsSerialization ?? false == row.kept, "\(row)")
    // A retransmitted request gets the same bytes again.
    if row.kept {
      let again = layer.receive(request, from: "alice", reliable: row.reliable)
      let resent = again.compactMap { action -> [UInt8]? in
        if case .send(let message, _, _) = action { return message.serialized() }
        return nil
      }
      #expect(resent == [response.serialized()], "\(row)")
    }
  }
}
