/// The digest algorithms of RFC 2617 and RFC 7616 (RFC 8760 for SIP).
public enum DigestAlgorithm: String, Sendable, CaseIterable {
  case md5 = "MD5"
  case md5Session = "MD5-sess"
  case sha256 = "SHA-256"
  case sha256Session = "SHA-256-sess"

  /// Parses the token case-insensitively; absent means MD5 (RFC 2617 §3.2.1).
  public init?(token: String?) {
    guard let token else {
      self = .md5
      return
    }
    guard let found = Self.allCases.first(where: { $0.rawValue.lowercased() == token.lowercased() })
    else { return nil }
    self = found
  }

  /// Whether HA1 also mixes in the nonce and cnonce (`-sess`).
  public var isSession: Bool { self == .md5Session || self == .sha256Session }

  /// H(data) as lower-case hex.
  public func hex(_ data: [UInt8]) -> String {
    switch self {
    case .md5, .md5Session: return MD5.hex(data)
    case .sha256, .sha256Session: return SHA256.hex(data)
    }
  }

  public func hex(_ text: String) -> String { hex(Array(text.utf8)) }
}

/// A Digest challenge (WWW-Authenticate / Proxy-Authenticate, RFC 3261 §22.1, RFC 2617 §3.2.1).
public struct DigestChallenge: Sendable, Hashable {
  public var realm: String
  public var nonce: String
  public var opaque: String?
  public var algorithm: DigestAlgorithm
  /// The qop values offered (`auth`, `auth-int`); empty for an RFC 2069 challenge.
  public var qopOptions: [String]
  public var stale: Bool
  public var domain: String?

  public init(
    realm: String, nonce: String, opaque: String? = nil, algorithm: DigestAlgorithm = .md5,
    qopOptions: [String] = ["auth"], stale: Bool = false, domain: String? = nil
  ) {
    self.realm = realm
    self.nonce = nonce
    self.opaque = opaque
    self.algorithm = algorithm
    self.qopOptions = qopOptions
    self.stale = stale
    self.domain = domain
  }

  /// Parses a header value such as `Digest realm="atlanta.com", nonce="…", qop="auth"`.
  public init(header value: String) throws(SyntaxError) {
    let auth = try parseWhole(ArraySlice(value.utf8), "the challenge") {
      scanner throws(SyntaxError) in try AuthValue.scan(&scanner)
    }
    guard auth.scheme.lowercased() == "digest" else {
      throw SyntaxError("not a Digest challenge (scheme \(auth.scheme))", offset: 0)
    }
    guard let realm = auth.parameter("realm"), let nonce = auth.parameter("nonce") else {
      throw SyntaxError("a Digest challenge needs realm and nonce", offset: 0)
    }
    guard let algorithm = DigestAlgorithm(token: auth.parameter("algorithm")) else {
      throw SyntaxError("unknown digest algorithm", offset: 0)
    }
    self.init(
      realm: realm, nonce: nonce, opaque: auth.parameter("opaque"), algorithm: algorithm,
      qopOptions: (auth.parameter("qop") ?? "").split(separator: ",").map {
        String($0.filter { $0 != " " && $0 != "\t" })
      }.filter { !$0.isEmpty },
      stale: auth.parameter("stale")?.lowercased() == "true", domain: auth.parameter("domain"))
  }

  /// The header value, parameters in a fixed order.
  public var headerValue: String {
    var parts = ["realm=\"\(realm)\""]
    if let domain { parts.append("domain=\"\(domain)\"") }
    parts.append("nonce=\"\(nonce)\"")
    if let opaque { parts.append("opaque=\"\(opaque)\"") }
    if stale { parts.append("stale=TRUE") }
    parts.append("algorithm=\(algorithm.rawValue)")
    if !qopOptions.isEmpty { parts.append("qop=\"\(qopOptions.joined(separator: ","))\"") }
    return "Digest " + parts.joined(separator: ", ")
  }
}

/// Digest credentials (Authorization / Proxy-Authorization, RFC 3261 §22.2, RFC 2617 §3.2.2).
public struct DigestCredentials: Sendable, Hashable {
  public var username: String
  public var realm: String
  public var nonce: String
  public var uri: String
  public var response: String
  public var algorithm: DigestAlgorithm
  /// Whether the header named the algorithm (an RFC 2069 client may not).
  public var algorithmGiven: Bool
  public var cnonce: String?
  public var opaque: String?
  public var qop: String?
  /// The nonce count: eight hex digits (`00000001`).
  public var nonceCount: String?

  public init(
    username: String, realm: String, nonce: String, uri: String, response: String,
    algorithm: DigestAlgorithm = .md5, algorithmGiven: Bool = true, cnonce: String? = nil,
    opaque: String? = nil, qop: String? = nil, nonceCount: String? = nil
  ) {
    self.username = username
    self.realm = realm
    self.nonce = nonce
    self.uri = uri
    self.response = response
    self.algorithm = algorithm
    self.algorithmGiven = algorithmGiven
    self.cnonce = cnonce
    self.opaque = opaque
    self.qop = qop
    self.nonceCount = nonceCount
  }

