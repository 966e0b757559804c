public import SIPCore
public import SIPTransport

/// The transaction layer of one element (RFC 3261 §17): it creates and removes transactions,
/// matches what the transport delivers to them (§17.1.3, §17.2.3), builds the messages the
/// machines ask for (ACK for a non-2xx, 100 Trying) and tells its owner what to do.
///
/// Pure, like the machines it drives: no clock, no network. The owner (an element actor) feeds it
/// events and carries out the returned ``TransactionLayerAction``s in order: it sends, arms
/// timers, and hands messages and failures to its core. A ``SIPPeer`` says where a message came
/// from or goes (an address and a transport); the layer only stores and returns it. The layer is
/// not generic over it: generic code across modules runs unspecialized, looking up type metadata
/// at run time, and that cost was a tenth of every transaction.
///
/// Observable order never depends on hashing: transactions are looked up by key, never iterated
/// except in ``liveKeys`` (sorted).
public struct TransactionLayer: Sendable {
  /// T1, T2, T4 and the 100 Trying wait for every transaction this layer makes.
  public var timers: TimerSettings { timerBox.settings }
  /// Behind one shared reference: a million agents' layers held 32 bytes each of equal values.
  private let timerBox: TimerSettingsBox

  enum Machine: Sendable {
    case inviteClient(InviteClientTransaction<SIPMessage>)
    case nonInviteClient(NonInviteClientTransaction<SIPMessage>)
    case inviteServer(InviteServerTransaction<SIPMessage>)
    case nonInviteServer(NonInviteServerTransaction<SIPMessage>)

    var state: TransactionState {
      switch self {
      case .inviteClient(let machine): machine.state
      case .nonInviteClient(let machine): machine.state
      case .inviteServer(let machine): machine.state
      case .nonInviteServer(let machine): machine.state
      }
    }

    /// Whether a `status` response from the TU would be kept by this machine as its final
    /// response, to send again when the request is retransmitted: a non-INVITE server in
    /// Trying or Proceeding over an unreliable transport (Timer J is zero over a reliable one),
    /// an INVITE server in Proceeding with a non-2xx (kept until the ACK; RFC 6026 lets 2xx
    /// go).
    func keepsFinal(_ status: Int) -> Bool {
      switch self {
      case .nonInviteServer(let machine):
        status >= 200 && !machine.isReliable
          && (machine.state == .trying || machine.state == .proceeding)
      case .inviteServer(let machine):
        status >= 300 && machine.state == .proceeding
      case .inviteClient, .nonInviteClient: false
      }
    }

    /// A timer fired: every machine takes it (a stale one does nothing).
    mutating func handle(
      timerFired timer: TransactionTimer, into result: inout [TransactionAction<SIPMessage>]
    ) {
      switch self {
      case .inviteClient(var machine):
        machine.handle(.timerFired(timer), into: &result)
        self = .inviteClient(machine)
      case .nonInviteClient(var machine):
        machine.handle(.timerFired(timer), into: &result)
        self = .nonInviteClient(machine)
      case .inviteServer(var machine):
        machine.handle(.timerFired(timer), into: &result)
        self = .inviteServer(machine)
      case .nonInviteServer(var machine):
        machine.handle(.timerFired(timer), into: &result)
        self = .nonInviteServer(machine)
      }
    }

    /// The transport failed: every machine takes it.
    mutating func handleTransportError(into result: inout [TransactionAction<SIPMessage>]) {
      switch self {
      case .inviteClient(var machine):
        machine.handle(.transportError, into: &result)
        self = .inviteClient(machine)
      case .nonInviteClient(var machine):
        machine.handle(.transportError, into: &result)
        self = .nonInviteClient(machine)
      case .inviteServer(var machine):
        machine.handle(.transportError, into: &result)
        self = .inviteServer(machine)
      case .nonInviteServer(var machine):
        machine.handle(.transportError, into: &result)
        self = .nonInviteServer(machine)
      }
    }

    var kind: TransactionKind {
      switch self {
      case .inviteClient: .inviteClient
      case .nonInviteClient: .nonInviteClient
      case .inviteServer: .inviteServer
      case .nonInviteServer: .nonInviteServer
      }
    }
  }

  struct Entry: Sendable {
    var machine: Machine
    /// The request that created the transaction (sent, or received), let go once the
    /// transaction reaches a state no event of which can use it (see `forgetsRequest`).
    var request: SIPMessage?
    /// Where the request went (client) or came from (server).
    var peer: SIPPeer
    /// Timers armed and not yet fired or cancelled, in arming order.
    var armed = ArmedTimers()
    /// The To tag of the last final response an INVITE server transaction sent (for RFC 2543
    /// ACKs).
    var responseToTag: String?
    /// The 100 Trying the layer sent on the TU's behalf, resent for a retransmitted INVITE while
    /// the TU has sent nothing (§17.2.1 asks only for the TU's provisional responses; without
    /// this, a lost 100 would leave the client retransmitting until the TU answers).
    var trying: SIPMessage?
  }

