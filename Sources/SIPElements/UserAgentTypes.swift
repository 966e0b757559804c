public import SIPCore
public import SIPDialog
import SIPTransport
import Simulation

/// How a ``UserAgent`` answers the INVITEs it receives: the behaviours scenarios need, and a
/// callback for anything else.
public enum UABehaviour: Sendable {
  /// Answer with 200 OK after `delay` (no 180; the transaction sends 100 Trying at 200 ms).
  case answer(after: Duration = .zero)
  /// Send 180 Ringing at once, then 200 OK after `duration`.
  case ring(for: Duration)
  /// Reject with `status` (4xx, 5xx or 6xx) at once.
  case reject(status: Int)
  /// 486 Busy Here.
  case busy
  /// Ring forever: the caller has to CANCEL.
  case noAnswer
  /// 480 Temporarily Unavailable.
  case unavailable
  /// Ring for `ringing`, answer, then hang up with BYE `talk` after the ACK.
  case answerThenHangUp(ringing: Duration = .zero, talk: Duration)
  /// A broken callee, for teaching RFC 3261 §9.1's give-up: send 180 Ringing at once and 200 OK
  /// after `ringing`, as ``ring(for:)`` does, but answer a CANCEL with 200 only: the INVITE gets
  /// no 487 (§9.2 says the UAS SHOULD send it; an RFC 2543 one did not) and rings on. The
  /// caller, with no final response 64·T1 after its CANCEL, considers the INVITE cancelled
  /// (§9.1); the late 200 then finds no call there and is ACKed and ended with BYE. The answer
  /// is what ends the callee's INVITE server transaction: one that never answered would keep it
  /// for ever.
  case ignoreCancel(ringing: Duration)
  /// Your own behaviour: called with each new incoming call. Use ``UserAgent/ring(_:)``,
  /// ``UserAgent/answer(_:)``, ``UserAgent/reject(_:status:)``, ``UserAgent/hangUp(_:)`` and
  /// ``UserAgent/after(_:_:)`` on the agent it gets.
  case custom(@Sendable (isolated UserAgent, IncomingCall) -> Void)
}

/// A new call arriving at a ``UserAgent``, as its ``UABehaviour/custom(_:)`` callback sees it.
public struct IncomingCall: Sendable {
  public var callID: String
  public var invite: SIPMessage
  /// The caller's offer, when the INVITE carried one.
  public var offer: SessionDescription?
}

/// The life of a call at one user agent.
public enum CallState: String, Sendable, Hashable {
  /// Before the INVITE: the `fromState` of a call's first `call-state` event.
  case idle = "Idle"
  /// INVITE sent, nothing back yet (caller), or received and not answered (callee).
  case calling = "Calling"
  /// A provisional response without a dialog (100, or 18x without a To tag).
  case proceeding = "Proceeding"
  /// An early dialog exists (18x with a To tag).
  case early = "Early"
  /// 2xx sent or received: the session is up.
  case confirmed = "Confirmed"
  case terminated = "Terminated"
}

/// What a ``UserAgent`` did and saw, for its observer (``UserAgent/onEvent(_:)``) and the
/// trace.
public enum UAEvent: Sendable, Hashable, CustomStringConvertible {
  case callState(callID: String, CallState)
  /// A final or provisional response to one of its requests (408 / 503 stand for a timeout or
  /// transport error, §8.1.3.1).
  case response(callID: String, method: String, status: Int)
  /// A request it received (after its inspections).
  case request(callID: String, method: String)
  /// A request it refused with `status` (405, 415, 420, 481, 482, 491, 500, …).
  case refused(callID: String, method: String, status: Int)

  public var description: String {
    switch self {
    case .callState(let callID, let state): "\(callID) \(state.rawValue)"
    case .response(let callID, let method, let status): "\(callID) \(status) to \(method)"
    case .request(let callID, let method): "\(callID) got \(method)"
    case .refused(let callID, let method, let status): "\(callID) refused \(method) with \(status)"
    }
  }
}

