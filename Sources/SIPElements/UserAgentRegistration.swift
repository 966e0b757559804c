public import SIPCore
import SIPDialog
import SIPServers
import SIPTransport
import Simulation

extension UserAgent {
  // MARK: Registration (§10.2)

  /// Registers this agent's contact (and `extraContacts`) for its address-of-record with
  /// `registrar` (a URI such as `sip:biloxi.example.com`), and, with `refresh`, registers again
  /// at half of the granted expiry so the bindings never lapse (the extra contacts too). Every REGISTER of the agent
  /// shares one Call-ID with a rising CSeq (§10.2.4); challenges are answered from the
  /// credential store; 423 is retried with the registrar's Min-Expires (§10.2.8). The result
  /// comes as ``UAEvent/response(callID:method:status:)`` and in ``registration``.
  public func register(
    with registrar: SIPURI, expires: UInt32 = 3600, refresh: Bool = true,
    extraContacts: [SIPURI] = []
  ) {
    // The grant and the listed bindings carry over; the rest is this REGISTER's. A first
    // registration gets a Call-ID (`hex@address`, printed in one piece) and the shared URI.
    var state: RegistrationState
    if let current = registration.take() {
      state = current
      state.setRegistrar(registrar, on: network)
      state.cseq += 1
    } else {
      let callID = String(
        lowercaseHex: random.next(), minimumDigits: 8, suffix: "@" + hostAddress)
      state = RegistrationState(
        registrar: SharedURI.shared(registrar, on: network), callID: callID, cseq: 1,
        requested: expires, status: nil,
        granted: nil, expiresAt: nil, bindings: [], refreshes: false)
    }
    state.requested = expires
    state.status = nil
    state.refreshes = refresh && expires > 0
    let extras = extraContacts.map { "<\($0)>" }
    self.extraContacts = expires > 0 ? extras : []
    registration = state
    sendRegister(own: true, contacts: extras, expires: expires)
  }

  /// Removes this agent's binding and the extra contacts it registered (Expires: 0), or with
  /// `all` every binding of its address-of-record (`Contact: *`, §10.2.2), and stops refreshing.
  public func unregister(all: Bool = false) {
    guard var state = registration else { return }
    state.cseq += 1
    state.refreshes = false
    state.requested = 0
    let extras = extraContacts
    extraContacts = []
    registration = state
    cancelRegistrationTimer()
    sendRegister(own: !all, contacts: all ? ["*"] : extras, expires: 0)
  }

  /// Asks the registrar for the current bindings: a REGISTER without Contact (§10.2.3).
  public func queryRegistrations() {
    guard var state = registration else { return }
    state.cseq += 1
    registration = state
    sendRegister(own: false, contacts: [], expires: nil)
  }

  /// Sends the REGISTER: Contact lists this agent's own contact first when `own`, then
  /// `contacts` (texts).
  func sendRegister(own: Bool, contacts: [String], expires: UInt32?) {
    // The state moved out for its parts and back: a copy (optional chaining makes one per
    // part read) retained each of its strings.
    guard let state = registration.take() else { return }
    let registrar = state.sharedRegistrar
    let callID = state.callID
    let cseq = state.cseq
    registration = state
    let pending = PendingRegister(
      own: own, contacts: contacts, expires: expires, tag: hex(random.next() & 0xffff_ffff))
    let routes = preloadedRoutes
    let request = registerRequest(
      pending, registrar: registrar, callID: callID, cseq: cseq, routes: routes)
    pendingRegister = pending
    // §8.1.2, as `nextHop(for:)`: the first route, else the registrar (its peer worked out
    // once, when no SRV or NAPTR record can change it; else RFC 3263's first target).
    let peer =
      LocatorState.direct(book?.locator, network: network)
      ? routes.first.map(SIPPeer.init(uri:)) ?? registrar.peer
      : self.peer(for: routes.first ?? registrar.uri)
    send(consume request, to: peer)
  }

  /// The REGISTER `pending` describes: built when it is first sent, and built again for a
  /// retry. The agent keeps these parts, not the message: a message kept while in flight
  /// shared its storage with the one the transport put its Via on, which then copied it.
  func registerRequest(
    _ pending: PendingRegister, registrar: SharedURI, callID: String, cseq: UInt32,
    routes: [SIPURI]
  ) -> SIPMessage {
    // §10.2: To and From are the address-of-record; the Request-URI names the registrar.
    var request = outsideRequest(
      "REGISTER", to: registrar.uri, callID: callID, tag: pending.tag, cseq: cseq,
      toRecord: true, targetText: registrar.text, routes: routes
    ) { fields in
      // The agent's own contact printed straight into its field (a string first was an
      // allocation and a copy per REGISTER).
      if pending.own { fields.field("Contact") { writeContact(to: &$0) } }
      for value in pending.contacts { fields.field("Contact", value) }
      if let expires = pending.expires {
        fields.field("Expires") { appendDecimal(Int64(expires), to: &$0) }
      }
    }
    request.append("Content-Length", "0")
    return request
  }