  var entries = DigestTable<TransactionKey, Entry>()
  /// Timer slot numbers given back (below 64 a bit each, so a layer with few transactions
  /// allocates nothing for them; above, listed) and the next never given. The owner keeps its
  /// scheduled timers in an array by these numbers, so a cancel or a firing finds its timer
  /// without a table of (transaction, timer) names: that table cost a probe and a removal for
  /// every timer, in a table as big as the live transactions (a tenth of a proxy's cache
  /// misses under load). Numbers stay below the number of timers armed at once; all are given
  /// back when the last transaction ends.
  var freeLowTimerSlots: UInt64 = 0
  var freeTimerSlots: [Int32] = []
  var unusedTimerSlot: Int32 = 0
  /// Room for one event's machine actions, reused while transactions live (see
  /// `takeMachineActions`).
  var machineActions: [TransactionAction<SIPMessage>] = []

  public init(timers: TimerSettings = .rfc3261) {
    timerBox = TimerSettingsBox(timers)
  }

  /// A layer whose timer settings are `box`'s, shared with others (an endpoint passes the box
  /// its network's endpoints share).
  package init(sharing box: TimerSettingsBox) {
    timerBox = box
  }

  /// How many transactions are alive.
  public var count: Int { entries.count }

  /// The live transactions' keys, sorted by their description (for reports and leftovers).
  public var liveKeys: [TransactionKey] { entries.keys.sorted { $0.description < $1.description } }

  /// The state of a live transaction.
  public func state(of key: TransactionKey) -> TransactionState? {
    entries.index(forKey: key).map { entries[at: $0].machine.state }
  }

  /// The request of a live transaction, while it keeps it: a client transaction lets go of it
  /// in Accepted (INVITE) or Completed (non-INVITE), an INVITE server in Accepted or Confirmed,
  /// a non-INVITE server in Completed (see `forgetsRequest`). Those states last up to 64·T1,
  /// and an element under load kept every request of its last 32 seconds.
  public func request(of key: TransactionKey) -> SIPMessage? {
    entries.index(forKey: key).flatMap { entries[at: $0].request }
  }

  /// The 100 Trying an INVITE server transaction sent on its core's behalf, kept to resend
  /// while it is in Proceeding (nil otherwise).
  package func trying(of key: TransactionKey) -> SIPMessage? {
    entries.index(forKey: key).flatMap { entries[at: $0].trying }
  }

  // Entries are reached through `withEntry`, never `entries[key]` or a read of
  // `entries[at: index]`: those getters return a copy of the whole entry (retaining every
  // message it holds), and that copying was a large part of each event's cost. `withEntry`
  // goes through the modify accessor, in place.
  private mutating func withEntry<R>(
    _ index: Int, _ body: (inout Entry) -> R
  ) -> R {
    body(&entries[at: index])
  }

  // MARK: Client side (§17.1)

  /// Starts a client transaction for `request`, which already carries its top Via with a
  /// unique branch (the transport adds it, §18.1.1). An ACK is not a transaction (§17.1.1.3 for
  /// non-2xx, §13.2.2.4 for 2xx): it is sent as is.
  public mutating func sendRequest(_ request: SIPMessage, to peer: SIPPeer, reliable: Bool)
    -> [TransactionLayerAction]
  {
    var actions = Self.actionBuffer()
    sendRequest(request, topVia: request.topVia, to: peer, reliable: reliable, into: &actions)
    return actions
  }

  /// ``sendRequest(_:to:reliable:)`` with the top Via the transport just put on the request, so
  /// it is not parsed back.
  public mutating func sendRequest(
    _ request: SIPMessage, topVia: Via?, to peer: SIPPeer, reliable: Bool
  ) -> [TransactionLayerAction] {
    var actions = Self.actionBuffer()
    sendRequest(request, topVia: topVia, to: peer, reliable: reliable, into: &actions)
    return actions
  }

  /// ``sendRequest(_:topVia:to:reliable:)`` appending its actions to the caller's array: an
  /// owner that reuses one array from event to event allocates none per event.
  public mutating func sendRequest(
    _ request: SIPMessage, topVia: Via?, to peer: SIPPeer, reliable: Bool,
    into actions: inout [TransactionLayerAction]
  ) {
    sendRequest(request, branch: topVia?.branch, to: peer, reliable: reliable, into: &actions)
  }

