public import SIPCore

/// A UAC's credentials and the challenges it has met (RFC 3261 §22.2, §22.3): it answers a 401
/// or 407, including one a forking proxy merged from several servers (§16.7 step 7), and adds
/// cached credentials to later requests as §22.3 recommends: for every later request with the
/// same Call-ID, and across dialogs for the realms of the UA's own registrar and outbound proxy
/// (`crossDialogRealms`). Pure: the caller passes the client nonce it drew.
public struct CredentialStore: Sendable {
  /// A username and password for a realm (nil: any realm).
  public struct Account: Sendable, Hashable {
    public var username: String
    public var password: String
    public var realm: String?

    public init(username: String, password: String, realm: String? = nil) {
      self.username = username
      self.password = password
      self.realm = realm
    }
  }

  /// A challenge met, kept to authorize later requests.
  struct Cached: Sendable {
    var challenge: DigestChallenge
    var isProxy: Bool
    var callID: String
    var nonceCount: UInt32
  }

  public var accounts: [Account]
  /// Realms whose credentials may be reused in new dialogs (the UA's registrar and outbound
  /// proxy, §22.3); others are reused only within the Call-ID that met them.
  public var crossDialogRealms: [String]
  var cached: [Cached] = []

  public init(accounts: [Account], crossDialogRealms: [String] = []) {
    self.accounts = accounts
    self.crossDialogRealms = crossDialogRealms
  }

  func account(for realm: String) -> Account? {
    accounts.first { $0.realm == realm } ?? accounts.first { $0.realm == nil }
  }

  /// The request to resend for `challenge` (a 401 or 407 to `request`), carrying a credential
  /// for every challenge it can answer and fresh ones (next nonce count) for the realms it
  /// already authenticated to in this Call-ID; nil when it can answer none. A realm whose
  /// credentials the request already carried is not answered again unless the challenge says
  /// `stale=true`: the server refused them (§22.1). The caller sets the new CSeq.
  public mutating func answer(_ challenge: SIPMessage, to request: SIPMessage, cnonce: String)
    -> SIPMessage?
  {
    guard let callID = request.callID else { return nil }
    var answered = 0
    for (header, credentialHeader, isProxy) in [
      ("www-authenticate", "authorization", false),
      ("proxy-authenticate", "proxy-authorization", true),
    ] {
      let previous = request.values(credentialHeader).compactMap {
        try? DigestCredentials(header: $0)
      }
      for value in challenge.values(header) {
        guard let digest = try? DigestChallenge(header: value),
          account(for: digest.realm) != nil
        else { continue }
        cached.removeAll { $0.challenge.realm == digest.realm && $0.isProxy == isProxy }
        if previous.contains(where: { $0.realm == digest.realm }) && !digest.stale {
          continue  // Refused: do not try the same password again.
        }
        cached.append(Cached(challenge: digest, isProxy: isProxy, callID: callID, nonceCount: 0))
        answered += 1
      }
    }
    guard answered > 0 else { return nil }
    var retry = request
    retry.headers.removeAll { $0.isNamed("authorization") || $0.isNamed("proxy-authorization") }
    authorize(&retry, cnonce: cnonce)
    return retry
  }

  /// Adds the credentials of cached challenges that apply to `request` (same Call-ID, or a
  /// cross-dialog realm) and that it does not carry yet, each with the next nonce count.
  public mutating func authorize(_ request: inout SIPMessage, cnonce: String) {
    guard let callID = request.callID, request.method != "ACK", request.method != "CANCEL"
    else { return }
    for index in cached.indices {
      let entry = cached[index]
      guard entry.callID == callID || crossDialogRealms.contains(entry.challenge.realm),
        let account = account(for: entry.challenge.realm)
      else { continue }
      let header = entry.isProxy ? "Proxy-Authorization" : "Authorization"
      let present = request.values(header).compactMap { try? DigestCredentials(header: $0) }
      if present.contains(where: { $0.realm == entry.challenge.realm }) { continue }
      add(header, for: index, account: account, to: &request, cnonce: cnonce)
    }
  }

  mutating func add(
    _ header: String, for index: Int, account: Account, to request: inout SIPMessage,
    cnonce: String
  ) {
    cached[index].nonceCount += 1
    let credentials = Digest.credentials(
      for: cached[index].challenge, method: request.method ?? "",
      uri: request.requestURIText ?? "", username: account.username,
      password: account.password, body: request.body, cnonce: cnonce,
      nonceCount: cached[index].nonceCount)
    request.insertBeforeLength(header, credentials.headerValue)
  }

  /// Forgets challenges met in `callID` that may not outlive it (§22.3).
  public mutating func forget(callID: String) {
    cached.removeAll { $0.callID == callID && !crossDialogRealms.contains($0.challenge.realm) }
  }

  /// Challenges remembered.
  public var cachedChallenges: Int { cached.count }
}
