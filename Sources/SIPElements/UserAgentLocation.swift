import SIPCore
import SIPTransaction
import SIPTransport

/// A request sent outside calls (OPTIONS), kept until its final response.
struct OutsideRequest {
  var request: SIPMessage
  /// Its next hop's RFC 3263 targets; it is on `targets.current`.
  var targets: ServerTargets
  /// Retries after a 401 / 407.
  var retries = 0
  /// A provisional response came: Timer F then fails no server over (RFC 3263 §4.3).
  var answered = false
}

extension UserAgent {
  // MARK: Server location and fail-over (RFC 3263 §4)

  /// The agent's RFC 3263 state, made on first need.
  var locator: LocatorState {
    if let made = book?.locator { return made }
    let made = LocatorState(network: network, element: endpoint.hostName)
    openBook.locator = made
    return made
  }

  /// RFC 3263 §4: the targets of a request whose next hop is `uri` (its first Route, else its
  /// Request-URI). With no SRV or NAPTR record anywhere (and no server out of use), the URI's
  /// direct peer, as before server location: a name goes to its first address, and its
  /// others are looked up only if that fails.
  func targets(for uri: SIPURI) -> ServerTargets {
    if LocatorState.direct(book?.locator, network: network) { return ServerTargets(direct: uri) }
    return locator.targets(for: uri)
  }

  /// Where a request whose next hop is `uri` goes: its first target. Requests inside a dialog
  /// (to the remote target or the route set, §12.2.1.1) resolve the same way (RFC 3263 §4
  /// applies to every request); they are not failed over.
  func peer(for uri: SIPURI) -> SIPPeer {
    if LocatorState.direct(book?.locator, network: network) { return SIPPeer(uri: uri) }
    return locator.targets(for: uri).current
  }

  /// RFC 3263 §4.3: the INVITE's server did not answer (`reason`: `Timer B`, `transport
  /// error`, `503`). First the next target its next hop resolved to, with the same request
  /// (CSeq and all) under a new branch: a new transaction. With none left, the next of
  /// ``UAConfiguration/fallbackProxies``: a new route set, so a new request (CSeq + 1), whose
  /// proxy's URI is resolved afresh and failed over within in turn. False when neither is left.
  func failOver(_ call: Call, reason: String, retryAfter: UInt32? = nil) -> Bool {
    guard var invite = call.invite, !call.cancelWanted else {
      if let retryAfter, let failed = call.invitePeer {
        locator.markUnavailable(failed, for: retryAfter)
      }
      return false
    }
    let failed = call.invitePeer
    var next: SIPPeer?
    if var targets = call.targets {
      // The set is completed before the server is marked (RFC 3261 §21.5.4): a direct peer
      // named by its name is marked by the address the INVITE went to, not by the name.
      next = locator.failOver(
        &targets, reason: reason, method: "INVITE", callID: call.callID, retryAfter: retryAfter)
      call.targets = targets
    } else if let retryAfter, let failed {
      locator.markUnavailable(failed, for: retryAfter)
    }
    if let next {
      call.invitePeer = next
      call.sawProvisional = false
      // A new transaction, in Calling: the last one's Timer C is not its, nor its expiry (the
      // new INVITE's Expires runs from its own sending, as a retry's does: §13.2.1, §20.19).
      cancelTimerC(call)
      cancelTimer(call, Call.expires)
      // A send that fails at once reports its error as the endpoint's next event.
      call.inviteKey = send(invite, to: next)
      armInviteExpiry(call, invite)
      return true
    }
    let index = call.proxyIndex + 1
    let routes = preloadedRoutes(proxy: index)
    guard configuration.outboundProxy != nil, index <= configuration.fallbackProxies.count,
      let first = routes.first
    else { return false }
    call.proxyIndex = index
    log("no answer through the proxy: trying \(first) (RFC 3263 §4.3)")
    invite.remove("Route")
    for route in routes.reversed() { invite.prepend("Route", "<\(route)>") }
    invite.set("CSeq", "\((invite.cseq?.sequence ?? 1) + 1) INVITE")
    sendInvite(invite, call: call)
    if let failed, let next = call.invitePeer {
      locator.recordFailOver(
        from: failed, to: next, reason: reason, method: "INVITE", callID: call.callID,
        via: first)
    }
    return true
  }

  /// RFC 3263 §4.3 for a request outside calls (OPTIONS) whose server answered 503 (with
  /// Retry-After, it is out of use meanwhile, RFC 3261 §21.5.4).
  func failOverOutside(_ callID: String, response: SIPMessage) -> Bool {
    failOverOutside(callID, reason: "503", retryAfter: response.retryAfter?.seconds)
  }

  /// RFC 3263 §4.3 for a request outside calls: the same request with a new branch to the next
  /// target; false when none is left. A 503's `retryAfter` puts the server it came from out of
  /// use (its address, once the set is complete).
  func failOverOutside(_ callID: String, reason: String, retryAfter: UInt32? = nil) -> Bool {
    guard var outside = outsideRequests[callID] else { return false }
    let next = locator.failOver(
      &outside.targets, reason: reason, method: outside.request.method ?? "", callID: callID,
      retryAfter: retryAfter)
    outsideRequests[callID] = outside
    guard let next else { return false }
    outside.answered = false
    outsideRequests[callID] = outside
    send(outside.request, to: next)
    return true
  }
}