  /// ``sendRequest(_:topVia:to:reliable:into:)`` with only the top Via's branch, which is all
  /// a client transaction's key takes from it (§17.1.3): a transport that printed the Via
  /// knows it without building or parsing one.
  public mutating func sendRequest(
    _ request: SIPMessage, branch: String?, to peer: SIPPeer, reliable: Bool,
    into actions: inout [TransactionLayerAction]
  ) {
    guard request.method != "ACK" else {
      actions.append(.send(request, to: peer, transaction: nil))
      return
    }
    guard let key = TransactionKey.client(for: request, branch: branch) else {
      actions.append(
        .rejected(request, reason: "a request needs a top Via with a branch and a method"))
      return
    }
    guard entries.index(forKey: key) == nil else {
      actions.append(.rejected(request, reason: "a client transaction \(key) already exists"))
      return
    }
    var started = takeMachineActions()
    let machine: Machine
    if request.method == "INVITE" {
      var invite = InviteClientTransaction(request: request, isReliable: reliable, timers: timers)
      invite.start(into: &started)
      machine = .inviteClient(invite)
    } else {
      var other = NonInviteClientTransaction(
        request: request, isReliable: reliable, timers: timers)
      other.start(into: &started)
      machine = .nonInviteClient(other)
    }
    entries.updateValue(Entry(machine: machine, request: request, peer: peer), forKey: key)
    actions.append(.created(key, machine.kind, machine.state))
    if let index = entries.index(forKey: key) {
      carryOut(started, key: key, at: index, into: &actions)
    }
    giveBack(&started)
  }

  // MARK: From the transport (§17.1.3, §17.2.3, §18.1.2, §18.2.1)

  /// A message the transport parsed. Responses go to their client transaction, or to the core
  /// as strays (§18.1.2: a 2xx retransmission for a UAC core, a proxy's late response).
  /// Requests go to their server transaction (absorbing retransmissions), create one, or, for an
  /// ACK that matches none (the ACK for a 2xx), go straight to the core.
  public mutating func receive(_ message: SIPMessage, from peer: SIPPeer, reliable: Bool)
    -> [TransactionLayerAction]
  {
    var actions = Self.actionBuffer()
    receive(message, topVia: message.topVia, from: peer, reliable: reliable, into: &actions)
    return actions
  }

  /// ``receive(_:from:reliable:)`` with the message's top Via already parsed (the transport
  /// parsed it to stamp `received` or to check that a response is its own).
  public mutating func receive(
    _ message: SIPMessage, topVia: Via?, from peer: SIPPeer, reliable: Bool
  ) -> [TransactionLayerAction] {
    var actions = Self.actionBuffer()
    receive(message, topVia: topVia, from: peer, reliable: reliable, into: &actions)
    return actions
  }

  /// A response, for the client transaction of `branch` (the top Via's, §17.1.3): a client
  /// that read only the branch from the Via (``SIPMessage`` answers it without parsing the
  /// Via) passes it here. Without a transaction the response goes to the core as a stray.
  public mutating func receiveResponse(
    _ message: SIPMessage, branch: String?, into actions: inout [TransactionLayerAction]
  ) {
    // §17.1.3: the top Via's branch and the CSeq's method, looked up by their digest (a key
    // made for the lookup was an allocation per response).
    guard let status = message.status, let branch, !branch.isEmpty,
      let method = message.cseq?.method,
      let index = entries.index(
        digest: TransactionKey.clientDigest(method: method, branch: branch),
        where: { $0.isClient(method: method, branch: branch) })
    else {
      actions.append(.toCore(.strayResponse(message)))
      return
    }
    // The stored key, not the one made to look it up: the actions carry it to the owner, whose
    // timer slots name it and compare keys by reference first.
    feed(entries.key(at: index), at: index, into: &actions) { machine, result in
      switch machine {
      case .inviteClient(var invite):
        invite.handle(.response(status: status, message), into: &result)
        machine = .inviteClient(invite)
      case .nonInviteClient(var other):
        other.handle(.response(status: status, message), into: &result)
        machine = .nonInviteClient(other)
      default: break
      }
    }
  }

