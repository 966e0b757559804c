import SIPCore
import SIPDialog
import SIPServers
import Testing

@Suite struct DigestServerTests {
  func signed(
    _ request: SIPMessage, _ challenge: DigestChallenge, password: String = "zanzibar",
    nc: UInt32 = 1
  )
    -> SIPMessage
  {
    var signed = request
    let credentials = Digest.credentials(
      for: challenge, method: request.method ?? "", uri: request.requestURIText ?? "",
      username: "bob", password: password, cnonce: "0a4f113b", nonceCount: nc)
    signed.insertBeforeLength("Authorization", credentials.headerValue)
    return signed
  }

  @Test func verdicts() throws {
    var server = DigestServer(
      realm: "biloxi.example.com", users: ["bob": "zanzibar"], nonceLifetime: .seconds(30))
    let request = try register(["Contact: <sip:bob@192.0.2.4>"])
    #expect(server.verify(request, header: "Authorization", at: .zero) == .missing)
    let challenge = server.challenge(at: .zero, random: 0xfeed)
    #expect(challenge.nonce == "000000000000feed" && challenge.qopOptions == ["auth"])
    #expect(
      server.verify(signed(request, challenge), header: "Authorization", at: .seconds(1))
        == .authorized(user: "bob"))
    // The same nonce count again is a replay; the next one is fine.
    if case .rejected(let reason) = server.verify(
      signed(request, challenge), header: "Authorization", at: .seconds(2))
    {
      #expect(reason.contains("replay"))
    } else {
      Issue.record("a replayed nonce count was accepted")
    }
    #expect(
      server.verify(signed(request, challenge, nc: 2), header: "Authorization", at: .seconds(2))
        == .authorized(user: "bob"))
    // A wrong password is rejected; after the lifetime the right one is stale.
    if case .rejected = server.verify(
      signed(request, challenge, password: "x", nc: 3), header: "Authorization", at: .seconds(3))
    {
    } else {
      Issue.record("a wrong password was accepted")
    }
    #expect(
      server.verify(signed(request, challenge, nc: 4), header: "Authorization", at: .seconds(30))
        == .stale)
    #expect(server.liveNonces == 0)
    // Credentials for another realm are not this server's.
    var other = challenge
    other.realm = "atlanta.example.com"
    #expect(server.verify(signed(request, other), header: "Authorization", at: .zero) == .missing)
  }

  @Test func theDigestURIMustBeTheRequestURI() throws {
    var server = DigestServer(realm: "biloxi.example.com", users: ["bob": "zanzibar"])
    let challenge = server.challenge(at: .zero, random: 1)
    var moved = signed(try register([]), challenge)
    moved.startLine = .request(
      method: "REGISTER", uri: "sip:elsewhere.example.com", version: "SIP/2.0")
    guard case .rejected = server.verify(moved, header: "Authorization", at: .zero) else {
      Issue.record("credentials for another URI were accepted")
      return
    }
  }
}

@Suite struct CredentialStoreTests {
  func challenged(_ request: SIPMessage, _ headers: [String], status: Int = 407) -> SIPMessage {
    response(status, to: request, headers)
  }

  @Test func answersMergedChallengesAndKeepsEarlierCredentials() throws {
    var store = CredentialStore(accounts: [
      .init(username: "alice", password: "a1", realm: "atlanta.example.com"),
      .init(username: "alice", password: "b2", realm: "biloxi.example.com"),
    ])
    let request = try invite()
    let answer1 = store.answer(
      challenged(
        request,
        ["Proxy-Authenticate: Digest realm=\"atlanta.example.com\", nonce=\"n1\", qop=\"auth\""]),
      to: request, cnonce: "c1")
    let first = try #require(answer1)
    #expect(first.values("proxy-authorization").count == 1)
    // The second proxy challenges too (RFC 3665 §3.3): both credentials go in the retry.
    let answer2 = store.answer(
      challenged(
        first,
        ["Proxy-Authenticate: Digest realm=\"biloxi.example.com\", nonce=\"n2\", qop=\"auth\""]),
      to: first, cnonce: "c2")
    let second = try #require(answer2)
    let realms = second.values("proxy-authorization").compactMap {
      try? DigestCredentials(header: $0)
    }
    .map(\.realm)
    #expect(realms == ["atlanta.example.com", "biloxi.example.com"])
    // The same challenge again means the password was wrong: no retry (§22.1).
    #expect(
      store.answer(
        challenged(
          second,
          ["Proxy-Authenticate: Digest realm=\"biloxi.example.com\", nonce=\"n2\", qop=\"auth\""]),
        to: second, cnonce: "c3") == nil)
    // Unless the nonce was stale.
    #expect(
      store.answer(
        challenged(
          second,
          [
            "Proxy-Authenticate: Digest realm=\"biloxi.example.com\", nonce=\"n2\", stale=true, qop=\"auth\""
          ]),
        to: second, cnonce: "c3") != nil)
    // An unknown realm cannot be answered.
    #expect(
      store.answer(
        challenged(
          request, ["Proxy-Authenticate: Digest realm=\"chicago.example.com\", nonce=\"n\""]),
        to: request, cnonce: "c") == nil)
  }

  @Test func cachedCredentialsFollowTheCallIDOrACrossDialogRealm() throws {
    var store = CredentialStore(
      accounts: [.init(username: "bob", password: "zanzibar")],
      crossDialogRealms: ["biloxi.example.com"])
    let first = try register(["Contact: <sip:bob@192.0.2.4>"])
    let answer = store.answer(
      challenged(
        first, ["WWW-Authenticate: Digest realm=\"biloxi.example.com\", nonce=\"n\", qop=\"auth\""],
        status: 401),
      to: first, cnonce: "c")
    let retry = try #require(answer)
    #expect(
      (try DigestCredentials(header: retry.values("authorization")[0])).nonceCount == "00000001")
    // A refresh (same Call-ID) and a REGISTER with another Call-ID both get nc 2 and 3.
    var refresh = try register(cseq: 3, ["Contact: <sip:bob@192.0.2.4>"])
    store.authorize(&refresh, cnonce: "d")
    #expect(
      (try DigestCredentials(header: refresh.values("authorization")[0])).nonceCount == "00000002")
    var other = try register(callID: "other", ["Contact: <sip:bob@192.0.2.4>"])
    store.authorize(&other, cnonce: "e")
    #expect(
      (try DigestCredentials(header: other.values("authorization")[0])).nonceCount == "00000003")
    // A proxy realm met in one call is not reused in another.
    let call = try invite()
    _ = store.answer(
      challenged(call, ["Proxy-Authenticate: Digest realm=\"atlanta.example.com\", nonce=\"p\""]),
      to: call, cnonce: "f")
    var next = try invite()
    next.set("Call-ID", "another-call")
    store.authorize(&next, cnonce: "g")
    #expect(next.values("proxy-authorization").isEmpty)
    store.forget(callID: call.callID ?? "")
    #expect(store.cachedChallenges == 1)
  }
}
