public import SIPCore

/// The server side of Digest authentication (RFC 3261 §22, RFC 2617, RFC 7616): it issues
/// challenges with nonces drawn from the caller's seeded source, remembers when each nonce was
/// issued and the highest nonce count seen with it, and judges credentials. A registrar or UAS
/// puts its challenges in 401 / WWW-Authenticate (§22.2), a proxy in 407 / Proxy-Authenticate
/// (§22.3). Pure: time and randomness come in as arguments.
public struct DigestServer: Sendable {
  /// The protection domain (§22.1): credentials for another realm are not this server's to
  /// consume (§22.3).
  public var realm: String
  /// Passwords by username.
  public var users: [String: String]
  /// How long a nonce is good for; older ones are answered with `stale=true`.
  public var nonceLifetime: Duration
  public var algorithm: DigestAlgorithm
  /// The qop values offered; with `auth` the nonce count makes a replay detectable.
  public var qopOptions: [String]

  struct NonceRecord: Sendable {
    var issuedAt: Duration
    /// The highest nonce count accepted with this nonce (0 before the first).
    var highestCount: UInt32
  }
  var nonces: [String: NonceRecord] = [:]
  /// Expired nonces are swept when the table has doubled since the last sweep, so issuing and
  /// checking stay O(1) amortized however many clients there are.
  var sweepAt = 64

  public init(
    realm: String, users: [String: String], nonceLifetime: Duration = .seconds(300),
    algorithm: DigestAlgorithm = .md5, qopOptions: [String] = ["auth"]
  ) {
    self.realm = realm
    self.users = users
    self.nonceLifetime = nonceLifetime
    self.algorithm = algorithm
    self.qopOptions = qopOptions
  }

  /// What the server makes of a request's credentials.
  public enum Verdict: Sendable, Hashable, CustomStringConvertible {
    /// Valid credentials for `user` with a fresh nonce.
    case authorized(user: String)
    /// No credentials for this realm: challenge.
    case missing
    /// The right password with an expired or forgotten nonce: challenge with `stale=true`,
    /// and the client retries without asking its user (RFC 2617 §3.2.1).
    case stale
    /// Credentials that do not prove the password, name an unknown user, another Request-URI,
    /// or repeat a nonce count already used (a replay): challenge again.
    case rejected(reason: String)

    public var description: String {
      switch self {
      case .authorized(let user): "authorized \(user)"
      case .missing: "no credentials"
      case .stale: "stale nonce"
      case .rejected(let reason): "rejected: \(reason)"
      }
    }
  }

  /// A fresh challenge; `random` is a draw from the element's seeded source.
  public mutating func challenge(at now: Duration, random: UInt64, stale: Bool = false)
    -> DigestChallenge
  {
    let hex = String(random, radix: 16)
    let nonce = String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    if nonces.count >= sweepAt {
      forgetExpired(at: now)
      sweepAt = max(64, 2 * nonces.count)
    }
    nonces[nonce] = NonceRecord(issuedAt: now, highestCount: 0)
    return DigestChallenge(
      realm: realm, nonce: nonce, algorithm: algorithm, qopOptions: qopOptions, stale: stale)
  }

  /// Judges the credentials for this realm in `request`'s `header` (`Authorization` or
  /// `Proxy-Authorization`) at `now`, and records the nonce count of valid ones.
  public mutating func verify(_ request: SIPMessage, header: String, at now: Duration) -> Verdict {
    let mine = request.values(header).compactMap { try? DigestCredentials(header: $0) }
      .filter { $0.realm == realm }
    guard let credentials = mine.first else { return .missing }
    guard let password = users[credentials.username] else {
      return .rejected(reason: "unknown user \(credentials.username)")
    }
    guard credentials.uri == request.requestURIText else {
      return .rejected(reason: "digest uri \(credentials.uri) is not the Request-URI")
    }
    guard
      Digest.verify(
        credentials, method: request.method ?? "", password: password, body: request.body)
    else {
      return .rejected(reason: "wrong response for \(credentials.username)")
    }
    guard var record = nonces[credentials.nonce] else { return .stale }
    guard now - record.issuedAt < nonceLifetime else {
      nonces[credentials.nonce] = nil
      return .stale
    }
    if credentials.qop != nil {
      guard let text = credentials.nonceCount, let count = UInt32(text, radix: 16) else {
        return .rejected(reason: "qop without a nonce count")
      }
      guard count > record.highestCount else {
        return .rejected(reason: "nonce count \(text) already used (replay)")
      }
      record.highestCount = count
      nonces[credentials.nonce] = record
    }
    return .authorized(user: credentials.username)
  }

  /// Drops nonces older than their lifetime: credentials with them are then `stale`.
  public mutating func forgetExpired(at now: Duration) {
    nonces = nonces.filter { now - $0.value.issuedAt < nonceLifetime }
  }

  /// Nonces still remembered (expired ones linger until a sweep or their next use).
  public var liveNonces: Int { nonces.count }
}