/// The outcome of a call, kept after it ends.
public struct CallRecord: Sendable, Hashable {
  public var callID: String
  public var isCaller: Bool
  public var state: CallState
  /// The final status of the INVITE (sent by a callee, received by a caller), nil if none.
  public var status: Int?
  /// Whether a dialog was confirmed (the call was answered).
  public var wasAnswered: Bool
  /// Who ended it and how: "BYE sent", "BYE received", "CANCEL", "487", "no ACK", …
  public var ending: String?
  /// The media state at the end: the last local and remote session descriptions.
  ///
  /// A user agent's records keep them as the SDP bytes they went or came as and parse them when
  /// read: an agent keeps ``UAConfiguration/historyLimit`` records, and with the two
  /// descriptions parsed a record was about 2 KB, most of the memory of a long run with many
  /// agents (200,000 records at 1,000 pairs). A description set here is kept as given.
  public var localSDP: SessionDescription? {
    get { keptLocal?.sessionDescription }
    set { keptLocal = newValue.map(KeptSDP.description) }
  }
  public var remoteSDP: SessionDescription? {
    get { keptRemote?.sessionDescription }
    set { keptRemote = newValue.map(KeptSDP.description) }
  }
  /// Confirmed dialogs, by ID (forking can confirm more than one; the extras get BYE).
  public var dialogs: [DialogID]

  /// A description as a record keeps it: the bytes of a call's message body, or a description
  /// given through the public API, kept as it is (printing and parsing do not give back every
  /// value a ``SessionDescription`` can hold: a `version` other than 0, an empty field).
  private enum KeptSDP: Sendable, Hashable {
    /// A body that parsed, or bytes printed from an agent's own description (which parse back
    /// to it): parsed again when read.
    case bytes([UInt8])
    /// Boxed: inline, the description's ~300 bytes set the size of every record.
    indirect case description(SessionDescription)

    var sessionDescription: SessionDescription? {
      switch self {
      case .bytes(let bytes): try? SessionDescription(parsing: bytes)
      case .description(let description): description
      }
    }

    /// The same description, compared as kept first (bytes to bytes), parsed otherwise (a
    /// body may print differently from the description it parses to).
    static func same(_ lhs: KeptSDP?, _ rhs: KeptSDP?) -> Bool {
      lhs == rhs || lhs?.sessionDescription == rhs?.sessionDescription
    }
  }
  private var keptLocal: KeptSDP?
  private var keptRemote: KeptSDP?

  public init(
    callID: String, isCaller: Bool, state: CallState, status: Int? = nil, wasAnswered: Bool,
    ending: String? = nil, localSDP: SessionDescription? = nil,
    remoteSDP: SessionDescription? = nil, dialogs: [DialogID] = []
  ) {
    self.init(
      callID: callID, isCaller: isCaller, state: state, status: status,
      wasAnswered: wasAnswered, ending: ending, localSDPBytes: nil, remoteSDPBytes: nil,
      dialogs: dialogs)
    self.localSDP = localSDP
    self.remoteSDP = remoteSDP
  }

  /// A call's record, with its SDP bytes as they went or came (parsed when read): the remote's
  /// parse to the description the agent used, and its own were printed from one.
  init(
    callID: String, isCaller: Bool, state: CallState, status: Int?, wasAnswered: Bool,
    ending: String?, localSDPBytes: [UInt8]?, remoteSDPBytes: [UInt8]?, dialogs: [DialogID]
  ) {
    self.callID = callID
    self.isCaller = isCaller
    self.state = state
    self.status = status
    self.wasAnswered = wasAnswered
    self.ending = ending
    self.dialogs = dialogs
    keptLocal = localSDPBytes.map(KeptSDP.bytes)
    keptRemote = remoteSDPBytes.map(KeptSDP.bytes)
  }

  /// Equal when every public property is (descriptions as parsed when their bytes differ).
  public static func == (lhs: CallRecord, rhs: CallRecord) -> Bool {
    lhs.callID == rhs.callID && lhs.isCaller == rhs.isCaller && lhs.state == rhs.state
      && lhs.status == rhs.status && lhs.wasAnswered == rhs.wasAnswered
      && lhs.ending == rhs.ending && lhs.dialogs == rhs.dialogs
      && KeptSDP.same(lhs.keptLocal, rhs.keptLocal)
      && KeptSDP.same(lhs.keptRemote, rhs.keptRemote)
  }

  /// Leaves the descriptions out, so records `==` calls equal hash alike.
  public func hash(into hasher: inout Hasher) {
    hasher.combine(callID)
    hasher.combine(isCaller)
    hasher.combine(state)
    hasher.combine(status)
    hasher.combine(wasAnswered)
    hasher.combine(ending)
    hasher.combine(dialogs)
  }
}

