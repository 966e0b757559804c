public import SIPCore

/// What identifies a dialog at one end (RFC 3261 §12): Call-ID, the local tag and the remote tag.
/// The two ends of a dialog hold mirror images of it.
public struct DialogID: Sendable, Hashable, Comparable, CustomStringConvertible {
  public var callID: String { didSet { digest = Self.digest(callID, localTag, remoteTag) } }
  public var localTag: String { didSet { digest = Self.digest(callID, localTag, remoteTag) } }
  public var remoteTag: String { didSet { digest = Self.digest(callID, localTag, remoteTag) } }
  /// FNV-1a of the three parts, made once: an agent looks its dialogs up by ID many times per
  /// call, and hashing the three strings with the seeded hasher each time cost ~800
  /// instructions a lookup. Only the hash and a quick inequality use it.
  private var digest: UInt64

  public init(callID: String, localTag: String, remoteTag: String) {
    self.callID = callID
    self.localTag = localTag
    self.remoteTag = remoteTag
    digest = Self.digest(callID, localTag, remoteTag)
  }

  private static func digest(_ callID: String, _ localTag: String, _ remoteTag: String) -> UInt64 {
    fnv1aPart(
      remoteTag,
      continuing: fnv1aPart(localTag, continuing: fnv1aPart(callID, continuing: fnv1aBasis)))
  }

  public static func == (lhs: DialogID, rhs: DialogID) -> Bool {
    lhs.digest == rhs.digest && lhs.callID == rhs.callID && lhs.localTag == rhs.localTag
      && lhs.remoteTag == rhs.remoteTag
  }

  public func hash(into hasher: inout Hasher) { hasher.combine(digest) }

  /// The dialog a request received by a UAS belongs to (§12.2.2): local tag from To, remote
  /// from From. Nil when the request has no To tag (it is outside any dialog).
  public init?(receivedRequest request: SIPMessage) {
    guard let callID = request.callID, let local = request.toTag,
      let remote = request.fromTag
    else { return nil }
    self.init(callID: callID, localTag: local, remoteTag: remote)
  }

  /// The dialog a response received by a UAC belongs to (§12.1.2): local tag from From, remote
  /// from To. Nil when the response has no To tag.
  public init?(receivedResponse response: SIPMessage) {
    guard let callID = response.callID, let local = response.fromTag,
      let remote = response.toTag
    else { return nil }
    self.init(callID: callID, localTag: local, remoteTag: remote)
  }

  public var description: String { "\(callID);\(localTag);\(remoteTag)" }

  public static func < (lhs: DialogID, rhs: DialogID) -> Bool {
    (lhs.callID, lhs.localTag, lhs.remoteTag) < (rhs.callID, rhs.localTag, rhs.remoteTag)
  }
}

/// The state of a dialog (RFC 3261 §12): created early by a provisional response with a To tag,
/// confirmed by a 2xx, ended by BYE or by a non-2xx final response to the INVITE.
public enum DialogState: String, Sendable, Hashable {
  case early = "Early"
  case confirmed = "Confirmed"
  case terminated = "Terminated"
}

/// One end of a dialog (RFC 3261 §12), as a pure value: the route set, the remote target, the
/// local and remote sequence numbers, and the rules that build and check in-dialog requests.
/// The user agent keeps one per dialog and asks it for every request it sends inside it.
public struct Dialog: Sendable, Hashable {
  public var id: DialogID
  public var state: DialogState
  /// The local CSeq number: the last one used in a request this end sent (§12.1.2).
  public var localSequence: UInt32
  /// The remote CSeq number, nil until the peer sends a request in the dialog (§12.1.1).
  public var remoteSequence: UInt32?
  /// The URIs of From (local) and To (remote) of in-dialog requests this end sends.
  public var localURI: NameAddress
  public var remoteURI: NameAddress
  /// Where in-dialog requests go: the Contact of the peer (§12.1.1, §12.1.2), refreshed by a
  /// target refresh request or its 2xx (§12.2).
  public var remoteTarget: SIPURI
  /// The route set, in the order requests traverse it (§12.1.1, reversed at the UAC §12.1.2).
  public var routeSet: [NameAddress]
  /// Whether this end created the dialog with its own request (the Call-ID owner, §14.1).
  public var isCaller: Bool
  /// A `sips` Request-URI over TLS (§12.1.1).
  public var isSecure: Bool

  public init(
    id: DialogID, state: DialogState, localSequence: UInt32, remoteSequence: UInt32?,
    localURI: NameAddress, remoteURI: NameAddress, remoteTarget: SIPURI,
    routeSet: [NameAddress], isCaller: Bool, isSecure: Bool = false
  ) {
    self.id = id
    self.state = state
    self.localSequence = localSequence
    self.remoteSequence = remoteSequence
    self.localURI = localURI
    self.remoteURI = remoteURI
    self.remoteTarget = remoteTarget
    self.routeSet = routeSet
    self.isCaller = isCaller
    self.isSecure = isSecure
  }

