public import SIPCore
import SIPDialog
public import SIPTransaction
import SIPTransport
public import Simulation

/// A SIP user agent (RFC 3261 §8, §12–15): the UAC and UAS cores over a ``SIPEndpoint``. It
/// places calls, answers them as its ``UABehaviour`` says, keeps dialogs, retransmits its 2xx
/// until the ACK comes, sends CANCEL, BYE, re-INVITE (hold / resume) and OPTIONS, and negotiates
/// SDP (RFC 3264). The rules are pure values in `SIPDialog` (``Dialog``, ``UASInspection``,
/// ``RedirectTargets``, ``SessionRules``); this actor carries them out.
///
/// Use it from scenario code between runs with `simulation.inspect { ua.onDrivingThread { … } }`,
/// or from inside its own callbacks, which already run isolated to it.
public actor UserAgent: SimulationActor, TransactionCore, TimerTarget {
  /// The simulation's executor, which the actor is pinned to.
  public nonisolated let simulationExecutor: SimulationExecutor
  public nonisolated var unownedExecutor: UnownedSerialExecutor {
    simulationExecutor.asUnownedSerialExecutor()
  }
  /// The transport and transaction layers it sends and receives through.
  public nonisolated let endpoint: SIPEndpoint
  /// Its address of record (the From of its requests).
  public nonisolated let aor: SIPURI
  public nonisolated let displayName: String?
  /// Its settings, kept in a box that agents with the same settings share.
  public nonisolated var configuration: UAConfiguration { settings.value }
  nonisolated let settings: UAConfiguration.Box
  nonisolated let network: Network

  var behaviour: UABehaviour
  var random: SimRandom
  /// Requests received recently, to answer a merged copy with 482 (§8.2.2.2): in the call
  /// book, so an agent that never answers a request (a registrar's idle subscriber) keeps none.
  var merged: MergedRequestDetector {
    get { book?.merged ?? Self.mergedDetector(timers) }
    _modify { yield &openBook.merged }
  }

  /// An empty detector remembering requests as long as a server transaction lives (64·T1).
  static func mergedDetector(_ timers: TimerSettings) -> MergedRequestDetector {
    MergedRequestDetector(memoryMicroseconds: SIPEndpoint.micros(timers.transactionTimeout))
  }
  /// What only an agent that calls, is observed or arms its own timers needs, made on the first
  /// write: a registrar's million idle subscribers each keep one pointer instead of eight
  /// empty tables and hooks (about 80 bytes).
  final class CallBook {
    var calls: [String: Call] = [:]
    var merged: MergedRequestDetector
    var history: [CallRecord] = []
    var observer: (@Sendable (isolated UserAgent, UAEvent) -> Void)?
    var authenticator: UAAuthenticator?
    var endedDialogs: [DialogID: Int64] = [:]
    /// The same dialogs with their expiry, in the order they ended: every one is kept for the
    /// same 64·T1, so this is also expiry order and pruning takes from the front. (Filtering the
    /// table whenever its earliest entry expired rehashed every entry kept, three strings each,
    /// about 4% of a call at a steady load.)
    var endedQueue: [(expiry: Int64, id: DialogID)] = []
    var nextTimerID: UInt64 = 1
    var agentTimers: [UInt64: TimerHandle] = [:]
    var outsideRequests: [String: OutsideRequest] = [:]
    var extraContacts: [String] = []
    /// RFC 3263 state (SRV draws, servers out of use), made when first needed.
    var locator: LocatorState?
    /// Incoming INVITEs this agent ended with a non-2xx final response (a rejection, a 487),
    /// with the To tag of that response, in the order they ended: a CANCEL arriving while the
    /// INVITE's server transaction lives on still gets 200 with that tag (§9.2). Each is kept
    /// for the longest that transaction can live after its final response (64·T1 in Completed,
    /// then T4 in Confirmed), so this is also expiry order and pruning takes from the front.
    var finishedInvites: [(expiry: Int64, key: TransactionKey, tag: String)] = []

    init(merged: MergedRequestDetector) { self.merged = merged }
  }
  var book: CallBook?
  var openBook: CallBook {
    if let book { return book }
    let made = CallBook(merged: Self.mergedDetector(timers))
    book = made
    return made
  }

  var calls: [String: Call] {
    get { book?.calls ?? [:] }
    _modify { yield &openBook.calls }
  }
  /// Ended calls, in the order they ended: the last ``UAConfiguration/historyLimit`` of them.
  public private(set) var history: [CallRecord] {
    get { book?.history ?? [] }
    _modify { yield &openBook.history }
  }
  var observer: (@Sendable (isolated UserAgent, UAEvent) -> Void)? {
    get { book?.observer }
    _modify { yield &openBook.observer }
  }
  var authenticator: UAAuthenticator? {
    get { book?.authenticator }
    _modify { yield &openBook.authenticator }
  }
  /// Dialogs that ended recently: a late 2xx retransmission for one is ACKed, not answered
  /// with BYE (§13.2.2.4). Kept for 64·T1.
  var endedDialogs: [DialogID: Int64] {
    get { book?.endedDialogs ?? [:] }
    _modify { yield &openBook.endedDialogs }
  }
  /// Forgets dialogs ended 64·T1 ago or more, taking them from the front of the ended order
  /// (a look at one entry when none has expired).
  func pruneEndedDialogs() {
    guard let book else { return }
    let current = now
    var expired = 0
    while expired < book.endedQueue.count {
      let (expiry, id) = book.endedQueue[expired]
      guard expiry <= current else { break }
      expired += 1
      // Remembered again later (a later expiry), the entry waits for its own turn.
      if book.endedDialogs[id] == expiry { book.endedDialogs[id] = nil }
    }
    // A move of what is kept (a few dozen entries at a steady load) beats keeping a front
    // index in every book.
    if expired > 0 { book.endedQueue.removeFirst(expired) }
  }

  /// Remembers that dialog `id` ended, for 64·T1.
  func rememberEnded(_ id: DialogID) {
    let expiry = now + SIPEndpoint.micros(timers.transactionTimeout)
    openBook.endedDialogs[id] = expiry
    openBook.endedQueue.append((expiry, id))
  }

  var nextTimerID: UInt64 {
    get { book?.nextTimerID ?? 1 }
    _modify { yield &openBook.nextTimerID }
  }
  var agentTimers: [UInt64: TimerHandle] {
    get { book?.agentTimers ?? [:] }
    _modify { yield &openBook.agentTimers }
  }
  /// The credentials answering challenges, and the challenges met (§22); by reference, as
  /// most agents have none and an optional store inline took 24 bytes of each.
  var credentials: CredentialBox?

  final class CredentialBox {
    var store: CredentialStore
    init(_ store: CredentialStore) { self.store = store }
  }
  /// Its registration, when it registers (§10.2).
  ///
  /// Read and moved out and back several times per REGISTER: its run-time exclusivity checks
  /// are left out, as for the agent's other registration state (actor state, reached only by
  /// the agent's own code on the driving thread).
  @exclusivity(unchecked) public internal(set) var registration: RegistrationState?
  /// The REGISTER in flight (nil while idle), by reference: an idle agent's record holds one
  /// pointer where an optional message and its retry count took 80 bytes.
  @exclusivity(unchecked) var pendingRegister: PendingRegister?
  @exclusivity(unchecked) var registrationTimer: TimerHandle?
  /// The contacts it registers besides its own (`<uri>` texts), carried by every refresh and
  /// removed by `unregister()` with its own: the agent's to keep alive. In the book: nearly
  /// every agent registers none, and a registrar's million subscribers keep no array for it.
  var extraContacts: [String] {
    get { book?.extraContacts ?? [] }
    set {
      guard book != nil || !newValue.isEmpty else { return }
      openBook.extraContacts = newValue
    }
  }
  /// Requests sent outside calls (OPTIONS), by Call-ID.
  var outsideRequests: [String: OutsideRequest] {
    get { book?.outsideRequests ?? [:] }
    _modify { yield &openBook.outsideRequests }
  }

  /// Makes a user agent with its own endpoint on `host` (UDP/TCP on `port`, TLS on `port + 1`).
  public init(
    network: Network, host: String, aor: SIPURI, displayName: String? = nil,
    port: UInt16 = 5060, behaviour: UABehaviour = .answer(),
    configuration: UAConfiguration = UAConfiguration(), timers: TimerSettings = .rfc3261
  ) throws(NetworkError) {
    let endpoint = try SIPEndpoint(network: network, host: host, port: port, timers: timers)
    self.endpoint = endpoint
    self.network = network
    simulationExecutor = network.simulation.executor
    self.aor = aor
    self.displayName = displayName
    settings = UAConfiguration.Box.shared(configuration, on: network)
    self.behaviour = behaviour
    credentials = configuration.credentials.map(CredentialBox.init)
    random = network.simulation.random(stream: "ua \(host)")
    let box = WeakBox<UserAgent>()
    SIPEndpoint.attach(endpoint, on: network.simulation, to: box)
    box.value = self
  }

  /// Sets the observer told of every ``UAEvent``.
  public func onEvent(_ observer: @escaping @Sendable (isolated UserAgent, UAEvent) -> Void) {
    self.observer = observer
  }

  /// Sets how it answers new calls.
  public func setBehaviour(_ behaviour: UABehaviour) { self.behaviour = behaviour }

  /// Sets the hook that answers 401 / 407 challenges.
  public func setAuthenticator(_ authenticator: @escaping UAAuthenticator) {
    self.authenticator = authenticator
  }

  /// Calls still alive, by Call-ID.
  public var liveCalls: [String] { calls.keys.sorted() }

  /// The state of a live call, or of an ended one.
  public func state(of callID: String) -> CallState? {
    calls[callID]?.state ?? history.last { $0.callID == callID }?.state
  }

  /// The record of a call, live or ended.
  public func record(of callID: String) -> CallRecord? {
    calls[callID].map(record(for:)) ?? history.last { $0.callID == callID }
  }

  /// Timers the agent itself has armed (2xx retransmission, behaviour delays, back-off).
  public var armedTimers: Int {
    agentTimers.count + calls.values.reduce(0) { $0 + $1.timers.count + ($1.timerC == nil ? 0 : 1) }
      + (registrationTimer == nil ? 0 : 1)
  }

  /// Whether its registration refresh timer is armed: the one timer a registered agent keeps
  /// while idle (a run's "nothing left over" check allows it).
  public var refreshArmed: Bool { registrationTimer != nil }

  var timers: TimerSettings { endpoint.timers }
  var now: Int64 { network.simulation.now.microseconds }
  /// The address as a URI's host (IPv6 in brackets): Contact, Call-ID.
  var hostAddress: String { endpoint.addressText }
  /// The address as SDP writes it (`o=`, `c=`; IPv6 bare, RFC 4566 §5.7).
  var mediaAddress: String { endpoint.address.address.description }

  // MARK: Placing calls (§8.1.1, §13.2.1)

  /// Calls `target`: an INVITE with an SDP offer (or none: the callee offers in its 2xx and
  /// this agent answers in the ACK, §13.2.1). Returns the Call-ID.
  ///
  /// - Parameters:
  ///   - headers: extra header fields for the INVITE. An `Expires` among them limits how long
  ///     the invitation stands (RFC 3261 §13.2.1) in place of
  ///     ``UAConfiguration/inviteExpires``: unanswered by then, the INVITE is CANCELled.
  ///   - hangUpAfter: sends BYE this long after the call is answered.
  ///   - cancelAfter: sends CANCEL if the call is not answered within this time.
  @discardableResult
  public func call(
    _ target: SIPURI, offer: Bool = true, headers: [SIPParameter] = [],
    hangUpAfter: Duration? = nil, cancelAfter: Duration? = nil
  ) -> String {
    let callID = "\(hex(random.next()))@\(hostAddress)"
    let call = Call(callID: callID, isCaller: true, localTag: hex(random.next() & 0xffff_ffff))
    call.hangUpAfter = hangUpAfter
    call.redirects = RedirectTargets(first: target, limit: configuration.maxRedirects)
    calls[callID] = call
    var invite = outsideRequest("INVITE", to: target, callID: callID, tag: call.localTag, cseq: 1)
    for header in headers { invite.append(header.name, header.value ?? "") }
    // §13.2.1: the UAC MAY limit the invitation with Expires; one given among `headers` wins
    // (two would make the header malformed, §20.19).
    if let seconds = configuration.inviteExpires, invite.value("Expires") == nil {
      invite.append("Expires", "\(seconds)")
    }
    invite.append("Contact", contact)
    invite.append("Allow", configuration.capabilities.allowHeader)
    if offer {
      call.setLocal(makeOffer())
      setBody(&invite, call.localSDPBytes())
    } else {
      invite.append("Content-Length", "0")
    }
    setState(call, .calling)
    sendInvite(invite, call: call)
    if let cancelAfter {
      after(cancelAfter, call: call, purpose: "cancel-after") { agent in
        if let call = agent.calls[callID], call.confirmed == nil { agent.cancel(callID) }
      }
    }
    return callID
  }

  /// Sends OPTIONS (§11) to `target` outside any dialog; the answer is reported as a
  /// ``UAEvent/response(callID:method:status:)``. Returns the Call-ID.
  @discardableResult
  public func options(_ target: SIPURI) -> String {
    let callID = "\(hex(random.next()))@\(hostAddress)"
    var request = outsideRequest(
      "OPTIONS", to: target, callID: callID, tag: hex(random.next() & 0xffff_ffff), cseq: 1)
    request.append("Accept", configuration.capabilities.acceptHeader)
    request.append("Content-Length", "0")
    let targets = targets(for: preloadedRoutes.first ?? target)
    outsideRequests[callID] = OutsideRequest(request: request, targets: targets)
    send(request, to: targets.current)
    return callID
  }

  /// A request outside any dialog (§8.1.1): Request-URI, Route from the outbound proxy and the
  /// preloaded route set, Max-Forwards 70, To, From with tag, Call-ID, CSeq.
  /// A request outside a dialog (§8.1.1): To is `target` without its parameters and headers,
  /// or with `toRecord` the address-of-record without its URI parameters (a REGISTER's,
  /// §10.2). Addresses and the CSeq print straight into their fields' bytes.
  func outsideRequest(
    _ method: String, to target: SIPURI, callID: String, tag: String, cseq: UInt32,
    toRecord: Bool = false, targetText: String? = nil, routes: [SIPURI]? = nil,
    more: (inout FieldPrinter) -> Void = { _ in }
  )
    -> SIPMessage
  {
    var request = SIPMessage.request(method: method, uri: targetText ?? target.description)
    for route in routes ?? preloadedRoutes { request.append("Route", NameAddress(uri: route)) }
    request.append("Max-Forwards", "70")
    // The addresses print from the parts held (building name-addresses copied the URIs), and
    // the fields into one buffer (one allocation each was most of a REGISTER's).
    let displayName = displayName
    let aor = aor
    request.appendFields(capacity: 256) { fields in
      if toRecord {
        fields.field("To") {
          NameAddress.write(displayName: displayName, uri: aor, uriParameters: false, to: &$0)
        }
      } else {
        fields.field("To") {
          NameAddress.write(
            displayName: nil, uri: target, uriParameters: false, uriHeaders: false, to: &$0)
        }
      }
      fields.field("From") {
        NameAddress.write(displayName: displayName, uri: aor, tag: tag, to: &$0)
      }
      fields.field("Call-ID", callID)
      fields.field("CSeq", CSeq(cseq, method))
      more(&fields)
    }
    return request
  }

  var preloadedRoutes: [SIPURI] { preloadedRoutes(proxy: 0) }

  /// The route set through the outbound proxy (index 0) or one of the fallbacks (1…).
  func preloadedRoutes(proxy index: Int) -> [SIPURI] {
    var routes = configuration.routes
    let proxies = [configuration.outboundProxy].compactMap { $0 } + configuration.fallbackProxies
    if proxies.indices.contains(index) {
      var proxy = proxies[index]
      if !proxy.isLooseRouting { proxy.parameters.append(SIPParameter("lr")) }
      routes.insert(proxy, at: 0)
    }
    return routes
  }

  /// Where a request for `target` goes first (§8.1.2): the first route, else the target.
  func nextHop(for target: SIPURI) -> SIPPeer {
    peer(for: preloadedRoutes.first ?? target)
  }

  /// `<sip:user@address:port>`, printed into one buffer: every REGISTER, INVITE and answer asks
  /// (interpolating the URI's description made three strings).
  var contact: String {
    var text: [UInt8] = []
    text.reserveCapacity(64)
    writeContact(to: &text)
    return String(decoding: text, as: UTF8.self)
  }

  /// Appends ``contact``'s bytes to `text`.
  /// `<sip:user@host:port>` at `host` (the agent's address unless told: a moved agent writes
  /// its old one to remove it).
  func writeContact(to text: inout [UInt8], host: String? = nil) {
    // From the parts: making the URI first cost as much again.
    text.append(UInt8(ascii: "<"))
    SIPURI.write(
      scheme: "sip", user: aor.user, host: host ?? hostAddress, port: Int(endpoint.address.port),
      to: &text)
    text.append(UInt8(ascii: ">"))
  }

  func sendInvite(_ invite: SIPMessage, call: Call) {
    guard let uri = invite.requestURI else { return }
    var invite = invite
    credentials?.store.authorize(&invite, cnonce: hex(random.next()))
    // RFC 3263 §4: the next hop's targets; the INVITE goes to the first, and fails over to the
    // rest (`failOver(_:reason:)`).
    let targets = targets(for: invite.routes.first?.uri ?? uri)
    let peer = targets.current
    call.targets = targets
    // The last INVITE's expiry ends with it: each INVITE of the call (a retry, a redirect, a
    // fail-over) is an invitation of its own, measured from its own sending (§20.19).
    cancelTimer(call, Call.expires)
    call.invite = invite
    call.invitePeer = peer
    call.sawProvisional = false
    // A new INVITE (a retry, a redirect, a fail-over) is a new transaction, in Calling.
    cancelTimerC(call)
    // A send that fails at once (no address for the proxy) reports its transport error as the
    // endpoint's next event, after this returns: the key is the live INVITE's.
    call.inviteKey = send(invite, to: peer)
    armInviteExpiry(call, invite)
  }

  /// §13.2.1: an Expires reached with no final response CANCELs the INVITE just sent (each
  /// INVITE of the call, a fail-over's too, from its own sending). Armed after the send, so
  /// the timer's trace names the INVITE's client transaction.
  func armInviteExpiry(_ call: Call, _ invite: SIPMessage) {
    switch SessionRules.inviteExpiry(of: invite) {
    case .seconds(let seconds): armExpiry(call, seconds: seconds)
    case .malformed: log("the INVITE's Expires is not a delta-seconds (§20.19): no expiry timer")
    case .unlimited: break
    }
  }

  @discardableResult
  func send(_ request: consuming SIPMessage, to peer: SIPPeer, branch: String? = nil)
    -> TransactionKey?
  {
    // §22.3: credentials met in this Call-ID (or for the UA's own realms) go in every request.
    credentials?.store.authorize(&request, cnonce: hex(random.next()))
    return endpoint.onDrivingThread(passing: (consume request, peer, branch)) { endpoint, send in
      let (request, peer, branch) = send
      return endpoint.sendRequest(request, to: peer, branch: branch)
    }
  }

  /// The answer to a 401 / 407: the authenticator hook, else the credential store.
  func answerChallenge(_ request: SIPMessage, _ response: SIPMessage) -> SIPMessage? {
    if let authenticator { return authenticator(request, response) }
    return credentials?.store.answer(response, to: request, cnonce: hex(random.next()))
  }

  func respond(_ response: SIPMessage, in key: TransactionKey?) {
    endpoint.onDrivingThread(passing: (response, key)) { endpoint, reply in
      endpoint.respond(reply.0, in: reply.1)
    }
  }

  // MARK: Ending calls (§9, §15)

  /// Cancels an unanswered outgoing call (§9.1). Before any provisional response the CANCEL
  /// waits for one, as the RFC requires; after a final response it does nothing.
  public func cancel(_ callID: String) {
    guard let call = calls[callID], call.isCaller, call.confirmed == nil else { return }
    call.cancelWanted = true
    if call.sawProvisional { sendCancel(call) }
  }

  func sendCancel(_ call: Call) {
    guard !call.cancelSent, let invite = call.invite, let key = call.inviteKey,
      let peer = call.invitePeer
    else { return }
    call.cancelSent = true
    cancelTimerC(call)
    send(invite.cancelRequest(), to: peer, branch: key.branch)
    // §9.1: a UAS need not answer the cancelled INVITE (an RFC 2543 one sends no 487), and
    // the CANCEL may get no answer at all; with no final response by 64·T1 the INVITE is
    // considered cancelled.
    let callID = call.callID
    after(timers.transactionTimeout, call: call, purpose: "cancel-wait") { agent in
      agent.giveUpCancelledInvite(callID)
    }
  }

  /// RFC 3261 §9.1: 64·T1 after its CANCEL, an INVITE with no final response is considered
  /// cancelled: its client transaction is destroyed and the call ends as a cancelled INVITE
  /// does (487, Request Terminated), with a line in the log saying that no 487 came; the timer's
  /// `timer-fired` event before it (``traceTimer(_:_:of:duration:)``) shows a ladder without the
  /// log what ended the transaction.
  /// Arms (or restarts) the agent's Timer C for the call's INVITE, in Proceeding now: a
  /// provisional came (``UAConfiguration/timerC``). A 100 Trying arms it once; each later
  /// provisional restarts it, as a proxy's is (§16.7 step 2), so a callee that rings for long
  /// and says so every minute (§13.3.1.1) is not cancelled.
  func armTimerC(_ call: Call) {
    guard let timeout = configuration.timerC, !call.cancelSent else { return }
    // A restart is traced as the proxy traces one: armed again, no cancellation in between.
    // Its own field, not `call.timers`: it is armed and cancelled on every call a caller
    // places, and hashing its name there was a third of a percent of a call.
    if let running = call.timerC { network.simulation.cancel(running) }
    let callID = call.callID
    call.timerC = network.simulation.schedule(
      at: SimInstant(microseconds: now + SIPEndpoint.micros(timeout)), into: self
    ) { agent in
      guard let call = agent.calls[callID] else { return }
      call.timerC = nil
      agent.traceTimer("timer-fired", "C", of: call)
      agent.timerCFired(callID)
    }
    traceTimer("timer-armed", "C", of: call, duration: timeout)
  }

  func cancelTimerC(_ call: Call) {
    guard let running = call.timerC else { return }
    call.timerC = nil
    network.simulation.cancel(running)
    traceTimer("timer-cancelled", "C", of: call)
  }

  /// Timer C fired: the INVITE has had no final response for that long since its last
  /// provisional, and Proceeding has no timer of its own (Figure 5). The agent CANCELs it, as a
  /// proxy does on its Timer C (§16.6 step 11): a 487 then ends the call; with none, the §9.1
  /// give-up (`cancel-wait`, 64·T1) lets the INVITE go.
  ///
  /// The call is given up as ``cancel(_:)`` gives it up: a final response crossing the CANCEL
  /// is not acted on (no redirect followed, no challenge answered, no fail-over: a new INVITE
  /// would be one the CANCEL does not cover, §9.1), and a 2xx crossing it is ended with BYE.
  func timerCFired(_ callID: String) {
    guard let call = calls[callID], call.isCaller, call.confirmed == nil, call.finalStatus == nil
    else { return }
    log("call \(callID): no final response within Timer C: CANCEL (§9.1, as §16.6 step 11)")
    call.cancelWanted = true
    sendCancel(call)
  }

  func giveUpCancelledInvite(_ callID: String) {
    guard let call = calls[callID], call.confirmed == nil, call.finalStatus == nil else { return }
    log("no final response 64·T1 after CANCEL: the INVITE is considered cancelled (§9.1)")
    if let key = call.inviteKey {
      endpoint.onDrivingThread(passing: key) { endpoint, key in endpoint.abandon(key) }
    }
    call.finalStatus = 487
    call.ending = "CANCEL (no final response)"
    // The callee may still answer: its early dialogs are not remembered as ended, so a late
    // 2xx on one of them is ACKed and BYEd (`ackStray`), not only ACKed.
    for id in call.dialogs.keys.sorted() { traceDialog(id, .terminated) }
    call.dialogs = [:]
    end(call)
  }

  /// Ends a call the way its state allows (§15): BYE on a confirmed dialog; CANCEL for the
  /// caller before an answer; for the callee before it answered, a 603 Decline (a callee must
  /// not send BYE on an early dialog); on a confirmed dialog whose ACK has not come yet, the BYE
  /// waits for the ACK.
  public func hangUp(_ callID: String) {
    guard let call = calls[callID] else { return }
    if let id = call.confirmed {
      if !call.isCaller && !call.ackReceived {
        call.byeAfterAck = true
        return
      }
      sendBye(call, dialog: id)
    } else if call.isCaller {
      cancel(callID)
    } else {
      reject(callID, status: 603)
    }
  }

  /// Ends an unanswered outgoing call with BYE on each early dialog instead of CANCEL, which
  /// §15 allows the caller (the callee answers the INVITE with 487, §15.1.2).
  public func byeEarly(_ callID: String) {
    guard let call = calls[callID], call.isCaller, call.confirmed == nil else { return }
    for id in call.dialogs.keys.sorted() { sendBye(call, dialog: id) }
  }

  func sendBye(_ call: Call, dialog id: DialogID) {
    // The dialog is used in place, here and below: a copy out of the table and back retained
    // and released every string and URI it holds (about a dozen copies per call).
    guard !call.byeSent.contains(id), let made = call.dialogs[id]?.makeRequest(method: "BYE")
    else { return }
    call.byeSent.append(id)
    var bye = made.request
    bye.append("Content-Length", "0")
    send(bye, to: peer(for: made.nextHop))
  }

  // MARK: Answering (§13.3)

  /// Sends 180 Ringing with a To tag and Contact: an early dialog (§13.3.1.1).
  public func ring(_ callID: String) {
    guard let call = calls[callID], !call.isCaller, call.finalStatus == nil,
      let request = call.request
    else { return }
    var ringing = request.dialogResponse(status: 180, toTag: call.localTag)
    ringing.insertBeforeLength("Contact", contact)
    if call.dialogs.isEmpty,
      let dialog = try? Dialog.uas(request: request, localTag: call.localTag, state: .early)
    {
      traceDialog(dialog)
      call.dialogs[dialog.id] = dialog
    }
    setState(call, .early)
    respond(ringing, in: call.serverKey)
  }

  /// Answers with 200 OK (§13.3.1.4): the SDP answer to the caller's offer, or an offer when
  /// the INVITE had none; retransmitted at T1, 2·T1, … T2 until the ACK, abandoned with BYE at
  /// 64·T1.
  public func answer(_ callID: String) {
    guard let call = calls[callID], !call.isCaller, call.finalStatus == nil,
      let request = call.request
    else { return }
    var ok = request.dialogResponse(status: 200, toTag: call.localTag)
    ok.insertBeforeLength("Contact", contact)
    ok.insertBeforeLength("Allow", configuration.capabilities.allowHeader)
    let sdp: SessionDescription
    if let remote = call.remoteSDP {
      sdp = answerSDP(to: remote, previous: nil)
    } else {
      sdp = makeOffer()
    }
    call.setLocal(sdp)
    setBody(&ok, call.localSDPBytes())
    call.finalStatus = 200
    do {
      var dialog: Dialog
      if let first = call.dialogs.indices.first {
        dialog = call.dialogs.remove(at: first).value
      } else {
        dialog = try Dialog.uas(request: request, localTag: call.localTag, state: .confirmed)
      }
      dialog.state = .confirmed
      call.confirmed = dialog.id
      traceDialog(dialog)
      call.dialogs = [dialog.id: dialog]
    } catch {
      log("cannot make a dialog: \(error)")
    }
    setState(call, .confirmed)
    // The final response is sent: the invitation can no longer expire (§13.3.1 step 1).
    cancelTimer(call, Call.expires)
    sendSuccess(ok, in: call.serverKey, call: call, purpose: Call.initial2xx)
  }

  /// Sends a 2xx to an INVITE or re-INVITE and retransmits it at T1, 2·T1, … capped at T2 until
  /// its ACK comes; with no ACK by 64·T1 the session ends with BYE (§13.3.1.4, §14.2). One
  /// mechanism for both, keyed by `purpose` (which is also the timer's name).
  func sendSuccess(_ ok: SIPMessage, in key: TransactionKey?, call: Call, purpose: String) {
    call.successes[purpose] = Call.PendingSuccess(
      response: ok, key: key, interval: timers.t1,
      giveUpAt: now + SIPEndpoint.micros(timers.transactionTimeout))
    respond(ok, in: key)
    armSuccess(call, purpose: purpose)
  }

  func armSuccess(_ call: Call, purpose: String) {
    guard let pending = call.successes[purpose] else { return }
    // The last wait is cut short so the give-up falls exactly at 64·T1.
    let delay = min(pending.interval, .microseconds(max(0, pending.giveUpAt - now)))
    let callID = call.callID
    after(delay, call: call, purpose: purpose) { agent in
      agent.retransmitSuccess(callID, purpose: purpose)
    }
  }

  func retransmitSuccess(_ callID: String, purpose: String) {
    guard let call = calls[callID], var pending = call.successes[purpose] else { return }
    if now >= pending.giveUpAt {
      log("no ACK for the 2xx within 64·T1: ending the call with BYE (§13.3.1.4)")
      call.successes[purpose] = nil
      if purpose == Call.initial2xx {
        call.ackReceived = true
        call.ending = "no ACK"
      } else {
        call.incomingReinvite = nil
        call.ending = "no ACK for re-INVITE"
      }
      if let id = call.confirmed { sendBye(call, dialog: id) }
      return
    }
    respond(pending.response, in: pending.key)
    pending.interval = SessionRules.next2xxInterval(after: pending.interval, t2: timers.t2)
    call.successes[purpose] = pending
    armSuccess(call, purpose: purpose)
  }

  /// Rejects an unanswered incoming call with a final response (§13.3.1.3), with extra
  /// `headers` (a 3xx's Contact, a 401's WWW-Authenticate, a Retry-After).
  public func reject(_ callID: String, status: Int, headers: [SIPParameter] = []) {
    guard let call = calls[callID], !call.isCaller, call.finalStatus == nil,
      let request = call.request, status >= 300
    else { return }
    call.finalStatus = status
    call.ending = "\(status) sent"
    var response = request.response(status: status, toTag: call.localTag)
    for header in headers { response.insertBeforeLength(header.name, header.value ?? "") }
    respond(response, in: call.serverKey)
    end(call)
  }

  /// Runs `body` on this agent after `delay` of virtual time.
  public func after(_ delay: Duration, _ body: @escaping @Sendable (isolated UserAgent) -> Void) {
    let id = nextTimerID
    nextTimerID += 1
    let at = SimInstant(microseconds: now + SIPEndpoint.micros(delay))
    agentTimers[id] = network.simulation.schedule(at: at, into: self) { agent in
      agent.agentTimers[id] = nil
      if agent.agentTimers.isEmpty { agent.agentTimers = [:] }
      body(agent)
    }
  }

  /// A timer that belongs to a call: cancelled when the call ends, one per purpose.
  func after(
    _ delay: Duration, call: Call, purpose: String,
    _ body: @escaping @Sendable (isolated UserAgent) -> Void
  ) {
    cancelTimer(call, purpose)
    let at = SimInstant(microseconds: now + SIPEndpoint.micros(delay))
    let callID = call.callID
    call.timers[purpose] = network.simulation.schedule(at: at, into: self) { agent in
      if let call = agent.calls[callID] {
        call.timers[purpose] = nil
        agent.traceTimer("timer-fired", purpose, of: call)
      }
      body(agent)
    }
    traceTimer("timer-armed", purpose, of: call, duration: delay)
  }

  /// Writes `event` (`timer-armed`, `timer-fired` or `timer-cancelled`) for a call timer that
  /// RFC 3261 asks of the agent itself rather than of a transaction, named as the trace names
  /// transaction timers, with the transaction it watches where it watches one: `cancel-wait`
  /// (§9.1, the INVITE client transaction), `2xx` (§13.3.1.4, the 2xx's retransmissions, on
  /// the INVITE server transaction; RFC 6026 leaves them to the core), `glare` (§14.1) and
  /// `expires` (an INVITE's Expires: §13.2.1 on the INVITE client transaction at the caller,
  /// §13.3.1 step 1 on the INVITE server transaction at the callee). So a verbose ladder shows
  /// the agent arming them as it shows Timer A, and a plain one shows them fire. A behaviour's
  /// delays (answer, hang-up, cancel-after) are the script's, not the protocol's, and are not
  /// traced.
  func traceTimer(_ event: String, _ purpose: String, of call: Call, duration: Duration? = nil) {
    guard network.trace.isRecording else { return }
    let name: String
    let key: TransactionKey?
    switch purpose {
    case "cancel-wait": (name, key) = ("cancel-wait", call.inviteKey)
    case Call.initial2xx, Call.reinvite2xx: (name, key) = ("2xx", call.successes[purpose]?.key)
    case "glare": (name, key) = ("glare", nil)
    case "C": (name, key) = ("C", call.inviteKey)
    case Call.expires: (name, key) = ("expires", call.isCaller ? call.inviteKey : call.serverKey)
    default: return
    }
    record(
      event,
      (key.map { [("transaction", TraceValue.string($0.description))] } ?? [])
        + [("timer", .string(name)), ("call", .string(call.callID))]
        + (duration.map { [("duration", .integer(SIPEndpoint.micros($0)))] } ?? []))
  }

  // MARK: re-INVITE (§14)

  /// Puts the call on hold (RFC 3264 §8.4) or resumes it with a re-INVITE carrying a new offer.
  /// A 491 (glare) is retried after the §14.1 back-off.
  ///
  /// Nothing is sent for a call being hung up (its BYE sent, or waiting for the ACK): §15.1.1
  /// ends the session when the BYE goes, so there is nothing left to modify.
  public func reinvite(_ callID: String, hold: Bool) {
    guard let call = calls[callID], let id = call.confirmed, call.outgoingReinvite == nil,
      !call.byeSent.contains(id), !call.byeAfterAck,
      var dialog = call.dialogs[id], let current = call.localSDP
    else { return }
    var offer = hold ? current.holdOffer() : current.incrementedVersion()
    if !hold {
      for index in offer.media.indices where offer.media[index].port != 0 {
        offer.media[index].direction = .sendrecv
      }
    }
    // The address as it is now: the same unless the host moved (RFC 3665 §3.7).
    offer.readdress(mediaAddress)
    var (request, hop) = dialog.makeRequest(method: "INVITE")
    call.dialogs[id] = dialog
    request.append("Contact", contact)
    setBody(&request, offer)
    call.pendingOffer = offer
    call.wantsHold = hold
    call.outgoingReinvite = request.cseq?.sequence
    send(request, to: peer(for: hop))
  }

  // MARK: Events from the transaction layer

  func handle(_ event: TransactionEvent) {
    switch event {
    case .request(let request, let key):
      receive(request, key: key)
    case .response(let response, _):
      receive(response)
    case .strayResponse(let response):
      receive(response, stray: true)
    case .unmatchable(let message, let reason):
      // §8.2: a request we cannot match is answered 400 when its Via lets us answer at all.
      if message.isRequest, message.method != "ACK", message.topVia != nil {
        var bad = message.response(status: 400, reason: "Bad Request (\(reason))")
        bad.set("Content-Length", "0")
        endpoint.onDrivingThread(passing: bad) { $0.sendStateless($1) }
      }
    case .timeout(let key, let timer, let request):
      // Timer H (no ACK for a non-2xx) is the server side's: nothing to tell the UAC core.
      if key.role == .server {
        log("server transaction \(key) ended by Timer \(timer.rawValue)")
      } else if let request {
        // A client transaction times out (B, F) while it keeps its request.
        synthesize(408, for: request, key: key, reason: "Timer \(timer.rawValue)")
      }
    case .transportError(let key, let request):
      if key.role == .server {
        log("could not send a response in \(key): transport error")
      } else if let request {
        synthesize(503, for: request, key: key, reason: "transport error")
      }
    case .moved(let from):
      moved(from: from)
    }
  }

  /// RFC 3665 §3.7: the agent's host has a new address (``SIPEndpoint/address`` names it, and
  /// so does every Contact and SDP written from now on); `old` is the one it had. Each confirmed
  /// call is re-INVITEd with the new Contact and an offer naming the new address: a target
  /// refresh (§12.2.1.1, §14.1), so the other side sends its in-dialog requests there, and an
  /// updated session (RFC 3264 §8.3.1) for its media. An outgoing call still ringing cannot
  /// hear its INVITE's responses any more (they follow the INVITE's Via to the old address): it
  /// ends with a BYE on its early dialogs (status 487, ending `moved while ringing`), or, past
  /// only a 100 Trying, with none; one with no provisional yet is left to Timer B. A
  /// registration the agent keeps is refreshed at once with the new contact, and the old one
  /// removed (`expires=0`, §10.2.2), so calls are no longer forked to an address nobody has. A call with a re-INVITE in progress is not
  /// re-INVITEd (§14.1); the new address reaches it only with a later one, which nothing sends
  /// (an outgoing re-INVITE's responses are lost the same way, and its 408 ends the dialog).
  func moved(from old: String) {
    log("address now \(hostAddress) (was \(old)): re-INVITEs its calls and registers again")
    for callID in calls.keys.sorted() {
      guard let call = calls[callID] else { continue }
      if call.isCaller, call.confirmed == nil, call.finalStatus == nil,
        !call.dialogs.isEmpty || call.sawProvisional
      {
        // A CANCEL cannot help: it must carry the INVITE's Via (§9.1), so its answers would go
        // to the old address too, and one with the new Via matches nothing at the callee
        // (481). A BYE on each early dialog (§15 allows the caller one) reaches the callee, who
        // answers the INVITE 487 (lost: it follows the INVITE's Via) and stops ringing; the
        // INVITE's client transaction, which nothing can reach now, is let go. One that saw
        // only a 100 Trying has no early dialog to BYE, and its transaction, in Proceeding, no
        // Timer B: it is let go too, and the callee's answer is lost with its 2xx.
        log("call \(callID): its INVITE's responses go to \(old): BYE on its early dialogs")
        byeEarly(callID)
        if let key = call.inviteKey {
          endpoint.onDrivingThread(passing: key) { endpoint, key in endpoint.abandon(key) }
        }
        call.finalStatus = 487
        call.ending = "moved while ringing"
        end(call)
        continue
      }
      guard call.confirmed != nil, call.localSDP != nil else { continue }
      if call.outgoingReinvite != nil || call.incomingReinvite != nil {
        log("call \(callID): a re-INVITE is in progress, so none with the new address (§14.1)")
        continue
      }
      reinvite(callID, hold: call.wantsHold)
    }
    if registration?.refreshes == true {
      cancelRegistrationTimer()
      var gone: [UInt8] = []
      writeContact(to: &gone, host: old)
      gone.append(contentsOf: ";expires=0".utf8)
      refreshRegistration(alsoContacts: [String(decoding: gone, as: UTF8.self)])
    }
  }

  /// §8.1.3.1: a client transaction's timeout is a 408, its transport error a 503, for the UAC
  /// core, which handles them like any response.
  ///
  /// First, RFC 3263 §4.3: a request outside a dialog whose server never answered (`reason`:
  /// the timer that fired, or `transport error`) goes to the next server instead.
  func synthesize(_ status: Int, for request: SIPMessage, key: TransactionKey, reason: String) {
    guard request.isRequest, request.method != "ACK" else { return }
    if request.method == "INVITE", let callID = request.callID, let call = calls[callID],
      call.isCaller, call.confirmed == nil
    {
      // A transaction the INVITE already failed over from is not the INVITE's any more (it
      // carries the same CSeq: its 408 would end the call).
      guard call.inviteKey == nil || call.inviteKey == key else {
        log("\(reason) on \(key), which the INVITE failed over from: ignored")
        return
      }
      if failOver(call, reason: reason) { return }
    }
    if let callID = request.callID, let outside = outsideRequests[callID],
      status == 503 || !outside.answered, failOverOutside(callID, reason: reason)
    {
      return
    }
    var response = request.response(status: status)
    response.set("Content-Length", "0")
    receive(response)
  }

  // MARK: UAC: responses (§8.1.3, §13.2.2)

  /// Whether `response` is in the registration's Call-ID, compared in the response's bytes; the
  /// state moved out and back to be read (optional chaining copied it, every string retained
  /// and released).
  func isRegistrationCall(_ response: SIPMessage) -> Bool {
    guard let state = registration.take() else { return false }
    let matches = response.hasCallID(state.callID)
    registration = state
    return matches
  }

  func receive(_ response: SIPMessage, stray: Bool = false) {
    guard let status = response.status, let cseq = response.cseq else { return }
    let effective = ResponseRules.effectiveStatus(status)
    if cseq.method == "REGISTER", isRegistrationCall(response) {
      if effective >= 200 { registrationResponse(response, status: status, cseq: cseq.sequence) }
      return
    }
    guard let callID = response.callID else { return }
    if let outside = outsideRequests[callID] {
      // A response no client transaction matched is one to a transaction the request failed
      // over from (RFC 3263 §4.3), or a retransmission after its end: not the answer of the
      // one out now, nor a word on the server that one went to (its 503 marks no server).
      guard !stray else { return }
      guard effective >= 200 else {
        // RFC 3263 §4.3: a server that answered at all is not failed over from on Timer F.
        outsideRequests[callID]?.answered = true
        return
      }
      if status == 503, failOverOutside(callID, response: response) { return }
      if retryAfterChallenge(
        outside.request, response, retries: outside.retries,
        resend: {
          agent, request in
          var retried = outside
          retried.request = request
          retried.retries += 1
          agent.outsideRequests[callID] = retried
          agent.send(request, to: outside.targets.current)
        })
      {
        return
      }
      outsideRequests[callID] = nil
      if outsideRequests.isEmpty { outsideRequests = [:] }
      emit(.response(callID: callID, method: cseq.method, status: status))
      return
    }
    guard let call = calls[callID] else {
      if cseq.method == "INVITE", (200..<300).contains(status) { ackStray(response) }
      return
    }
    switch cseq.method {
    case "INVITE" where call.outgoingReinvite == cseq.sequence:
      reinviteResponse(response, status: effective, call: call)
    case "INVITE" where call.isCaller && call.invite?.cseq?.sequence == cseq.sequence:
      inviteResponse(response, status: effective, call: call, stray: stray)
    case "INVITE" where (200..<300).contains(status):
      // A 2xx retransmission for an earlier INVITE of this call (a re-INVITE answered).
      resendAck(for: response, call: call)
    case "BYE" where effective >= 200:
      emit(.response(callID: callID, method: "BYE", status: status))
      // Only the BYE of the confirmed dialog ends the call: a BYE to a fork's extra dialog
      // does not, and after a BYE on an early dialog the INVITE's 487 does (§15.1.2).
      if let id = call.confirmed, DialogID(receivedResponse: response) == id {
        call.ending = call.ending ?? "BYE sent"
        end(call)
      }
    case "CANCEL" where effective >= 200:
      emit(.response(callID: callID, method: "CANCEL", status: status))
    default:
      if effective >= 200 { emit(.response(callID: callID, method: cseq.method, status: status)) }
    }
  }

  func inviteResponse(_ response: SIPMessage, status: Int, call: Call, stray: Bool) {
    let callID = call.callID
    if status < 200 {
      // A provisional matching no client transaction (a stray) belongs to an INVITE
      // transaction that is gone: one the call failed over from (RFC 3263 §4.3: the same
      // CSeq, another branch). It says nothing of the INVITE now out, so it neither allows
      // that one's CANCEL (§9.1: not before a provisional for it) nor makes an early dialog.
      guard call.confirmed == nil, call.finalStatus == nil, !stray else { return }
      if status > 100 { emit(.response(callID: callID, method: "INVITE", status: status)) }
      if status > 100 || !call.sawProvisional {
        call.sawProvisional = true
        if call.cancelWanted { sendCancel(call) }
      }
      armTimerC(call)
      if status > 100, let request = call.invite,
        let id = DialogID(receivedResponse: response), call.dialogs.index(forKey: id) == nil,
        let dialog = try? Dialog.uac(request: request, response: response)
      {
        traceDialog(dialog)
        call.dialogs[id] = dialog
      }
      if status > 100 { setState(call, call.dialogs.isEmpty ? .proceeding : .early) }
      return
    }
    if status < 300 {
      success(response, call: call)
      return
    }
    // A non-2xx final response (the transaction sent the ACK, §17.1.1.3).
    guard call.confirmed == nil, call.finalStatus == nil, !stray else { return }
    if retryInvite(after: response, status: status, call: call) { return }
    call.finalStatus = status
    emit(.response(callID: callID, method: "INVITE", status: status))
    if status == 487 {
      call.ending = call.expired ? "expired" : "CANCEL"
    } else {
      call.ending = "\(status) received"
    }
    end(call)
  }

  /// 3xx recursion, challenges, 415 / 416 / 420: a new INVITE when one makes sense.
  func retryInvite(after response: SIPMessage, status: Int, call: Call) -> Bool {
    guard var invite = call.invite, !call.cancelWanted else { return false }
    let nextSequence = (invite.cseq?.sequence ?? 1) + 1
    if (300..<400).contains(status), var targets = call.redirects {
      // §8.1.3.4: the Contacts join the target set; try the next one with a new INVITE.
      targets.add(response.contacts)
      let next = targets.next()
      call.redirects = targets
      guard let next else { return false }
      emit(.response(callID: call.callID, method: "INVITE", status: status))
      invite.startLine = .request(method: "INVITE", uri: next.description, version: "SIP/2.0")
      invite.set("CSeq", "\(nextSequence) INVITE")
      log("redirected to \(next) (§8.1.3.4)")
      sendInvite(invite, call: call)
      return true
    }
    if status == 503, call.confirmed == nil {
      // RFC 3261 §21.5.4: with Retry-After, no request goes to that server meanwhile.
      if failOver(call, reason: "503", retryAfter: response.retryAfter?.seconds) { return true }
    }
    guard call.retries < configuration.maxRetries else { return false }
    var retry: SIPMessage?
    switch status {
    case 401, 407:
      retry = answerChallenge(invite, response)
    case 415 where !invite.body.isEmpty:
      // §8.1.3.5 / §13.2.1: the callee cannot take our body: send the INVITE without an offer.
      invite.body = []
      invite.remove("Content-Type")
      invite.set("Content-Length", "0")
      call.setLocal(nil)
      retry = invite
    case 416 where invite.requestURI?.scheme == "tel":
      // §19.1.6: a telephone number as a SIP URI with user=phone at our domain.
      let number = invite.requestURI?.user ?? ""
      let uri = SIPURI(user: number, host: aor.host, parameters: [SIPParameter("user", "phone")])
      invite.startLine = .request(method: "INVITE", uri: uri.description, version: "SIP/2.0")
      retry = invite
    case 420:
      // §8.1.3.5: retry without the extensions the server listed in Unsupported.
      let unsupported = Set(response.unsupported)
      let kept = invite.require.filter { !unsupported.contains($0) }
      guard kept.count < invite.require.count else { break }
      invite.remove("Require")
      if !kept.isEmpty { invite.insertBeforeLength("Require", kept.joined(separator: ", ")) }
      retry = invite
    default:
      break
    }
    guard var retry else { return false }
    call.retries += 1
    retry.set("CSeq", "\(nextSequence) INVITE")
    emit(.response(callID: call.callID, method: "INVITE", status: status))
    sendInvite(retry, call: call)
    return true
  }

  func retryAfterChallenge(
    _ request: SIPMessage, _ response: SIPMessage, retries: Int,
    resend: (isolated UserAgent, SIPMessage) -> Void
  ) -> Bool {
    guard let status = response.status, status == 401 || status == 407,
      retries < configuration.maxRetries, var retry = answerChallenge(request, response)
    else { return false }
    retry.set("CSeq", "\((request.cseq?.sequence ?? 1) + 1) \(request.method ?? "")")
    resend(self, retry)
    return true
  }

  /// A 2xx to the INVITE (§13.2.2.4): confirm the dialog it names and ACK it; a second dialog
  /// (forking) is ACKed and ended with BYE; a retransmission is ACKed again.
  func success(_ response: SIPMessage, call: Call) {
    guard let id = DialogID(receivedResponse: response), let request = call.invite else { return }
    if call.acks[id] != nil {
      resendAck(for: response, call: call)
      return
    }
    var dialog: Dialog
    // Taken out of the table and put back once the ACK is made (nothing between reads it).
    if var early = call.dialogs.removeValue(forKey: id) {
      early.confirm(uacResponse: response)
      dialog = early
    } else {
      do {
        dialog = try Dialog.uac(request: request, response: response)
      } catch {
        log("a 2xx that cannot make a dialog: \(error)")
        return
      }
    }
    traceDialog(dialog)
    let firstAnswer = call.confirmed == nil
    var remote: SessionDescription?
    if !response.body.isEmpty { remote = try? SessionDescription(parsing: response.body) }
    // §13.2.2.4: the ACK has the INVITE's CSeq number and credentials; it carries our answer
    // when the 2xx carried the offer.
    var (ack, hop) = dialog.makeRequest(
      method: "ACK", sequence: request.cseq?.sequence ?? dialog.localSequence)
    call.dialogs[id] = dialog
    for field in request.headers
    where field.known == .authorization || field.known == .proxyAuthorization {
      ack.headers.append(field)
    }
    if call.localSDP == nil, let offer = remote, firstAnswer {
      call.setLocal(answerSDP(to: offer, previous: nil))
      setBody(&ack, call.localSDPBytes())
    } else {
      ack.append("Content-Length", "0")
    }
    let peer = self.peer(for: hop)
    call.acks[id] = (ack, peer)
    send(ack, to: peer)
    guard firstAnswer else {
      // §13.2.2.4: a further dialog from a forked INVITE: ACK it, then end it.
      log("a second 2xx (forking): ACK and BYE the extra dialog \(id)")
      sendBye(call, dialog: id)
      return
    }
    call.confirmed = id
    call.finalStatus = 200
    cancelTimerC(call)
    // The INVITE has its final response: a CANCEL it crossed no longer waits for one (§9.1).
    cancelTimer(call, "cancel-wait")
    // The final response came: the invitation can no longer expire (§13.2.1).
    cancelTimer(call, Call.expires)
    call.setRemote(remote, from: response.body)
    emit(.response(callID: call.callID, method: "INVITE", status: 200))
    setState(call, .confirmed)
    if call.cancelWanted {
      // §9.1: the CANCEL lost the race with the 2xx: the call is up, so the caller ends it.
      log("the CANCEL crossed a 2xx: ending the call with BYE")
      sendBye(call, dialog: id)
    } else if let talk = call.hangUpAfter {
      let callID = call.callID
      after(talk, call: call, purpose: "hang-up") { agent in agent.hangUp(callID) }
    }
  }

  func resendAck(for response: SIPMessage, call: Call) {
    guard let id = DialogID(receivedResponse: response), let (ack, peer) = call.acks[id] else {
      return
    }
    send(ack, to: peer)
  }

  /// A 2xx for a call this agent no longer has (a fork's answer after the call ended, or a
  /// retransmission after BYE): ACK it, and end the dialog with BYE unless it already ended.
  func ackStray(_ response: SIPMessage) {
    guard let id = DialogID(receivedResponse: response) else { return }
    let fake = SIPMessage.request(
      method: "INVITE", uri: response.contacts.first?.address?.uri.description ?? "")
    var request = fake
    for field in response.headers where field.known == .from || field.known == .callID {
      request.headers.append(field)
    }
    request.append("CSeq", "\(response.cseq?.sequence ?? 1) INVITE")
    guard var dialog = try? Dialog.uac(request: request, response: response) else { return }
    var (ack, hop) = dialog.makeRequest(method: "ACK", sequence: response.cseq?.sequence ?? 1)
    ack.append("Content-Length", "0")
    send(ack, to: peer(for: hop))
    pruneEndedDialogs()
    if endedDialogs[id] == nil {
      rememberEnded(id)
      var (bye, byeHop) = dialog.makeRequest(method: "BYE")
      bye.append("Content-Length", "0")
      send(bye, to: peer(for: byeHop))
    }
  }

  func reinviteResponse(_ response: SIPMessage, status: Int, call: Call) {
    guard status >= 200, let id = call.confirmed, var dialog = call.dialogs[id] else { return }
    let callID = call.callID
    emit(.response(callID: callID, method: "INVITE", status: status))
    if (200..<300).contains(status) {
      // A 2xx retransmission after the first: ACK again.
      if call.outgoingReinvite == nil {
        resendAck(for: response, call: call)
        return
      }
      dialog.refreshTarget(from: response)
      var (ack, hop) = dialog.makeRequest(
        method: "ACK", sequence: response.cseq?.sequence ?? dialog.localSequence)
      ack.append("Content-Length", "0")
      call.dialogs[id] = dialog
      let peer = self.peer(for: hop)
      call.acks[id] = (ack, peer)
      send(ack, to: peer)
      call.outgoingReinvite = nil
      if let offer = call.pendingOffer { call.setLocal(offer) }
      if !response.body.isEmpty {
        call.setRemote(try? SessionDescription(parsing: response.body), from: response.body)
      }
      call.pendingOffer = nil
      return
    }
    call.outgoingReinvite = nil
    call.pendingOffer = nil
    if status == 491 {
      // §14.1: glare. Wait the randomized back-off, then try again.
      let delay = SessionRules.glareBackoff(isCallIDOwner: call.isCaller, using: &random)
      let hold = call.wantsHold
      log("491 on re-INVITE: retrying in \(delay) (§14.1)")
      after(delay, call: call, purpose: "glare") { agent in
        agent.reinvite(callID, hold: hold)
      }
    } else if status == 481 || status == 408 {
      // §14.1 / §12.2.1.2: the dialog is gone.
      call.ending = "\(status) to re-INVITE"
      sendBye(call, dialog: id)
      end(call)
    }
  }

  // MARK: UAS: requests (§8.2, §12.2.2, §13.3, §9.2, §15.1.2)

  func receive(_ request: SIPMessage, key: TransactionKey?) {
    guard let method = request.method, let callID = request.callID else { return }
    if method == "ACK" {
      ackReceived(request)
      return
    }
    guard let key else { return }
    if let rejection = UASInspection.check(request, capabilities: configuration.capabilities) {
      refuse(request, key: key, rejection)
      return
    }
    if merged.isMerged(request, branch: key.branch ?? key.description, now: now) {
      refuse(request, key: key, Rejection(482, "Loop Detected"))
      return
    }
    if method == "CANCEL" {
      receiveCancel(request, key: key)
      return
    }
    if request.toTag != nil {
      inDialog(request, method: method, key: key)
      return
    }
    switch method {
    case "INVITE":
      newCall(request, key: key)
    case "OPTIONS":
      emit(.request(callID: callID, method: method))
      respond(optionsAnswer(request), in: key)
    default:
      // §12.2.2 / §15.1.2: a BYE (or other mid-dialog method) outside a dialog.
      refuse(request, key: key, Rejection(481, "Call/Transaction Does Not Exist"))
    }
  }

  func refuse(_ request: SIPMessage, key: TransactionKey, _ rejection: Rejection) {
    emit(
      .refused(
        callID: request.callID ?? "", method: request.method ?? "", status: rejection.status))
    var response = rejection.response(to: request, toTag: hex(random.next() & 0xffff_ffff))
    if rejection.status == 500, request.method == "INVITE" {
      // §14.2: a randomly chosen Retry-After of 0–10 s.
      response.insertBeforeLength("Retry-After", "\(random.next() % 11)")
    }
    respond(response, in: key)
  }

  /// §11.2: 200 with Allow, Accept, Accept-Encoding, Accept-Language and Supported.
  func optionsAnswer(_ request: SIPMessage) -> SIPMessage {
    let capabilities = configuration.capabilities
    var ok = request.response(status: 200, toTag: hex(random.next() & 0xffff_ffff))
    ok.insertBeforeLength("Contact", contact)
    ok.insertBeforeLength("Allow", capabilities.allowHeader)
    ok.insertBeforeLength("Accept", capabilities.acceptHeader)
    ok.insertBeforeLength("Accept-Encoding", capabilities.encodings.joined(separator: ", "))
    ok.insertBeforeLength("Accept-Language", capabilities.languages.joined(separator: ", "))
    ok.insertBeforeLength("Supported", capabilities.extensions.joined(separator: ", "))
    return ok
  }

  func newCall(_ request: SIPMessage, key: TransactionKey) {
    guard let callID = request.callID else { return }
    if calls[callID] != nil {
      // A new INVITE (another branch of a fork reaching us again) for a call we have.
      refuse(request, key: key, Rejection(482, "Loop Detected"))
      return
    }
    // RFC 3261 §13.3.1 step 1: an Expires limits how long the invitation stands. One that is
    // not a delta-seconds (§20.19, §25.1) cannot say when: the request is malformed, refused
    // with 400 naming the header (§21.4.1) rather than rung without the limit the caller set.
    let expiry = SessionRules.inviteExpiry(of: request)
    if expiry == .malformed {
      refuse(request, key: key, Rejection(400, "Bad Request (malformed Expires header)"))
      return
    }
    var offer: SessionDescription?
    if !request.body.isEmpty {
      do {
        offer = try SessionDescription(parsing: request.body)
      } catch {
        refuse(request, key: key, Rejection(400, "Bad Request (SDP: \(error))"))
        return
      }
      if let offer, !canAnswer(offer) {
        refuse(request, key: key, Rejection(488, "Not Acceptable Here (no common codec)"))
        return
      }
    }
    let call = Call(callID: callID, isCaller: false, localTag: hex(random.next() & 0xffff_ffff))
    call.request = request
    call.serverKey = key
    call.setRemote(offer, from: request.body)
    calls[callID] = call
    emit(.request(callID: callID, method: "INVITE"))
    setState(call, .calling)
    // Armed before the behaviour runs, so an answer at once cancels it; `Expires: 0` fires at
    // this instant, after the behaviour's own first step (a 180 goes first).
    if case .seconds(let seconds) = expiry { armExpiry(call, seconds: seconds) }
    switch behaviour {
    case .answer(let delay):
      if delay == .zero {
        answer(callID)
      } else {
        after(delay, call: call, purpose: "answer") { agent in agent.answer(callID) }
      }
    case .ring(let duration):
      ring(callID)
      after(duration, call: call, purpose: "answer") { agent in agent.answer(callID) }
    case .reject(let status):
      reject(callID, status: status)
    case .busy:
      reject(callID, status: 486)
    case .unavailable:
      reject(callID, status: 480)
    case .noAnswer:
      ring(callID)
    case .ignoreCancel(let ringing):
      call.ignoresCancel = true
      ring(callID)
      after(ringing, call: call, purpose: "answer") { agent in agent.answer(callID) }
    case .answerThenHangUp(let ringing, let talk):
      call.hangUpAfter = talk
      if ringing == .zero {
        answer(callID)
      } else {
        ring(callID)
        after(ringing, call: call, purpose: "answer") { agent in agent.answer(callID) }
      }
    case .custom(let handler):
      handler(self, IncomingCall(callID: callID, invite: request, offer: offer))
    }
  }

  /// §9.2: 200 to the CANCEL; 487 to the INVITE if it has no final response yet (unless the
  /// call came under ``UABehaviour/ignoreCancel(ringing:)``, a callee broken on purpose).
  ///
  /// A CANCEL that comes after the INVITE's non-2xx final response ended the call (it crossed
  /// a rejection, or the invitation's own 487) still matches the INVITE's server transaction
  /// while that lives: §9.2 answers it 200, with the To tag of the INVITE's response, and it
  /// changes nothing. Only a CANCEL matching no transaction gets 481.
  func receiveCancel(_ cancel: SIPMessage, key: TransactionKey) {
    guard let callID = cancel.callID,
      let inviteKey = TransactionKey.inviteServer(cancelledBy: cancel)
    else {
      refuse(cancel, key: key, Rejection(481, "Call/Transaction Does Not Exist"))
      return
    }
    guard let call = calls[callID], !call.isCaller, inviteKey == call.serverKey else {
      if let tag = finishedInviteTag(inviteKey) {
        emit(.request(callID: callID, method: "CANCEL"))
        respond(cancel.response(status: 200, toTag: tag), in: key)
      } else {
        refuse(cancel, key: key, Rejection(481, "Call/Transaction Does Not Exist"))
      }
      return
    }
    emit(.request(callID: callID, method: "CANCEL"))
    respond(cancel.response(status: 200, toTag: call.localTag), in: key)
    guard call.finalStatus == nil else { return }
    if call.ignoresCancel {
      // The behaviour's answer timer still runs: its 200 is the INVITE's final response.
      log("CANCEL answered, but no 487 for the INVITE (ignoreCancel, against §9.2): it rings on")
      return
    }
    terminateInvite(call, ending: "CANCEL")
  }

  /// Ends an incoming call not answered yet with 487 Request Terminated to its INVITE: the
  /// answer to a CANCEL (§9.2) and to an invitation that expired (§13.3.1 step 1).
  func terminateInvite(_ call: Call, ending: String) {
    guard !call.isCaller, call.finalStatus == nil, let request = call.request else { return }
    call.finalStatus = 487
    call.ending = ending
    respond(request.response(status: 487, toTag: call.localTag), in: call.serverKey)
    end(call)
  }

  /// Arms the call's `expires` timer for an INVITE's Expires, `seconds` from now: from its
  /// sending at the caller (§13.2.1), from its receipt at the callee (§13.3.1 step 1, as §20.19
  /// measures it). At most 2^32 − 1 seconds (``SessionRules/inviteExpiry(of:)`` clamps), about
  /// 4.3·10^15 virtual microseconds: far inside the `Int64` the clock counts in.
  func armExpiry(_ call: Call, seconds: UInt32) {
    let callID = call.callID
    after(.seconds(Int64(seconds)), call: call, purpose: Call.expires) { agent in
      agent.invitationExpired(callID)
    }
  }

  /// The `expires` timer fired with no final response for the INVITE yet. The caller CANCELs
  /// it (§13.2.1) by `cancel`'s path: at once after a provisional response, else when the
  /// first one comes (§9.1); the 487 that follows ends the call as expired. The callee answers
  /// 487 and the call ends (§13.3.1 step 1).
  func invitationExpired(_ callID: String) {
    guard let call = calls[callID], call.finalStatus == nil, call.confirmed == nil else { return }
    if call.isCaller {
      log("the invitation expired with no final response: CANCEL (Expires, §13.2.1)")
      call.expired = true
      cancel(callID)
    } else {
      log("the invitation expired with no final response sent: 487 (Expires, §13.3.1)")
      terminateInvite(call, ending: "expired")
    }
  }

  /// The To tag of the non-2xx final response this agent sent to the INVITE of `key`, while
  /// that INVITE's server transaction is still alive; nil otherwise.
  func finishedInviteTag(_ key: TransactionKey) -> String? {
    guard let book, !book.finishedInvites.isEmpty else { return nil }
    let current = now
    let expired = book.finishedInvites.prefix { $0.expiry <= current }.count
    if expired > 0 { book.finishedInvites.removeFirst(expired) }
    guard let tag = book.finishedInvites.last(where: { $0.key == key })?.tag else { return nil }
    let alive = endpoint.onDrivingThread(passing: key) { endpoint, key in
      endpoint.state(of: key).map { $0 != .terminated } ?? false
    }
    return alive ? tag : nil
  }

  /// Remembers that `call`, an incoming one, ended with a non-2xx final response (see
  /// `CallBook.finishedInvites`).
  func rememberFinishedInvite(_ call: Call) {
    guard !call.isCaller, let status = call.finalStatus, status >= 300, let key = call.serverKey
    else { return }
    let current = now
    let expired = openBook.finishedInvites.prefix { $0.expiry <= current }.count
    if expired > 0 { openBook.finishedInvites.removeFirst(expired) }
    let lifetime = SIPEndpoint.micros(timers.transactionTimeout) + SIPEndpoint.micros(timers.t4)
    openBook.finishedInvites.append((current + lifetime, key, call.localTag))
  }

  func inDialog(_ request: SIPMessage, method: String, key: TransactionKey) {
    // In place: `receive` changes nothing when it finds the request out of order.
    guard let id = DialogID(receivedRequest: request), let call = calls[id.callID],
      let verdict = call.dialogs[id]?.receive(request: request)
    else {
      refuse(request, key: key, Rejection(481, "Call/Transaction Does Not Exist"))
      if method == "BYE" { byeOnAnUnknownDialog(request) }
      return
    }
    if verdict == .outOfOrder {
      refuse(request, key: key, Rejection(500, "Server Internal Error (CSeq out of order)"))
      return
    }
    emit(.request(callID: call.callID, method: method))
    switch method {
    case "BYE":
      respond(request.response(status: 200), in: key)
      if !call.isCaller, call.finalStatus == nil, let invite = call.request {
        // §15.1.2: a BYE on an early dialog: the INVITE gets 487.
        call.finalStatus = 487
        respond(invite.response(status: 487, toTag: call.localTag), in: call.serverKey)
      }
      // The callee ended this dialog itself (a caller's early one: its 2xx never came): a late
      // copy of that 2xx is ACKed only (§13.2.2.4), as `end` does for the dialogs it remembers.
      if call.isCaller, call.confirmed != id { rememberEnded(id) }
      call.ending = call.ending ?? "BYE received"
      end(call)
    case "INVITE":
      if let dialog = call.dialogs[id] {
        reinviteReceived(request, key: key, call: call, dialog: dialog)
      }
    case "OPTIONS":
      respond(optionsAnswer(request), in: key)
    default:
      refuse(request, key: key, Rejection(405, "Method Not Allowed"))
    }
  }

  /// A BYE that matched no dialog (answered 481, §15.1.2) but names a call of ours that is
  /// still waiting for its INVITE's final response, with our tag as its To tag: the callee made a
  /// dialog with its 2xx, which never reached us, and has now ended it (§13.3.1.4 once its 2xx
  /// went unacknowledged for 64·T1, or its user hung up). No final response will come: the
  /// callee's INVITE transaction ended with its 2xx. Our INVITE, in Proceeding if a provisional
  /// came, has no timer (Figure 5) and would wait for ever, so the call ends: ``end(_:)``
  /// CANCELs the INVITE and lets its transaction go (one still Calling ends at Timer B). With
  /// forking, another branch's late 2xx is then a stray, ACKed and ended with BYE.
  func byeOnAnUnknownDialog(_ bye: SIPMessage) {
    guard let callID = bye.callID, let call = calls[callID], call.isCaller,
      call.confirmed == nil, call.finalStatus == nil, bye.toTag == call.localTag
    else { return }
    log("call \(callID): BYE on a dialog its lost 2xx made: ending the unanswered call")
    // The callee ended that dialog: a late copy of its 2xx is ACKed only (§13.2.2.4).
    if let id = DialogID(receivedRequest: bye) { rememberEnded(id) }
    call.ending = "BYE for a dialog whose 2xx never came"
    end(call)
  }

  /// §14.2: a re-INVITE. Glare (491) and overlap (500 with Retry-After) first; else answer the
  /// offer (accepting hold and resume) with a 2xx that is retransmitted until its ACK.
  func reinviteReceived(_ request: SIPMessage, key: TransactionKey, call: Call, dialog: Dialog) {
    if let conflict = SessionRules.reinviteConflict(
      outgoingPending: call.outgoingReinvite != nil,
      incomingPending: call.incomingReinvite != nil)
    {
      refuse(request, key: key, conflict)
      return
    }
    var answer: SessionDescription?
    if !request.body.isEmpty {
      guard let offer = try? SessionDescription(parsing: request.body), canAnswer(offer) else {
        refuse(request, key: key, Rejection(488, "Not Acceptable Here"))
        return
      }
      call.setRemote(offer, from: request.body)
      answer = answerSDP(to: offer, previous: call.localSDP)
    }
    var ok = request.response(status: 200)
    ok.insertBeforeLength("Contact", contact)
    if let answer {
      call.setLocal(answer)
      setBody(&ok, call.localSDPBytes())
    }
    call.incomingReinvite = request.cseq?.sequence
    sendSuccess(ok, in: key, call: call, purpose: Call.reinvite2xx)
  }

  func ackReceived(_ ack: SIPMessage) {
    guard let id = DialogID(receivedRequest: ack), let call = calls[id.callID],
      call.dialogs.index(forKey: id) != nil, let sequence = ack.cseq?.sequence
    else { return }
    if call.incomingReinvite == sequence {
      call.incomingReinvite = nil
      cancelTimer(call, Call.reinvite2xx)
      call.successes[Call.reinvite2xx] = nil
      return
    }
    guard !call.isCaller, !call.ackReceived, call.request?.cseq?.sequence == sequence else {
      return
    }
    call.ackReceived = true
    cancelTimer(call, Call.initial2xx)
    call.successes[Call.initial2xx] = nil
    emit(.request(callID: call.callID, method: "ACK"))
    if !ack.body.isEmpty {
      call.setRemote(try? SessionDescription(parsing: ack.body), from: ack.body)
    }
    if call.byeAfterAck, let id = call.confirmed {
      sendBye(call, dialog: id)
    } else if let talk = call.hangUpAfter {
      let callID = call.callID
      after(talk, call: call, purpose: "hang-up") { agent in agent.hangUp(callID) }
    }
  }

  func cancelTimer(_ call: Call, _ purpose: String) {
    // Most calls have no timer of the kind asked for, often none at all: skip hashing the name.
    guard !call.timers.isEmpty else { return }
    if let handle = call.timers.removeValue(forKey: purpose) {
      network.simulation.cancel(handle)
      traceTimer("timer-cancelled", purpose, of: call)
    }
  }

  // MARK: Ending and bookkeeping

  func end(_ call: Call) {
    // Once, whichever of the paths out of a call gets here first: a second `end` wrote the
    // history entry and the `call-ended` event again.
    guard call.state != .terminated else { return }
    // A caller's INVITE still unanswered past a provisional when its call ends (a BYE on an
    // early dialog: §15 forbids the callee one, but a callee whose 2xx never arrived sends its
    // BYE once §13.3.1.4 gives up, on a dialog confirmed at its end). Nothing will answer that
    // INVITE (the callee's transaction ended with its 2xx) and its client transaction, in
    // Proceeding, has no timer: it is CANCELled (§9.1) and let go. A late 2xx is then a stray,
    // ACKed and ended with BYE.
    if call.isCaller, call.confirmed == nil, call.finalStatus == nil, call.sawProvisional,
      let key = call.inviteKey
    {
      if !call.cancelSent, let invite = call.invite, let peer = call.invitePeer {
        call.cancelSent = true
        send(invite.cancelRequest(), to: peer, branch: key.branch)
      }
      endpoint.onDrivingThread(passing: key) { endpoint, key in endpoint.abandon(key) }
    }
    cancelTimerC(call)
    for (purpose, handle) in call.timers.sorted(by: { $0.key < $1.key }) {
      network.simulation.cancel(handle)
      traceTimer("timer-cancelled", purpose, of: call)
    }
    call.timers = [:]
    // Forget dialogs ended more than 64·T1 ago here too: otherwise only a stray 2xx prunes the
    // table, and a long run keeps one entry per call it ever made.
    pruneEndedDialogs()
    for id in call.dialogs.keys.sorted() {
      // Remembered as ended (so a 2xx on it is only ACKed, §13.2.2.4) when the callee knows it
      // ended: the callee's own, a confirmed one, one this agent sent BYE on (one the callee
      // sent BYE on is remembered where the BYE is taken). A caller's other
      // early dialogs are not: a fork that answers later (one that ignored the proxy's CANCEL,
      // or whose 2xx crossed it) confirms a dialog the callee thinks is up, and the stray 2xx
      // must be ACKed and ended with BYE.
      if !call.isCaller || call.confirmed == id || call.byeSent.contains(id) { rememberEnded(id) }
      traceDialog(id, .terminated)
    }
    rememberFinishedInvite(call)
    setState(call, .terminated)
    calls[call.callID] = nil
    credentials?.store.forget(callID: call.callID)
    let ended = record(for: call)
    history.append(ended)
    if history.count > configuration.historyLimit {
      history.removeFirst(history.count - configuration.historyLimit)
    }
    record(
      "call-ended",
      [
        ("callId", .string(call.callID)), ("side", .string(call.isCaller ? "caller" : "callee")),
        ("status", ended.status.map { .integer(Int64($0)) } ?? .string("none")),
        ("answered", .bool(ended.wasAnswered)), ("ending", .string(ended.ending ?? "")),
      ])
  }

  func record(for call: Call) -> CallRecord {
    CallRecord(
      callID: call.callID, isCaller: call.isCaller, state: call.state, status: call.finalStatus,
      wasAnswered: call.confirmed != nil, ending: call.ending, localSDPBytes: call.localSDPBytes(),
      remoteSDPBytes: call.remoteSDPBytes, dialogs: call.confirmed.map { [$0] } ?? [])
  }

  func setState(_ call: Call, _ state: CallState) {
    guard call.state != state else { return }
    let from = call.state
    call.state = state
    record(
      "call-state",
      [
        ("callId", .string(call.callID)), ("side", .string(call.isCaller ? "caller" : "callee")),
        ("fromState", .string(from.rawValue)), ("toState", .string(state.rawValue)),
      ])
    emit(.callState(callID: call.callID, state))
  }

  func traceDialog(_ dialog: Dialog) { traceDialog(dialog.id, dialog.state) }

  func traceDialog(_ id: DialogID, _ state: DialogState) {
    record(
      "dialog-state", [("dialog", .string(id.description)), ("state", .string(state.rawValue))])
  }

  func emit(_ event: UAEvent) {
    observer?(self, event)
  }

  func record(_ event: String, _ fields: @autoclosure () -> [(String, TraceValue)]) {
    ElementTrace(network: network, element: endpoint.hostName).record(event, fields())
  }

  func log(_ text: @autoclosure () -> String) {
    record("log", [("text", .string(text()))])
  }

  // MARK: SDP (RFC 3264)

  func makeOffer() -> SessionDescription {
    var sdp = SessionDescription(
      origin: .init(
        username: aor.user ?? "-", sessionID: "\(random.next() % 1_000_000_000)",
        sessionVersion: 1, addressType: mediaAddress.contains(":") ? "IP6" : "IP4",
        address: mediaAddress),
      connection: .init(
        addressType: mediaAddress.contains(":") ? "IP6" : "IP4", address: mediaAddress))
    var audio = MediaDescription(type: "audio", port: configuration.mediaPort, formats: [])
    for codec in configuration.codecs {
      let name = codec.uppercasedIfNeeded
      guard let (payload, rate) = Self.staticPayloads[name] else { continue }
      audio.formats.append(payload)
      audio.attributes.append(.init("rtpmap", payload + " " + name + "/" + String(rate)))
    }
    sdp.media = [audio]
    return sdp
  }

  static let staticPayloads: [String: (String, Int)] = [
    "PCMU": ("0", 8000), "GSM": ("3", 8000), "G723": ("4", 8000), "PCMA": ("8", 8000),
    "G722": ("9", 8000), "G729": ("18", 8000),
  ]

  func canAnswer(_ offer: SessionDescription) -> Bool {
    let wanted = configuration.codecs.map { $0.uppercasedIfNeeded }
    return offer.media.contains { media in
      guard media.port != 0 else { return false }
      // The rtpmap lines read once per stream, not once per format.
      let maps = media.rtpMaps
      return media.formats.contains {
        MediaDescription.encoding(of: $0, in: maps).map(wanted.contains) ?? false
      }
    }
  }

  func answerSDP(to offer: SessionDescription, previous: SessionDescription?)
    -> SessionDescription
  {
    var answer = SessionDescription.answer(
      to: offer, codecs: configuration.codecs, address: mediaAddress,
      sessionID: previous?.origin.sessionID ?? "\(random.next() % 1_000_000_000)",
      username: aor.user ?? "-", ports: [configuration.mediaPort])
    if let previous { answer.origin.sessionVersion = previous.origin.sessionVersion + 1 }
    return answer
  }

  func setBody(_ message: inout SIPMessage, _ sdp: SessionDescription) {
    setBody(&message, sdp.bytes)
  }

  /// Puts SDP bytes in `message` (the call's own description's, printed once: see
  /// `Call.localSDPBytes()`).
  func setBody(_ message: inout SIPMessage, _ bytes: [UInt8]?) {
    message.remove("Content-Length")
    message.set("Content-Type", "application/sdp")
    message.body = bytes ?? []
    message.append("Content-Length", "\(message.body.count)")
  }

  /// Lower-case hex, at least eight digits (tags, Call-IDs).
  func hex(_ value: UInt64) -> String { String(lowercaseHex: value, minimumDigits: 8) }
}