  /// ``receive(_:topVia:from:reliable:)`` appending its actions to the caller's array.
  public mutating func receive(
    _ message: SIPMessage, topVia: Via?, from peer: SIPPeer, reliable: Bool,
    into actions: inout [TransactionLayerAction]
  ) {
    if message.status != nil {
      receiveResponse(message, branch: topVia?.branch, into: &actions)
      return
    }
    guard let key = TransactionKey.server(for: message, topVia: topVia) else {
      actions.append(.toCore(.unmatchable(message, reason: "no top Via or CSeq to match it by")))
      return
    }
    let isACK = message.method == "ACK"
    if let index = entries.index(forKey: key) {
      if isACK {
        // RFC 2543 ACKs match only if their To tag is the one this transaction sent (§17.2.3).
        if let tag = withEntry(index, { $0.responseToTag }), let ackTag = message.toTag,
          tag != ackTag,
          !(topVia?.hasMagicCookie ?? false)
        {
          actions.append(.toCore(.request(message, transaction: nil)))
          return
        }
      }
      let trying = withEntry(index) { $0.trying }
      // The stored key (see `receiveResponse`).
      feed(entries.key(at: index), at: index, into: &actions) { machine, result in
        switch machine {
        case .inviteServer(var invite):
          let before = result.count
          invite.handle(isACK ? .ack(message) : .requestRetransmission, into: &result)
          if !isACK, result.count == before, invite.state == .proceeding,
            invite.lastResponse == nil, let trying
          {
            result.append(.send(trying))
          }
          machine = .inviteServer(invite)
        case .nonInviteServer(var other):
          other.handle(.requestRetransmission, into: &result)
          machine = .nonInviteServer(other)
        default: break
        }
      }
      return
    }
    if isACK {
      // No INVITE server transaction: the ACK for a 2xx (§17.2.3, §13.3.1.4), for the core.
      actions.append(.toCore(.request(message, transaction: nil)))
      return
    }
    var started = takeMachineActions()
    let machine: Machine
    if message.method == "INVITE" {
      var invite = InviteServerTransaction<SIPMessage>(isReliable: reliable, timers: timers)
      invite.start(into: &started)
      machine = .inviteServer(invite)
    } else {
      machine = .nonInviteServer(NonInviteServerTransaction(isReliable: reliable, timers: timers))
    }
    entries.updateValue(Entry(machine: machine, request: message, peer: peer), forKey: key)
    actions.append(.created(key, machine.kind, machine.state))
    // The machine's start (an INVITE server's Trying timer) before the core hears of the
    // request: a core that answers at once (a proxy's own 100, an agent's 180) cancels the
    // timer while its owner carries out the core's event, and with the start after it the
    // owner armed the timer once it had been cancelled (the trace showed Trying armed after
    // the answer, and never cancelled).
    if let index = entries.index(forKey: key) {
      carryOut(started, key: key, at: index, into: &actions)
    }
    giveBack(&started)
    actions.append(.toCore(.request(message, transaction: key)))
  }

  // MARK: From the core

  /// A response the core (TU) sends for the server transaction `key` (§17.2.1, §17.2.2). With no
  /// live transaction (a UAS core's 2xx retransmission after Timer L, a stateless element) the
  /// response goes to the transport as is, routed by its Via.
  public mutating func respond(_ response: SIPMessage, in key: TransactionKey?)
    -> [TransactionLayerAction]
  {
    var actions = Self.actionBuffer()
    respond(response, in: key, into: &actions)
    return actions
  }

  /// ``respond(_:in:)`` appending its actions to the caller's array.
  public mutating func respond(
    _ response: SIPMessage, in key: TransactionKey?, into actions: inout [TransactionLayerAction]
  ) {
    guard let status = response.status else {
      actions.append(
        .rejected(response, reason: "only a response can be passed to respond(_:in:)"))
      return
    }
    guard let key = key ?? TransactionKey.server(for: response),
      let index = entries.index(forKey: key)
    else {
      actions.append(.send(response, to: nil, transaction: nil))
      return
    }
    // Kept for matching an RFC 2543 ACK (§17.2.3), which only an INVITE server transaction
    // receives: reading the tag of every other final response cost a string each.
    if status >= 200, key.method == "INVITE", let tag = response.toTag {
      entries[at: index].responseToTag = tag
    }
    // A final response the transaction keeps to answer retransmissions (for Timer J's or H's
    // 32 s) is kept, and sent, as the bytes it is sent as (see `keptAsSerialized()`).
    var response = response
    if withEntry(index, { $0.machine.keepsFinal(status) }) {
      response = response.keptAsSerialized()
    }
    feed(key, at: index, into: &actions) { machine, result in
      switch machine {
      case .inviteServer(var invite):
        invite.handle(.tuResponse(status: status, response), into: &result)
        machine = .inviteServer(invite)
      case .nonInviteServer(var other):
        other.handle(.tuResponse(status: status, response), into: &result)
        machine = .nonInviteServer(other)
      default: break
      }
    }
  }

  /// An empty action list with room for what one event makes (an event makes three to seven
  /// actions; growing an array from empty reallocated it two or three times per event).
  static func actionBuffer() -> [TransactionLayerAction] {
    var actions: [TransactionLayerAction] = []
    actions.reserveCapacity(8)
    return actions
  }

  // MARK: Timers and transport failures

  /// A timer the owner armed for `key` fired. A timer of a transaction that is gone, or one that
  /// was cancelled, does nothing.
  public mutating func timerFired(_ timer: TransactionTimer, of key: TransactionKey)
    -> [TransactionLayerAction]
  {
    var actions = Self.actionBuffer()
    timerFired(timer, of: key, into: &actions)
    return actions
  }