  /// Why a message cannot create a dialog.
  public struct CreationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
  }

  /// The UAS side (§12.1.1): the dialog a 101–299 response with `localTag` creates for
  /// `request`. Route set from Record-Route in order, remote target from the request's Contact,
  /// remote sequence from its CSeq.
  public static func uas(
    request: SIPMessage, localTag: String, state: DialogState, secureTransport: Bool = false
  ) throws(CreationError) -> Dialog {
    guard let callID = request.callID else { throw CreationError(reason: "no Call-ID") }
    guard let from = request.from, let remoteTag = from.tag else {
      throw CreationError(reason: "no From tag")
    }
    guard let to = request.to else { throw CreationError(reason: "no To") }
    guard let cseq = request.cseq else { throw CreationError(reason: "no CSeq") }
    guard let target = request.contacts.first?.address?.uri else {
      throw CreationError(reason: "a dialog-creating request needs a Contact (§8.1.1.8)")
    }
    var local = to
    local.parameters.removeAll { $0.name.lowercased() == "tag" }
    var remote = from
    remote.parameters.removeAll { $0.name.lowercased() == "tag" }
    return Dialog(
      id: DialogID(callID: callID, localTag: localTag, remoteTag: remoteTag), state: state,
      localSequence: 0, remoteSequence: cseq.sequence, localURI: local, remoteURI: remote,
      remoteTarget: target, routeSet: request.recordRoutes,
      isCaller: false,
      isSecure: secureTransport && request.requestURI?.scheme == "sips")
  }

  /// The UAC side (§12.1.2): the dialog `response` (101–299 with a To tag) creates for the
  /// `request` this end sent. Route set from Record-Route reversed, remote target from the
  /// response's Contact, local sequence from the request's CSeq.
  public static func uac(request: SIPMessage, response: SIPMessage) throws(CreationError) -> Dialog
  {
    guard let id = DialogID(receivedResponse: response) else {
      throw CreationError(reason: "the response has no To tag")
    }
    guard let status = response.status, (101...299).contains(status) else {
      throw CreationError(reason: "only a 101–299 response creates a dialog (§12.1)")
    }
    guard let cseq = request.cseq, let from = request.from, let to = response.to else {
      throw CreationError(reason: "the request has no CSeq, From or To")
    }
    // §12.1.2: "If no Contact ... the remote target" stays the Request-URI (an early dialog
    // from a 1xx without Contact); a 2xx must carry one.
    let target = response.contacts.first?.address?.uri ?? request.requestURI
    guard let target else { throw CreationError(reason: "no remote target") }
    var local = from
    local.parameters.removeAll { $0.name.lowercased() == "tag" }
    var remote = to
    remote.parameters.removeAll { $0.name.lowercased() == "tag" }
    return Dialog(
      id: id, state: status < 200 ? .early : .confirmed, localSequence: cseq.sequence,
      remoteSequence: nil, localURI: local, remoteURI: remote, remoteTarget: target,
      routeSet: response.recordRoutes.reversed(), isCaller: true,
      isSecure: request.requestURI?.scheme == "sips")
  }

  /// A 2xx for this early dialog confirms it; at the UAC the route set is recomputed from the
  /// 2xx (§12.2.1.2) and its Contact becomes the remote target.
  public mutating func confirm(uacResponse response: SIPMessage) {
    state = .confirmed
    routeSet = response.recordRoutes.reversed()
    refreshTarget(from: response)
  }

  /// Target refresh (§12.2): a Contact in a re-INVITE, or in its 2xx, replaces the remote target.
  public mutating func refreshTarget(from message: SIPMessage) {
    if let uri = message.contacts.first?.address?.uri { remoteTarget = uri }
  }

  // MARK: Requests inside the dialog (§12.2.1.1)

  /// A request inside the dialog and the URI it must be sent to (§12.2.1.1, §8.1.2):
  /// To, From with tags, Call-ID, CSeq (the next local number; ACK and CANCEL reuse
  /// `sequence`), and the Request-URI and Route of loose or strict routing. No Via.
  public mutating func makeRequest(method: String, sequence: UInt32? = nil) -> (
    request: SIPMessage, nextHop: SIPURI
  ) {
    let number: UInt32
    if let sequence {
      number = sequence
    } else {
      localSequence += 1
      number = localSequence
    }
    var requestURI = remoteTarget
    var routes = routeSet
    var nextHop = remoteTarget
    if let first = routeSet.first {
      nextHop = first.uri
      if !first.uri.isLooseRouting {
        // §12.2.1.1 strict routing: the first route becomes the Request-URI (without the
        // parameters a Request-URI may not carry) and the remote target goes last.
        requestURI = first.uri
        requestURI.parameters.removeAll { $0.name.lowercased() == "method" }
        requestURI.headers = []
        routes.removeFirst()
        routes.append(NameAddress(uri: remoteTarget))
      }
    }
    var request = SIPMessage.request(method: method, uri: requestURI.description)
    for route in routes { request.append("Route", route) }
    request.append("Max-Forwards", "70")
    var to = remoteURI
    to.parameters.append(SIPParameter("tag", id.remoteTag))
    var from = localURI
    from.parameters.append(SIPParameter("tag", id.localTag))
    request.append("To", to)
    request.append("From", from)
    request.append("Call-ID", id.callID)
    request.append("CSeq", CSeq(number, method))
    return (request, nextHop)
  }

  /// The verdict on a request received inside the dialog (§12.2.2).
  public enum RequestVerdict: Sendable, Hashable {
    case accept
    /// A CSeq lower than the remote sequence number: 500 (§12.2.2).
    case outOfOrder
  }

  /// Checks and records the CSeq of a request received in the dialog (§12.2.2): ACK and CANCEL
  /// do not move the remote sequence; a lower number is out of order; a target refresh updates
  /// the remote target.
  public mutating func receive(request: SIPMessage) -> RequestVerdict {
    guard let cseq = request.cseq, let method = request.method else { return .outOfOrder }
    if method == "ACK" || method == "CANCEL" { return .accept }
    if let remote = remoteSequence, cseq.sequence < remote {
      return .outOfOrder
    }
    remoteSequence = cseq.sequence
    if method == "INVITE" || method == "UPDATE" { refreshTarget(from: request) }
    return .accept
  }
}