  public init(header value: String) throws(SyntaxError) {
    let auth = try parseWhole(ArraySlice(value.utf8), "the credentials") {
      scanner throws(SyntaxError) in try AuthValue.scan(&scanner)
    }
    guard auth.scheme.lowercased() == "digest" else {
      throw SyntaxError("not Digest credentials (scheme \(auth.scheme))", offset: 0)
    }
    guard let username = auth.parameter("username"), let realm = auth.parameter("realm"),
      let nonce = auth.parameter("nonce"), let uri = auth.parameter("uri"),
      let response = auth.parameter("response")
    else {
      throw SyntaxError(
        "Digest credentials need username, realm, nonce, uri and response", offset: 0)
    }
    guard let algorithm = DigestAlgorithm(token: auth.parameter("algorithm")) else {
      throw SyntaxError("unknown digest algorithm", offset: 0)
    }
    self.init(
      username: username, realm: realm, nonce: nonce, uri: uri, response: response,
      algorithm: algorithm, algorithmGiven: auth.parameter("algorithm") != nil,
      cnonce: auth.parameter("cnonce"), opaque: auth.parameter("opaque"),
      qop: auth.parameter("qop"),
      nonceCount: auth.parameter("nc"))
  }

  /// The header value, parameters in the order RFC 2617 prints them.
  public var headerValue: String {
    var parts = [
      "username=\"\(username)\"", "realm=\"\(realm)\"", "nonce=\"\(nonce)\"", "uri=\"\(uri)\"",
      "response=\"\(response)\"",
    ]
    if algorithmGiven { parts.append("algorithm=\(algorithm.rawValue)") }
    if let cnonce { parts.append("cnonce=\"\(cnonce)\"") }
    if let opaque { parts.append("opaque=\"\(opaque)\"") }
    if let qop { parts.append("qop=\(qop)") }
    if let nonceCount { parts.append("nc=\(nonceCount)") }
    return "Digest " + parts.joined(separator: ", ")
  }
}

/// The digest computations (RFC 2617 §3.2.2, RFC 7616 §3.4.1; RFC 3261 §22.4).
public enum Digest {
  /// HA1 = H(username:realm:password), or for `-sess` H(H(username:realm:password):nonce:cnonce).
  public static func ha1(
    algorithm: DigestAlgorithm, username: String, realm: String, password: String, nonce: String,
    cnonce: String?
  ) -> String {
    let base = algorithm.hex("\(username):\(realm):\(password)")
    guard algorithm.isSession else { return base }
    return algorithm.hex("\(base):\(nonce):\(cnonce ?? "")")
  }

  /// HA2 = H(method:uri), or for `auth-int` H(method:uri:H(body)).
  public static func ha2(
    algorithm: DigestAlgorithm, method: String, uri: String, qop: String?, body: [UInt8]
  ) -> String {
    if qop?.lowercased() == "auth-int" {
      return algorithm.hex("\(method):\(uri):\(algorithm.hex(body))")
    }
    return algorithm.hex("\(method):\(uri)")
  }

  /// The request-digest: H(HA1:nonce:nc:cnonce:qop:HA2), or H(HA1:nonce:HA2) without qop.
  public static func response(
    algorithm: DigestAlgorithm, ha1: String, nonce: String, nonceCount: String?, cnonce: String?,
    qop: String?, ha2: String
  ) -> String {
    guard let qop else { return algorithm.hex("\(ha1):\(nonce):\(ha2)") }
    return algorithm.hex("\(ha1):\(nonce):\(nonceCount ?? ""):\(cnonce ?? ""):\(qop):\(ha2)")
  }

  /// What a UAC sends back for `challenge` (§22.2): it picks `auth-int` only if offered and
  /// asked for, else `auth` if offered, else no qop (RFC 2069).
  public static func credentials(
    for challenge: DigestChallenge, method: String, uri: String, username: String,
    password: String, body: [UInt8] = [], cnonce: String, nonceCount: UInt32 = 1,
    preferIntegrity: Bool = false
  ) -> DigestCredentials {
    let offered = challenge.qopOptions.map { $0.lowercased() }
    let qop: String? =
      preferIntegrity && offered.contains("auth-int")
      ? "auth-int"
      : offered.contains("auth") ? "auth" : offered.contains("auth-int") ? "auth-int" : nil
    let nc = qop == nil ? nil : hexCount(nonceCount)
    let usedCnonce = qop == nil && !challenge.algorithm.isSession ? nil : cnonce
    let ha1 = ha1(
      algorithm: challenge.algorithm, username: username, realm: challenge.realm,
      password: password, nonce: challenge.nonce, cnonce: usedCnonce)
    let ha2 = ha2(algorithm: challenge.algorithm, method: method, uri: uri, qop: qop, body: body)
    let response = response(
      algorithm: challenge.algorithm, ha1: ha1, nonce: challenge.nonce, nonceCount: nc,
      cnonce: usedCnonce, qop: qop, ha2: ha2)
    return DigestCredentials(
      username: username, realm: challenge.realm, nonce: challenge.nonce, uri: uri,
      response: response, algorithm: challenge.algorithm, cnonce: usedCnonce,
      opaque: challenge.opaque, qop: qop, nonceCount: nc)
  }

  /// Server side: whether `credentials` prove knowledge of `password` for this request.
  public static func verify(
    _ credentials: DigestCredentials, method: String, password: String, body: [UInt8] = []
  ) -> Bool {
    let ha1 = ha1(
      algorithm: credentials.algorithm, username: credentials.username, realm: credentials.realm,
      password: password, nonce: credentials.nonce, cnonce: credentials.cnonce)
    let ha2 = ha2(
      algorithm: credentials.algorithm, method: method, uri: credentials.uri,
      qop: credentials.qop, body: body)
    let expected = response(
      algorithm: credentials.algorithm, ha1: ha1, nonce: credentials.nonce,
      nonceCount: credentials.nonceCount, cnonce: credentials.cnonce, qop: credentials.qop,
      ha2: ha2)
    return expected == credentials.response.lowercased()
  }

  /// A nonce count as eight lower-case hex digits.
  public static func hexCount(_ count: UInt32) -> String {
    let hex = String(count, radix: 16)
    return String(repeating: "0", count: max(0, 8 - hex.count)) + hex
  }
}