  /// ``timerFired(_:of:)`` appending its actions to the caller's array.
  public mutating func timerFired(
    _ timer: TransactionTimer, of key: TransactionKey, into actions: inout [TransactionLayerAction]
  ) {
    guard let index = entries.index(forKey: key),
      let slot = entries[at: index].armed.remove(timer)
    else { return }
    freeTimerSlot(slot)
    actions.append(.timerFired(key, timer))
    feed(key, at: index, into: &actions) { machine, result in
      machine.handle(timerFired: timer, into: &result)
    }
  }

  /// The transport could not send for `key` (a refused or reset connection, no route): the
  /// machine terminates and the core is told (§17.1.1.2, §17.1.2.2, §17.2.4).
  public mutating func transportError(for key: TransactionKey) -> [TransactionLayerAction] {
    var actions = Self.actionBuffer()
    transportError(for: key, into: &actions)
    return actions
  }

  /// ``transportError(for:)`` appending its actions to the caller's array.
  public mutating func transportError(
    for key: TransactionKey, into actions: inout [TransactionLayerAction]
  ) {
    guard let index = entries.index(forKey: key) else { return }
    feed(key, at: index, into: &actions) { machine, result in
      machine.handleTransportError(into: &result)
    }
  }

  /// The TU gives up a transaction: it ends at once, its timers disarmed, with nothing told
  /// to the TU. RFC 3261 §9.1: a UAC that cancelled an INVITE and has no final response for it
  /// 64·T1 later "SHOULD then consider the original transaction cancelled and SHOULD destroy
  /// the client transaction handling the original request" (an RFC 2543 UAS need not answer a
  /// CANCEL's INVITE with 487; an INVITE client in Proceeding has no timer of its own left).
  public mutating func abandon(_ key: TransactionKey, into actions: inout [TransactionLayerAction])
  {
    guard let index = entries.index(forKey: key) else { return }
    let stored = entries.key(at: index)
    actions.append(
      .stateChanged(stored, from: withEntry(index) { $0.machine.state }, to: .terminated))
    destroy(stored, at: index, into: &actions)
  }

  /// Removes the transaction at `index`, disarming what it still has armed: nothing may stay
  /// armed for a transaction that no longer exists. The table gives its storage back once
  /// empty: an idle element (one of a million user agents between registrations) holds no
  /// table at all, nor timer slot numbers.
  @inline(__always)
  private mutating func destroy(
    _ key: TransactionKey, at index: Int, into actions: inout [TransactionLayerAction]
  ) {
    for (timer, slot) in withEntry(index, { $0.armed }) {
      freeTimerSlot(slot)
      actions.append(.cancelTimer(key, timer, slot: slot))
    }
    entries.remove(at: index)
    if entries.isEmpty {
      freeLowTimerSlots = 0
      freeTimerSlots = []
      unusedTimerSlot = 0
    }
    actions.append(.destroyed(key))
  }

  // MARK: Carrying out machine actions

  /// The layer's array for a machine's actions, emptied and with its room kept, so no event
  /// allocates one (taken and given back: never two events at once, the layer calls no one).
  private mutating func takeMachineActions() -> [TransactionAction<SIPMessage>] {
    var taken: [TransactionAction<SIPMessage>] = []
    swap(&taken, &machineActions)
    if taken.capacity == 0 { taken.reserveCapacity(6) }
    return taken
  }

  /// Empties `taken` and keeps it for the next event while transactions live; with none left
  /// the room is given back (an idle element keeps no array).
  private mutating func giveBack(_ taken: inout [TransactionAction<SIPMessage>]) {
    guard !entries.isEmpty else { return }
    // Last first: for an event's few actions, `removeAll(keepingCapacity:)` went through the
    // general `replaceSubrange` at several times the cost.
    while !taken.isEmpty { taken.removeLast() }
    swap(&taken, &machineActions)
  }

  /// Runs `body` on the machine of the entry at `index` (looked up once per event), reports a
  /// state change, and turns the machine's actions into layer actions.
  private mutating func feed(
    _ key: TransactionKey, at index: Int,
    into actions: inout [TransactionLayerAction],
    _ body: (inout Machine, inout [TransactionAction<SIPMessage>]) -> Void
  ) {
    var result = takeMachineActions()
    let before = withEntry(index) { $0.machine.state }
    body(&entries[at: index].machine, &result)
    let after = withEntry(index) { $0.machine.state }
    if before != after {
      actions.append(.stateChanged(key, from: before, to: after))
      // The 100 is resent only in Proceeding.
      entries[at: index].trying = nil
      if Self.forgetsRequest(withEntry(index) { $0.machine.kind }, in: after) {
        entries[at: index].request = nil
      }
    }
    carryOut(result, key: key, at: index, into: &actions)
    giveBack(&result)
  }