/// The settings of a user agent that do not change while it runs.
public struct UAConfiguration: Sendable {
  /// Requests outside a dialog go through this proxy (a loose route, §8.1.2).
  public var outboundProxy: SIPURI?
  /// A preloaded route set (§8.1.2), after the outbound proxy.
  public var routes: [SIPURI]
  public var capabilities: UACapabilities
  /// Codecs it offers and accepts, by encoding name, in order of preference.
  public var codecs: [String]
  /// The RTP port it offers.
  public var mediaPort: Int
  /// The most 3xx targets one call tries (§8.1.3.4).
  public var maxRedirects: Int
  /// Retries after 401/407/415/416/420 for one request.
  public var maxRetries: Int
  /// Proxies to try, in order, when the outbound proxy does not answer an INVITE (Timer B, a
  /// transport error or 503), as RFC 3263 §4.3 fails over to the next server.
  public var fallbackProxies: [SIPURI]
  /// Credentials that answer 401 / 407 challenges (§22), used when no authenticator hook is
  /// set.
  public var credentials: CredentialStore?
  /// How many ended calls ``UserAgent/history`` keeps, the oldest dropped first. Bounded so a
  /// long run's memory does not grow with every call (a record holds both session
  /// descriptions); the trace keeps every call's end (`call-ended`) regardless.
  public var historyLimit: Int
  /// How long an outgoing INVITE may wait for its final response once a provisional came,
  /// restarted by each later provisional, before the agent CANCELs it (§9.1) and gives the call
  /// up as ``UserAgent/cancel(_:)`` does: a proxy's Timer C (§16.6 step 11, more than 3
  /// minutes), applied by the UAC core. RFC 3261 gives an INVITE
  /// client transaction in Proceeding no timer (Figure 5): when its final response is lost for
  /// good (every retransmission of a 486 dropped, a proxy that crashed after its 100 Trying)
  /// the call would wait for ever. nil waits for ever, as the figure does. The default, 4
  /// minutes, is longer than a proxy's (181 s by default), so a proxy's Timer C acts first and
  /// the agent's is the last resort.
  public var timerC: Duration?
  /// An `Expires` (seconds) put on the INVITE of every call it places, limiting how long the
  /// invitation stands (RFC 3261 §13.2.1): with no final response by then the agent CANCELs
  /// the INVITE (§9.1), and a callee that honours it answers 487 on its own (§13.3.1 step 1).
  /// An Expires among `call`'s `headers` takes its place. Nil (the default): none. Re-INVITEs
  /// never carry it.
  public var inviteExpires: UInt32?

  public init(
    outboundProxy: SIPURI? = nil, routes: [SIPURI] = [],
    capabilities: UACapabilities = UACapabilities(), codecs: [String] = ["PCMU", "PCMA"],
    mediaPort: Int = 49170, maxRedirects: Int = 5, maxRetries: Int = 2,
    fallbackProxies: [SIPURI] = [], credentials: CredentialStore? = nil, historyLimit: Int = 100,
    timerC: Duration? = .seconds(240),
    inviteExpires: UInt32? = nil
  ) {
    self.timerC = timerC
    self.historyLimit = max(0, historyLimit)
    self.inviteExpires = inviteExpires
    self.fallbackProxies = fallbackProxies
    self.credentials = credentials
    self.outboundProxy = outboundProxy
    self.routes = routes
    self.capabilities = capabilities
    self.codecs = codecs
    self.mediaPort = mediaPort
    self.maxRedirects = maxRedirects
    self.maxRetries = maxRetries
  }
}

extension UAConfiguration {
  /// Settings shared by reference. A topology's agents mostly have the same settings, and a
  /// million agents each holding its own 232-byte copy was a sixth of an idle agent's memory.
  final class Box: Sendable {
    let value: UAConfiguration
    init(_ value: UAConfiguration) { self.value = value }

    /// The last box made on `network` when its settings equal these (see ``SharedSettings``).
    static func shared(_ configuration: UAConfiguration, on network: Network) -> Box {
      SharedSettings.box(
        on: network, reusable: { $0.value.hasSameSettings(as: configuration) },
        make: { Box(configuration) })
    }
  }