/// A call at one agent: the INVITE it sent or got, its dialogs, its SDP and its timers.
final class Call {
  let callID: String
  let isCaller: Bool
  let localTag: String
  var state: CallState = .idle
  var dialogs: [DialogID: Dialog] = [:]
  var confirmed: DialogID?
  var finalStatus: Int?
  var ending: String?
  /// Without run-time exclusivity checks, as the agent's registration state: reached only by
  /// the agent's own code on the driving thread, and read or changed several times per call
  /// (each check was about 90 instructions).
  @exclusivity(unchecked) var timers: [String: TimerHandle] = [:]
  /// The caller's Timer C (``UserAgent/armTimerC(_:)``), apart from `timers`.
  @exclusivity(unchecked) var timerC: TimerHandle?
  /// The last local and remote session descriptions, each with the SDP bytes it went or came
  /// as: a ``CallRecord`` keeps bytes, and printing them again at every call's end cost more
  /// than keeping the ones at hand (the body received; ours, printed once for its message).
  private(set) var localSDP: SessionDescription?
  private(set) var remoteSDP: SessionDescription?
  private var printedLocalSDP: [UInt8]?
  private(set) var remoteSDPBytes: [UInt8]?
  var hangUpAfter: Duration?
  var byeSent: [DialogID] = []
  // Caller.
  var invite: SIPMessage?
  var inviteKey: TransactionKey?
  var invitePeer: SIPPeer?
  /// The INVITE's RFC 3263 targets (``invitePeer`` is the current one).
  var targets: ServerTargets?
  var sawProvisional = false
  var cancelWanted = false
  var cancelSent = false
  /// Its INVITE's Expires was reached with no final response, and it CANCELled (§13.2.1).
  var expired = false
  var redirects: RedirectTargets?
  var retries = 0
  /// Which outbound proxy the INVITE went through (0: the configured one; then fallbacks).
  var proxyIndex = 0
  var acks: [DialogID: (SIPMessage, SIPPeer)] = [:]
  // Callee.
  var request: SIPMessage?
  var serverKey: TransactionKey?
  var ackReceived = false
  var byeAfterAck = false
  /// Set by ``UABehaviour/ignoreCancel(ringing:)`` when the INVITE came: a CANCEL gets its 200
  /// but the INVITE no 487. Kept per call, so a behaviour changed mid-ring does not change how
  /// a call already ringing answers its CANCEL.
  var ignoresCancel = false
  // re-INVITE.
  var outgoingReinvite: UInt32?
  var pendingOffer: SessionDescription?
  var wantsHold = false
  var incomingReinvite: UInt32?
  /// 2xx responses waiting for their ACK (§13.3.1.4), by purpose.
  var successes: [String: PendingSuccess] = [:]
  static let initial2xx = "2xx"
  static let reinvite2xx = "re-INVITE 2xx"
  /// The timer of the INVITE's Expires (§13.2.1 at the caller, §13.3.1 step 1 at the callee).
  static let expires = "expires"

  struct PendingSuccess {
    var response: SIPMessage
    var key: TransactionKey?
    var interval: Duration
    var giveUpAt: Int64
  }

  init(callID: String, isCaller: Bool, localTag: String) {
    self.callID = callID
    self.isCaller = isCaller
    self.localTag = localTag
  }

  /// Makes `sdp` the local description; its bytes are printed when first asked for.
  func setLocal(_ sdp: SessionDescription?) {
    localSDP = sdp
    printedLocalSDP = nil
  }

  /// The local description's bytes, printed once and kept.
  func localSDPBytes() -> [UInt8]? {
    if printedLocalSDP == nil, let localSDP { printedLocalSDP = localSDP.bytes }
    return printedLocalSDP
  }

  /// Makes `sdp`, parsed from `body`, the remote description (nil, and no bytes, when the body
  /// did not parse).
  func setRemote(_ sdp: SessionDescription?, from body: [UInt8]) {
    remoteSDP = sdp
    remoteSDPBytes = sdp == nil ? nil : body
  }
}