  /// Whether a transaction of `kind` entering `state` no longer needs its request: a client's
  /// Accepted (INVITE) or Completed (non-INVITE) sends nothing more and reports nothing; an
  /// INVITE server's Accepted and Confirmed absorb what comes (the core resends its own 2xx,
  /// RFC 6026 §7.1), and a non-INVITE server's Completed resends the final its machine keeps
  /// (§17.2.2). An INVITE client's Completed keeps it for the ACK it builds for each
  /// retransmitted final response (§17.1.1.3), and an INVITE server's Completed for Timer H,
  /// which tells the core whose ACK never came. Only a non-INVITE server's late transport error
  /// then reaches the core without the request.
  static func forgetsRequest(_ kind: TransactionKind, in state: TransactionState) -> Bool {
    switch (kind, state) {
    case (.inviteClient, .accepted), (.nonInviteClient, .completed): true
    case (.inviteServer, .accepted), (.inviteServer, .confirmed): true
    case (.nonInviteServer, .completed): true
    default: false
    }
  }

  /// A timer slot number: the lowest given back below 64, else the last given back above, else
  /// the next never given; nil past ``ArmedTimers/slotLimit`` (that many timers armed at once).
  private mutating func takeTimerSlot() -> Int? {
    if freeLowTimerSlots != 0 {
      let number = freeLowTimerSlots.trailingZeroBitCount
      freeLowTimerSlots &= freeLowTimerSlots &- 1
      return number
    }
    if let number = freeTimerSlots.popLast() { return Int(number) }
    guard Int(unusedTimerSlot) < ArmedTimers.slotLimit else { return nil }
    unusedTimerSlot += 1
    return Int(unusedTimerSlot - 1)
  }

  private mutating func freeTimerSlot(_ number: Int) {
    if number < 64 {
      freeLowTimerSlots |= 1 << UInt64(number)
    } else {
      freeTimerSlots.append(Int32(truncatingIfNeeded: number))
    }
  }

  /// Carries out a machine's actions for the entry at `index`. The index stays valid while
  /// fields change in place (nothing is inserted meanwhile); after `terminate` removes the
  /// entry, nothing more is carried out. What goes to the core goes last, after the
  /// transaction's own sends, timers and end: a core often acts at once from its handler (a
  /// proxy forwards the response it is handed), while its owner is still carrying out this
  /// event's actions; told last, what it does comes after all of them, in the order the layer
  /// made them. Told before a Timer M start, a proxy's forwarded 2xx armed its server's Timer L
  /// first.
  private mutating func carryOut(
    _ results: [TransactionAction<SIPMessage>], key: TransactionKey,
    at index: Int, into actions: inout [TransactionLayerAction]
  ) {
    // Where the core's event went in `actions`: moved to the end once the rest is in.
    var forCore = -1
    defer {
      if forCore >= 0, forCore < actions.count - 1 {
        actions.append(actions.remove(at: forCore))
      }
    }
    for action in results {
      // Fields are read in place: the entry holds messages, and a copy would retain them all.
      switch action {
      case .send(let message):
        actions.append(.send(message, to: withEntry(index) { $0.peer }, transaction: key))
      case .sendACK(let response):
        // Completed keeps the request (see `forgetsRequest`).
        guard let ack = withEntry(index, { $0.request?.ackForNonSuccess(response) }) else {
          continue
        }
        actions.append(.send(ack, to: withEntry(index) { $0.peer }, transaction: key))
      case .send100Trying:
        // Only Proceeding sends it, and Proceeding keeps the request.
        guard let trying = withEntry(index, { $0.request?.response(status: 100) }) else {
          continue
        }
        entries[at: index].trying = trying
        actions.append(.send(trying, to: withEntry(index) { $0.peer }, transaction: key))
      case .passToTU(let message):
        forCore = actions.count
        if message.isRequest {
          actions.append(.toCore(.request(message, transaction: key)))
        } else {
          actions.append(.toCore(.response(message, transaction: key)))
        }
      case .startTimer(let timer, let duration):
        // Armed again, a timer keeps its number (the owner replaces what it scheduled there).
        guard let slot = entries[at: index].armed.remove(timer) ?? takeTimerSlot() else {
          actions.append(.timerRefused(key, timer))
          continue
        }
        guard entries[at: index].armed.append(timer, slot: slot) else {
          freeTimerSlot(slot)
          actions.append(.timerRefused(key, timer))
          continue
        }
        actions.append(.startTimer(key, timer, duration, slot: slot))
      case .cancelTimer(let timer):
        guard let slot = entries[at: index].armed.remove(timer) else { continue }
        freeTimerSlot(slot)
        actions.append(.cancelTimer(key, timer, slot: slot))
      case .timeout(let timer):
        forCore = actions.count
        actions.append(.toCore(.timeout(key, timer, request: withEntry(index) { $0.request })))
      case .transportError:
        forCore = actions.count
        actions.append(.toCore(.transportError(key, request: withEntry(index) { $0.request })))
      case .terminate:
        destroy(key, at: index, into: &actions)
        return
      }
    }
  }
}

