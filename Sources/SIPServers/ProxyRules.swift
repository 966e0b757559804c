public import SIPCore
public import SIPDialog

/// The request-side rules of a proxy (RFC 3261 §16.3, §16.4, §16.6, §16.11) as pure functions
/// over messages. The proxy actors call them; the response side is ``ResponseContext``.
public enum ProxyRules {
  /// §16.3: whether the proxy may forward `request`, else the response that refuses it, in the
  /// RFC's order: the Request-URI scheme (416), Max-Forwards (483), a loop (482), Proxy-Require
  /// (420 with Unsupported). Syntax (step 1) was the parser's.
  ///
  /// - Parameters:
  ///   - ownVias: the `host:port` sent-by values this proxy puts in its Vias.
  ///   - extensions: option tags the proxy supports.
  public static func validate(
    _ request: SIPMessage, ownVias: [String], extensions: [String] = []
  ) -> Rejection? {
    validate(request, requestURI: request.requestURI, ownVias: ownVias, extensions: extensions)
  }

  /// ``validate(_:ownVias:extensions:)`` with the Request-URI already parsed (`request`'s, nil
  /// when it has none or it is malformed): a proxy reads it once for validation, route
  /// pre-processing and its targets (three parses of it were ~5,000 instructions a request).
  public static func validate(
    _ request: SIPMessage, requestURI: SIPURI?, ownVias: [String], extensions: [String] = []
  ) -> Rejection? {
    guard let uri = requestURI, uri.scheme == "sip" || uri.scheme == "sips" else {
      return Rejection(416, "Unsupported URI Scheme")
    }
    if let maxForwards = request.maxForwards, maxForwards <= 0 {
      return Rejection(483, "Too Many Hops")
    }
    // Step 4: a Via of ours whose loop hash equals this request's is a loop, not a spiral.
    // The hash only when a Via of ours is there (a request straight from a UA has none).
    // A Via's host is a run of its field's bytes: when no Via field holds one of our hosts, no
    // Via is ours, and the Vias need not be parsed (a request straight from a UA).
    guard mayHoldOwnVia(request, ownVias) else { return proxyRequire(request, extensions) }
    var hash: String?
    for via in request.vias where ownVias.contains("\(via.host):\(via.port ?? 5060)") {
      let ours = hash ?? loopHash(request)
      hash = ours
      if let branch = via.branch, branch.hasSuffix("-\(ours)"), request.method != "ACK",
        request.method != "CANCEL"
      {
        return Rejection(482, "Loop Detected")
      }
    }
    return proxyRequire(request, extensions)
  }

  /// Step 3: a Proxy-Require naming an extension this proxy does not support.
  static func proxyRequire(_ request: SIPMessage, _ extensions: [String]) -> Rejection? {
    let unsupported = request.proxyRequire.filter { !extensions.contains($0) }
    if !unsupported.isEmpty {
      return Rejection(
        420, "Bad Extension",
        headers: [SIPParameter("Unsupported", unsupported.joined(separator: ", "))])
    }
    return nil
  }

  /// Whether some Via field's bytes hold the host of one of `ownVias` (`host:port`). Searched
  /// in place (every request a proxy forwards asks, and a byte array per own Via and a slice
  /// compared through its bounds checks per field were 5,000 instructions a request).
  static func mayHoldOwnVia(_ request: SIPMessage, _ ownVias: [String]) -> Bool {
    let headers = request.headers
    for own in ownVias {
      var own = own
      let found = own.withUTF8 { own -> Bool in
        var hostEnd = own.count
        while hostEnd > 0, own[hostEnd - 1] != UInt8(ascii: ":") { hostEnd -= 1 }
        // No colon: the whole text is the host.
        let host = UnsafeBufferPointer(rebasing: own[..<(hostEnd > 0 ? hostEnd - 1 : own.count)])
        guard !host.isEmpty else { return true }
        for index in headers.indices where headers[index].known == .via {
          if headers[index].valueContains(host) { return true }
        }
        return false
      }
      if found { return true }
    }
    return false
  }

  /// §16.4: route information pre-processing. When the Request-URI is a value this proxy put in
  /// a Record-Route (the previous hop was a strict router), the last Route becomes the
  /// Request-URI; then a first Route naming this proxy is removed.
  public static func preprocessRoutes(_ request: inout SIPMessage, isOwn: (SIPURI) -> Bool) {
    var uri = request.requestURI
    preprocessRoutes(&request, requestURI: &uri, isOwn: isOwn)
  }

  /// ``preprocessRoutes(_:isOwn:)`` with the Request-URI already parsed (`request`'s, nil when
  /// it has none or it is malformed), kept in step: when the last Route becomes the
  /// Request-URI, `requestURI` becomes that Route's URI.
  public static func preprocessRoutes(
    _ request: inout SIPMessage, requestURI: inout SIPURI?, isOwn: (SIPURI) -> Bool
  ) {
    if let uri = requestURI, isOwn(uri) {
      let routes = request.routes
      if let last = routes.last {
        request.startLine = .request(
          method: request.method ?? "", uri: last.uri.description, version: "SIP/2.0")
        setRoutes(&request, Array(routes.dropLast()))
        requestURI = last.uri
      }
    }
    // Only the first Route is parsed, and only it is removed: the others keep their bytes.
    if let first = request.firstRoute, isOwn(first.uri) {
      request.removeFirstValue(of: "route")
    }
  }