  /// A final response to a REGISTER of this agent's registration (`sequence`: its CSeq number,
  /// read by the caller already).
  func registrationResponse(_ response: SIPMessage, status: Int, cseq sequence: UInt32) {
    // The state is moved out (and put back on every path below): a copy retained each of its
    // strings and released them again when it was stored back.
    guard let pending = pendingRegister, var state = registration.take() else { return }
    guard sequence == state.cseq else {
      registration = state
      return
    }
    // The request as sent, for a retry: the last retry, else the first REGISTER built again
    // (the same Call-ID, CSeq and From tag).
    func sent() -> SIPMessage {
      pending.request
        ?? registerRequest(
          pending, registrar: state.sharedRegistrar, callID: state.callID, cseq: state.cseq,
          routes: preloadedRoutes)
    }
    var retry: SIPMessage?
    if status == 401 || status == 407, pending.retries < configuration.maxRetries {
      retry = answerChallenge(sent(), response)
    } else if status == 423, let minimum = response.minExpires,
      pending.retries < configuration.maxRetries
    {
      // §10.2.8: ask again with at least the registrar's minimum.
      var request = sent()
      request.set("Expires", "\(minimum)")
      state.requested = minimum
      retry = request
    }
    if var retry {
      state.cseq += 1
      registration = state
      retry.set("CSeq", "\(state.cseq) REGISTER")
      pending.retries += 1
      pending.request = retry
      emit(.response(callID: state.callID, method: "REGISTER", status: status))
      send(retry, to: nextHop(for: state.registrar))
      return
    }
    state.status = status
    // Final and not retried: the request is needed no more (an idle agent keeps only its
    // registration state until the refresh builds the next REGISTER).
    pendingRegister = nil
    if (200..<300).contains(status) {
      // One pass over the Contact fields for both the texts kept and our contact's expiry;
      // our contact as we sent it is recognised without parsing it.
      var own: [UInt8] = []
      own.reserveCapacity(64)
      writeContact(to: &own)
      let host = hostAddress
      let port = Int(endpoint.address.port)
      let (listing, found, expires) = response.ownContact(own: own) { uri in
        uri.host == host && (uri.port ?? 5060) == port
      }
      state.setListed(listing)
      // §10.2.4: the expiry granted to our contact is its `expires` in the 200, else Expires.
      let granted = found ? (expires ?? response.expires) : nil
      state.granted = granted
      state.expiresAt = granted.map { now + Int64($0) * 1_000_000 }
      if let granted, granted > 0, state.refreshes {
        // Half the grant, in microseconds (`Duration`'s division is a 128-bit one).
        armRefresh(after: .microseconds(Int64(granted) * 500_000))
      }
    }
    registration = state
    emit(.response(callID: state.callID, method: "REGISTER", status: status))
  }

  func armRefresh(after delay: Duration) {
    cancelRegistrationTimer()
    let at = SimInstant(microseconds: now + SIPEndpoint.micros(delay))
    // A token timer, not a closure: every registered agent keeps this one armed while idle,
    // and a closure's context was about 70 bytes of each idle agent.
    registrationTimer = network.simulation.schedule(
      at: at, target: self, token: Self.refreshToken)
  }

  static let refreshToken: UInt64 = 1

  /// A REGISTER in flight and the times it was sent again (challenges, 423).
  final class PendingRegister {
    /// What the first REGISTER was built from (`registerRequest`): whether it
    /// listed the agent's own contact, the other Contact texts, Expires, and the From tag.
    let own: Bool
    let contacts: [String]
    let expires: UInt32?
    let tag: String
    /// The last retry sent (with its credentials or its new Expires); nil until there is one.
    var request: SIPMessage?
    var retries = 0

    init(own: Bool, contacts: [String], expires: UInt32?, tag: String) {
      (self.own, self.contacts, self.expires, self.tag) = (own, contacts, expires, tag)
    }
  }

  /// The simulation calls this when a timer the agent armed with a token fires (its
  /// registration refresh); it runs on the driving thread, isolated to the agent.
  public nonisolated func timerFired(_ token: UInt64) {
    onDrivingThread(passing: token) { agent, token in
      guard token == Self.refreshToken else { return }
      agent.registrationTimer = nil
      agent.refreshRegistration()
    }
  }

  /// The refresh at half the grant: what `register(with:expires:refresh:)` does with the
  /// registrar, expiry and refreshing it last asked for (the state moved out and back, where
  /// calling it copied the state three times and compared the registrar's URI with itself).
  func refreshRegistration(alsoContacts contacts: [String] = []) {
    guard var state = registration.take() else { return }
    guard state.refreshes else {
      registration = state
      return
    }
    state.cseq += 1
    state.status = nil
    state.refreshes = state.requested > 0
    let expires = state.requested
    let extras = extraContacts
    registration = state
    sendRegister(own: true, contacts: extras + contacts, expires: expires)
  }

  func cancelRegistrationTimer() {
    if let handle = registrationTimer { network.simulation.cancel(handle) }
    registrationTimer = nil
  }

  /// Stops refreshing its registration (the binding then expires at the registrar).
  public func stopRefreshing() {
    registration?.refreshes = false
    cancelRegistrationTimer()
  }
}