/// The four kinds of transaction (Figures 5–8).
public enum TransactionKind: String, Sendable, Hashable {
  case inviteClient = "INVITE client"
  case nonInviteClient = "non-INVITE client"
  case inviteServer = "INVITE server"
  case nonInviteServer = "non-INVITE server"

  // A raw-value enum hashes and compares its raw String by default (the standard library's
  // RawRepresentable implementations): these are hashed and compared on every message and timer,
  // so they use the case's position instead.
  var ordinal: UInt8 {
    switch self {
    case .inviteClient: 0
    case .nonInviteClient: 1
    case .inviteServer: 2
    case .nonInviteServer: 3
    }
  }

  public static func == (lhs: Self, rhs: Self) -> Bool { lhs.ordinal == rhs.ordinal }

  public func hash(into hasher: inout Hasher) { hasher.combine(ordinal) }
}

/// What the transaction layer asks its owner to do, in order. Of one event's actions, the
/// core's (``toCore(_:)``) comes last: an owner may hand it to a core that acts at once, and
/// what the core does then comes after the transaction's own steps.
public enum TransactionLayerAction: Sendable {
  /// Serialize and send. `to` is the request's destination or, for a response, the peer the
  /// request came from (the transport routes responses by Via, §18.2.2); nil for a response
  /// sent outside any transaction. `transaction` is the key a transport error should be
  /// reported against.
  case send(SIPMessage, to: SIPPeer?, transaction: TransactionKey?)
  /// Arm (or re-arm) a timer in `slot`; when it fires call
  /// ``TransactionLayer/timerFired(_:of:)``. A slot is a small number the layer gives a timer
  /// while it is armed and reuses once it is cancelled or fires (or the timer is armed again):
  /// an owner keeps its scheduled timers in an array by it. An owner that carries out the
  /// actions in order, as the layer made them, finds the slot free (or holding this timer,
  /// armed again).
  case startTimer(TransactionKey, TransactionTimer, Duration, slot: Int)
  /// Disarm the timer started in `slot`.
  case cancelTimer(TransactionKey, TransactionTimer, slot: Int)
  /// A timer the layer could not arm: more than ``ArmedTimers`` holds at once for one
  /// transaction (no machine arms more than two at once), or more timers armed at once in the
  /// layer than slot numbers. Not expected; reported so that it is never silent.
  case timerRefused(TransactionKey, TransactionTimer)
  /// A timer fired and was handed to its machine (for the trace).
  case timerFired(TransactionKey, TransactionTimer)
  /// A transaction was created in `state`.
  case created(TransactionKey, TransactionKind, TransactionState)
  /// A machine changed state.
  case stateChanged(TransactionKey, from: TransactionState, to: TransactionState)
  /// A transaction reached Terminated and was removed.
  case destroyed(TransactionKey)
  /// Something for the core (TU).
  case toCore(TransactionEvent)
  /// A request the layer refused to start, with the reason (a caller error, never a crash).
  case rejected(SIPMessage, reason: String)
}

/// What the transaction layer tells the core (the transaction user, §17).
public enum TransactionEvent: Sendable {
  /// A new request (with its server transaction), or an ACK outside any transaction (nil).
  case request(SIPMessage, transaction: TransactionKey?)
  /// A response for a client transaction.
  case response(SIPMessage, transaction: TransactionKey)
  /// A response that matches no client transaction (§18.1.2): a 2xx retransmission, a late
  /// response.
  case strayResponse(SIPMessage)
  /// A message without the fields needed to match it; the core decides (a UAS answers 400).
  case unmatchable(SIPMessage, reason: String)
  /// Timer B, F or H fired: §8.1.3.1 treats it as a 408. The request is there: these timers
  /// fire only in states that keep it (a client's first states, an INVITE server's Completed).
  case timeout(TransactionKey, TransactionTimer, request: SIPMessage?)
  /// The transport failed: §8.1.3.1 treats it as a 503. The request is nil only for a
  /// non-INVITE server whose final response could not be resent (it had let go of it).
  case transportError(TransactionKey, request: SIPMessage?)
  /// The host moved to a new address (RFC 3665 §3.7) and the endpoint listens there now; `from`
  /// is the address it had, as a URI's host writes it. Not from the layer but from the
  /// endpoint, which tells its core so that an agent can re-INVITE its calls with the new
  /// Contact (a target refresh, §12.2) and register it in place of the old one.
  case moved(from: String)
}