  /// §16.6 steps 1–7: the copy of `request` sent to `target` and where it goes first. The
  /// Request-URI becomes the target, Max-Forwards is decremented (70 when absent), this proxy's
  /// Record-Route (with `lr`) is put on top when given, a strict-routing next hop gets the
  /// Request-URI moved to the end of the route set (step 6); the next hop is the first Route,
  /// else the Request-URI (step 7). The caller adds its Via (step 8) and sends.
  public static func forward(
    _ request: SIPMessage, to target: SIPURI, recordRoute: SIPURI? = nil
  ) -> (request: SIPMessage, nextHop: SIPURI) {
    var copy = request
    copy.startLine = .request(
      method: request.method ?? "", uri: target.description, version: "SIP/2.0")
    let maxForwards = request.maxForwards.map { max(0, $0 - 1) } ?? 70
    if copy.value("max-forwards") != nil {
      copy.set("Max-Forwards", "\(maxForwards)")
    } else {
      copy.prepend("Max-Forwards", "\(maxForwards)")
    }
    if var recordRoute {
      if !recordRoute.isLooseRouting { recordRoute.parameters.append(SIPParameter("lr")) }
      copy.prepend("Record-Route", "<\(recordRoute)>")
    }
    var routes = copy.routes
    if let first = routes.first, !first.uri.isLooseRouting {
      // Step 6: the next hop is a strict router: it gets the Request-URI it expects.
      routes.append(NameAddress(uri: target))
      routes.removeFirst()
      copy.startLine = .request(
        method: request.method ?? "", uri: first.uri.description, version: "SIP/2.0")
      setRoutes(&copy, routes)
      return (copy, first.uri)
    }
    return (copy, routes.first?.uri ?? target)
  }

  /// Replaces the Route fields with `routes`, one field each, where the first Route was.
  static func setRoutes(_ request: inout SIPMessage, _ routes: [NameAddress]) {
    let position = request.headers.firstIndex { $0.known == .route }
    request.remove("Route")
    let fields = routes.map { SIPHeaderField(name: "Route", value: $0.description) }
    if let position, position <= request.headers.count {
      request.headers.insert(contentsOf: fields, at: position)
    } else {
      for field in fields { request.insertBeforeLength(field.name, field.value) }
    }
  }

  /// §16.6 step 8: the loop-detection part of a proxy's branch, a hash of the fields that make a
  /// request what it is (To tag, From tag, Call-ID, CSeq number, Request-URI, Proxy-Require,
  /// Proxy-Authorization). A request that comes back with the same hash has looped; one whose
  /// Request-URI changed has spiralled (§16.3 step 4). The top Via the RFC's example also hashes
  /// is left out: a request that loops comes back with another hop's Via on top, so with it no
  /// loop would ever match. Route, which §16.6 also names, is not hashed yet.
  public static func loopHash(_ request: SIPMessage) -> String {
    var hash = StableHash()
    hash.add(request.toTag ?? "")
    hash.add(request.fromTag ?? "")
    hash.add(request.callID ?? "")
    hash.add("\(request.cseq?.sequence ?? 0)")
    hash.add(request.requestURIText ?? "")
    hash.add(request.values("proxy-require").joined(separator: ","))
    hash.add(request.values("proxy-authorization").joined(separator: ","))
    return hash.hex
  }

  /// §16.11: a stateless proxy's branch, the same for every retransmission of a request and
  /// for the CANCEL and non-2xx ACK that share its top Via branch, different for every other
  /// transaction: a hash of the incoming top Via (with its branch), or, for a request without
  /// the magic cookie (RFC 2543), of the fields §17.2.3 matches on.
  public static func statelessBranch(_ request: SIPMessage) -> String {
    var hash = StableHash()
    if let via = request.topVia, via.hasMagicCookie, let branch = via.branch {
      hash.add(branch)
      hash.add("\(via.host):\(via.port ?? 5060)")
    } else {
      hash.add(request.requestURIText ?? "")
      hash.add(request.toTag ?? "")
      hash.add(request.fromTag ?? "")
      hash.add(request.callID ?? "")
      hash.add("\(request.cseq?.sequence ?? 0)")
      hash.add(request.topVia?.description ?? "")
    }
    return "z9hG4bK" + hash.hex
  }
}

/// FNV-1a, 64 bits: the same value on every run and machine, unlike `Hasher` (seeded per
/// process), which the determinism contract keeps out of anything observable.
public struct StableHash: Sendable {
  var value: UInt64 = fnv1aBasis

  public init() {}

  public mutating func add(_ text: String) {
    value = fnv1aPart(text, continuing: value)
  }

  /// Sixteen lower-case hex digits.
  public var hex: String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: 16 - text.count) + text
  }
}