  /// Equal settings, and no credentials on either side (a credential store caches the
  /// challenges an agent met: each agent keeps its own).
  func hasSameSettings(as other: UAConfiguration) -> Bool {
    credentials == nil && other.credentials == nil && outboundProxy == other.outboundProxy
      && routes == other.routes && capabilities == other.capabilities && codecs == other.codecs
      && mediaPort == other.mediaPort && maxRedirects == other.maxRedirects
      && maxRetries == other.maxRetries && fallbackProxies == other.fallbackProxies
      && historyLimit == other.historyLimit && timerC == other.timerC
      && inviteExpires == other.inviteExpires
  }
}

/// Fills in credentials for a request a server challenged (401 / 407, §22.2): returns the
/// request to resend (its CSeq is set by the agent) or nil to give up. Without one, the agent
/// answers from ``UAConfiguration/credentials``.
public typealias UAAuthenticator =
  @Sendable (_ request: SIPMessage, _ challenge: SIPMessage) ->
  SIPMessage?

/// Where a user agent's registration stands (§10.2).
public struct RegistrationState: Sendable, Hashable {
  /// The registrar's URI (the REGISTER's Request-URI).
  public var registrar: SIPURI {
    get { sharedRegistrar.uri }
    set { sharedRegistrar = SharedURI(newValue) }
  }
  /// By reference, shared by the agents of a network that register with one registrar (a copy
  /// each was 112 bytes of every agent).
  private(set) var sharedRegistrar: SharedURI
  /// ``registrar``'s text (the REGISTER's Request-URI), printed once for all who share it.
  var registrarText: String { sharedRegistrar.text }
  /// The Call-ID all its REGISTERs share, and the last CSeq (§10.2.4).
  public var callID: String
  /// The contacts the last 200 listed (all of the address-of-record's bindings).
  public var bindings: [String] {
    get { listed.isEmpty ? [] : listed.split(separator: "\n").map(String.init) }
    set { listed = newValue.joined(separator: "\n") }
  }
  /// ``bindings`` joined by line feeds (which no header value holds): one string per agent,
  /// where an array of strings cost every registered agent another allocation.
  private(set) var listed: String

  /// Sets ``bindings`` from their texts already joined by line feeds.
  mutating func setListed(_ joined: String) { listed = joined }
  /// The expiry the registrar granted this agent's contact, and when it ends (virtual
  /// microseconds); nil when not registered.
  public var expiresAt: Int64?
  public var granted: UInt32?
  /// The last final status; nil while waiting.
  public var status: Int?
  public var cseq: UInt32
  /// The expiry asked for.
  public var requested: UInt32
  /// Whether it refreshes at half the granted time.
  public var refreshes: Bool

  init(
    registrar: SharedURI, callID: String, cseq: UInt32, requested: UInt32, status: Int?,
    granted: UInt32?, expiresAt: Int64?, bindings: [String], refreshes: Bool
  ) {
    sharedRegistrar = registrar
    self.callID = callID
    self.cseq = cseq
    self.requested = requested
    self.status = status
    self.granted = granted
    self.expiresAt = expiresAt
    listed = bindings.joined(separator: "\n")
    self.refreshes = refreshes
  }

  /// Sets the registrar, keeping the shared copy when it is the same URI.
  mutating func setRegistrar(_ uri: SIPURI, on network: Network) {
    if sharedRegistrar.uri != uri { sharedRegistrar = SharedURI.shared(uri, on: network) }
  }
}

/// A SIP URI held by reference. Immutable, so sharing one changes nothing a run can observe.
final class SharedURI: Sendable, Hashable {
  let uri: SIPURI
  /// The URI's text, printed once for every agent sharing it (each REGISTER's Request-URI).
  let text: String
  /// Where a request for the URI goes when no route is preloaded (`SIPPeer(uri:)`).
  let peer: SIPPeer
  init(_ uri: SIPURI) {
    self.uri = uri
    text = uri.description
    peer = SIPPeer(uri: uri)
  }

  static func == (lhs: SharedURI, rhs: SharedURI) -> Bool { lhs.uri == rhs.uri }
  func hash(into hasher: inout Hasher) { hasher.combine(uri) }

  /// The last one made on `network` when it is the same URI (see ``SharedSettings``): agents
  /// registering one after another with one registrar share it.
  static func shared(_ uri: SIPURI, on network: Network) -> SharedURI {
    SharedSettings.box(on: network, reusable: { $0.uri == uri }, make: { SharedURI(uri) })
  }
}