extension TransactionLayerAction: CustomStringConvertible {
  /// One short line: what a ladder or a log shows for this action.
  public var description: String {
    switch self {
    case .send(let message, _, _): "send \(message.startLineText)"
    case .startTimer(_, let timer, let duration, _): "start \(timer.rawValue) \(duration)"
    case .cancelTimer(_, let timer, _): "cancel \(timer.rawValue)"
    case .timerRefused(_, let timer): "refused \(timer.rawValue)"
    case .timerFired(_, let timer): "fired \(timer.rawValue)"
    case .created(_, let kind, let state): "created \(kind.rawValue) \(state.rawValue)"
    case .stateChanged(_, let from, let to): "\(from.rawValue) -> \(to.rawValue)"
    case .destroyed: "destroyed"
    case .rejected(_, let reason): "rejected: \(reason)"
    case .toCore(let event): "core: \(event)"
    }
  }
}

extension TransactionEvent: CustomStringConvertible {
  public var description: String {
    switch self {
    case .request(let message, let key): "\(message.method ?? "?")\(key == nil ? " (stray)" : "")"
    case .response(let message, _): "\(message.status ?? 0)"
    case .strayResponse(let message): "\(message.status ?? 0) (stray)"
    case .unmatchable(_, let reason): "unmatchable: \(reason)"
    case .timeout(_, let timer, _): "timeout \(timer.rawValue)"
    case .transportError: "transport error"
    case .moved(let from): "moved from \(from)"
    }
  }
}

/// The timers a transaction has armed, in arming order, each with the slot number the layer
/// gave it: four places of 32 bits (a timer's ordinal plus one in the top four bits, the slot
/// below; zero: empty). An array here was an allocation for every transaction; no machine arms
/// more than two timers at once (A and B, E and F, G and H), and a fifth is refused.
struct ArmedTimers: Sendable, Sequence {
  private var places: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
  static let capacity = 4
  /// Slot numbers below 2^28: 268 million timers armed at once in one layer, far more than
  /// fit in memory (a transaction holds a few hundred bytes).
  static let slotLimit = 1 << 28
  /// The slot's bits of a place (the timer's code is above them).
  static let slotMask: UInt32 = (1 << 28) - 1

  private func place(_ index: Int) -> UInt32 {
    switch index {
    case 0: places.0
    case 1: places.1
    case 2: places.2
    default: places.3
    }
  }

  private mutating func setPlace(_ index: Int, _ value: UInt32) {
    switch index {
    case 0: places.0 = value
    case 1: places.1 = value
    case 2: places.2 = value
    default: places.3 = value
    }
  }

  /// Adds `timer` with `slot` (below ``slotLimit``) last; `timer` must not be armed already
  /// (callers remove it first). False when all four places are taken.
  mutating func append(_ timer: TransactionTimer, slot: Int) -> Bool {
    for index in 0..<Self.capacity where place(index) == 0 {
      setPlace(index, UInt32(timer.ordinal + 1) << 28 | UInt32(truncatingIfNeeded: slot))
      return true
    }
    return false
  }

  /// Removes `timer`, keeping the others in order; its slot, or nil when it was not armed.
  @discardableResult
  mutating func remove(_ timer: TransactionTimer) -> Int? {
    let code = UInt32(timer.ordinal + 1)
    for index in 0..<Self.capacity {
      let value = place(index)
      if value == 0 { return nil }
      guard value >> 28 == code else { continue }
      for later in index..<(Self.capacity - 1) { setPlace(later, place(later + 1)) }
      setPlace(Self.capacity - 1, 0)
      return Int(value & Self.slotMask)
    }
    return nil
  }

  func makeIterator() -> Iterator { Iterator(timers: self, position: 0) }

  struct Iterator: IteratorProtocol {
    let timers: ArmedTimers
    var position: Int
    mutating func next() -> (timer: TransactionTimer, slot: Int)? {
      guard position < ArmedTimers.capacity else { return nil }
      let value = timers.place(position)
      guard value != 0,
        let timer = TransactionTimer(ordinal: UInt8(truncatingIfNeeded: (value >> 28) &- 1))
      else { return nil }
      position += 1
      return (timer, Int(value & ArmedTimers.slotMask))
    }
  }
}

/// A transaction's timer: what an owner's timer slot names, so a firing reaches the layer.
package struct TimerName: Sendable {
  package var key: TransactionKey
  package var timer: TransactionTimer

  package init(key: TransactionKey, timer: TransactionTimer) {
    self.key = key
    self.timer = timer
  }
}
