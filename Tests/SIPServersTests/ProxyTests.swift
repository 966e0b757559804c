import SIPCore
import SIPDialog
import SIPServers
import Testing

func invite(_ extra: [String] = [], uri: String = "sip:bob@biloxi.example.com") throws -> SIPMessage
{
  try message(
    """
    INVITE \(uri) SIP/2.0
    Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKnashds8
    Max-Forwards: 70
    To: Bob <sip:bob@biloxi.example.com>
    From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
    Call-ID: 3848276298220188511@atlanta.example.com
    CSeq: 1 INVITE
    \(extra.joined(separator: "\n"))
    Contact: <sip:alice@192.0.2.101>
    Content-Length: 0


    """)
}

func response(_ status: Int, to request: SIPMessage, _ extra: [String] = []) -> SIPMessage {
  var response = request.response(status: status, toTag: "to\(status)")
  for line in extra {
    let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
    response.insertBeforeLength(parts[0], parts[1].trimmingPrefix(" ").description)
  }
  return response
}

@Suite struct ProxyRulesTests {
  /// §16.3, one row per check, in the RFC's order.
  @Test(arguments: [
    ([String](), "sip:bob@biloxi.example.com", nil as Int?),
    (["Proxy-Require: foo"], "sip:bob@biloxi.example.com", 420),
    ([], "tel:+15551234", 416),
    (["Max-Forwards: 0"], "sip:bob@biloxi.example.com", 483),
  ])
  func validation(extra: [String], uri: String, status: Int?) throws {
    var request = try invite(extra, uri: uri)
    if extra.contains("Max-Forwards: 0") {
      request.set("Max-Forwards", "0")
    }
    let verdict = ProxyRules.validate(request, ownVias: ["192.0.2.10:5060"])
    #expect(verdict?.status == status)
    if status == 420 { #expect(verdict?.headers == [SIPParameter("Unsupported", "foo")]) }
  }

  @Test func aLoopIsDetectedAndASpiralIsNot() throws {
    let request = try invite()
    let hash = ProxyRules.loopHash(request)
    var looped = request
    looped.prepend("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc-\(hash)")
    #expect(ProxyRules.validate(looped, ownVias: ["192.0.2.10:5060"])?.status == 482)
    // The same request, retargeted (a spiral): another hash.
    var spiral = looped
    spiral.startLine = .request(method: "INVITE", uri: "sip:bob@192.0.2.4", version: "SIP/2.0")
    #expect(ProxyRules.validate(spiral, ownVias: ["192.0.2.10:5060"]) == nil)
    // Another proxy's Via with the same hash is not ours.
    #expect(ProxyRules.validate(looped, ownVias: ["192.0.2.11:5060"]) == nil)
    // Our host on another port is not our Via either; our address elsewhere than in a Via
    // (the Contact) is no loop.
    #expect(ProxyRules.validate(looped, ownVias: ["192.0.2.10:5070"]) == nil)
    #expect(ProxyRules.validate(request, ownVias: ["192.0.2.101:5070"]) == nil)
    // Our Via in a second Via field, after another value in a comma-separated first one.
    var deep = request
    deep.prepend("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc-\(hash)")
    deep.prepend("Via", "SIP/2.0/UDP 192.0.2.30;branch=z9hG4bK1, SIP/2.0/UDP 192.0.2.31")
    #expect(ProxyRules.validate(deep, ownVias: ["192.0.2.10:5060"])?.status == 482)
    // Proxy-Require is still checked when no Via is ours.
    var required = request
    required.append("Proxy-Require", "foo")
    #expect(ProxyRules.validate(required, ownVias: ["192.0.2.10:5060"])?.status == 420)
  }

  @Test func routePreprocessingRemovesOwnRouteAndUndoesStrictRouting() throws {
    let own = { (uri: SIPURI) in uri.host == "p1.example.com" }
    var loose = try invite(["Route: <sip:p1.example.com;lr>", "Route: <sip:p2.example.com;lr>"])
    ProxyRules.preprocessRoutes(&loose, isOwn: own)
    #expect(loose.values("route") == ["<sip:p2.example.com;lr>"])
    #expect(loose.requestURIText == "sip:bob@biloxi.example.com")
    // A strict router before us put our Record-Route in the Request-URI and the target last.
    var strict = try invite(["Route: <sip:bob@192.0.2.4>"], uri: "sip:p1.example.com;lr")
    ProxyRules.preprocessRoutes(&strict, isOwn: own)
    #expect(strict.requestURIText == "sip:bob@192.0.2.4")
    #expect(strict.values("route").isEmpty)
    // With the Request-URI passed parsed (a proxy parses it once), it follows the change.
    var strictToo = try invite(["Route: <sip:bob@192.0.2.4>"], uri: "sip:p1.example.com;lr")
    var parsed = strictToo.requestURI
    ProxyRules.preprocessRoutes(&strictToo, requestURI: &parsed, isOwn: own)
    #expect(strictToo == strict)
    #expect(parsed == strict.requestURI && parsed?.host == "192.0.2.4")
    var looseToo = try invite(["Route: <sip:p1.example.com;lr>"])
    var unchanged = looseToo.requestURI
    ProxyRules.preprocessRoutes(&looseToo, requestURI: &unchanged, isOwn: own)
    #expect(unchanged == looseToo.requestURI)
    // Our Route first in a comma-separated field: only it goes; the others keep their bytes
    // and place, even one that does not parse (§16.4 looks at the first alone).
    var listed = try invite([
      "Route: <sip:p1.example.com;lr> ,  <sip:P2.example.com;lr;x=1>", "Route: <bad",
    ])
    #expect(listed.firstRoute?.uri.host == "p1.example.com")
    ProxyRules.preprocessRoutes(&listed, isOwn: own)
    #expect(listed.fields("route").map(\.value) == ["<sip:P2.example.com;lr;x=1>", "<bad"])
    #expect(listed.firstRoute?.uri.host == "P2.example.com")
    // A first Route that is not ours, or none at all, changes nothing.
    let before = listed
    ProxyRules.preprocessRoutes(&listed, isOwn: own)
    #expect(listed == before)
    var bare = try invite()
    #expect(bare.firstRoute == nil)
    ProxyRules.preprocessRoutes(&bare, isOwn: own)
    #expect(bare == (try invite()))
  }

  @Test func forwardingRetargetsDecrementsRecordRoutesAndPicksTheNextHop() throws {
    let (request, hop) = ProxyRules.forward(
      try invite(["Route: <sip:p2.example.com;lr>"]), to: try SIPURI("sip:bob@192.0.2.4"),
      recordRoute: try SIPURI("sip:192.0.2.10:5060"))
    #expect(request.requestURIText == "sip:bob@192.0.2.4")
    #expect(request.maxForwards == 69)
    #expect(request.values("record-route") == ["<sip:192.0.2.10:5060;lr>"])
    #expect(hop.host == "p2.example.com")
    // A strict next hop gets the Request-URI it expects (§16.6 step 6).
    let (strict, strictHop) = ProxyRules.forward(
      try invite(["Route: <sip:p2.example.com>"]), to: try SIPURI("sip:bob@192.0.2.4"))
    #expect(strict.requestURIText == "sip:p2.example.com")
    #expect(strict.values("route") == ["<sip:bob@192.0.2.4>"])
    #expect(strictHop.host == "p2.example.com")
    // Without Route the target is the next hop.
    let (_, direct) = ProxyRules.forward(try invite(), to: try SIPURI("sip:bob@192.0.2.4"))
    #expect(direct.host == "192.0.2.4")
  }

  @Test func statelessBranchesFollowTheIncomingTransaction() throws {
    let request = try invite()
    var cancel = request
    cancel.startLine = .request(
      method: "CANCEL", uri: "sip:bob@biloxi.example.com", version: "SIP/2.0")
    var ackFor2xx = request
    ackFor2xx.removeTopVia()
    ackFor2xx.prepend("Via", "SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKother")
    #expect(ProxyRules.statelessBranch(request) == ProxyRules.statelessBranch(request))
    #expect(ProxyRules.statelessBranch(request) == ProxyRules.statelessBranch(cancel))
    #expect(ProxyRules.statelessBranch(request) != ProxyRules.statelessBranch(ackFor2xx))
    #expect(ProxyRules.statelessBranch(request).hasPrefix("z9hG4bK"))
  }
}

@Suite struct ResponseContextTests {
  func targets(_ qs: [Double]) -> [(uri: SIPURI, q: Double)] {
    qs.enumerated().map { (SIPURI(user: "bob", host: "192.0.2.\($0.offset + 1)"), $0.element) }
  }

  /// §16.7 best-response rules: the finals each branch brings → the status sent upstream.
  @Test(arguments: [
    ([486, 404], 486),
    ([486, 302], 302),
    ([503, 503], 500),
    ([486, 603, 404], 603),
    ([408, 480, 401], 401),
    ([480, 407], 407),
    ([500, 415], 415),
    ([408], 408),
  ])
  func bestResponse(statuses: [Int], expected: Int) throws {
    let request = try invite()
    var context = ResponseContext(
      targets: targets(statuses.map { _ in 1 }), mode: .parallel, isInvite: true)
    #expect(context.start() == statuses.indices.map { .start(branch: $0) })
    var forwarded: [Int] = []
    for (index, status) in statuses.enumerated() {
      for action in context.receive(response(status, to: request), branch: index) {
        if case .forward(let response) = action { forwarded.append(response.status ?? 0) }
      }
    }
    #expect(forwarded == [expected])
    #expect(context.isComplete)
  }

  @Test func challengesFromEveryBranchAreMerged() throws {
    let request = try invite()
    var context = ResponseContext(targets: targets([1, 1, 1]), mode: .parallel, isInvite: true)
    _ = context.start()
    _ = context.receive(
      response(401, to: request, ["WWW-Authenticate: Digest realm=\"a\", nonce=\"1\""]), branch: 0)
    _ = context.receive(
      response(407, to: request, ["Proxy-Authenticate: Digest realm=\"b\", nonce=\"2\""]),
      branch: 1)
    let actions = context.receive(response(486, to: request), branch: 2)
    guard case .forward(let merged) = try #require(actions.first) else {
      Issue.record("expected a forward")
      return
    }
    #expect(merged.status == 401)
    #expect(merged.values("www-authenticate") == ["Digest realm=\"a\", nonce=\"1\""])
    #expect(merged.values("proxy-authenticate") == ["Digest realm=\"b\", nonce=\"2\""])
  }

  @Test func aSuccessGoesUpAtOnceAndCancelsTheOthers() throws {
    let request = try invite()
    var context = ResponseContext(targets: targets([1, 1, 1]), mode: .parallel, isInvite: true)
    _ = context.start()
    // Branch 0 rings, branch 1 has sent nothing yet: only 0 can be cancelled now.
    #expect(context.receive(response(100, to: request), branch: 0) == [])
    let ringing = response(180, to: request)
    #expect(context.receive(ringing, branch: 0) == [.forward(ringing)])
    let ok = response(200, to: request)
    #expect(context.receive(ok, branch: 2) == [.forward(ok), .cancel(branch: 0)])
    // Branch 1's first provisional brings its CANCEL (§9.1); its 487 is not forwarded.
    #expect(context.receive(response(183, to: request), branch: 1) == [.cancel(branch: 1)])
    #expect(context.receive(response(487, to: request), branch: 1) == [])
    // A second 2xx (forking) is forwarded too.
    let second = response(200, to: request)
    #expect(context.receive(second, branch: 0) == [.forward(second)])
    #expect(context.isComplete)
  }

  @Test func aGlobalFailureCancelsTheOthersAndWins() throws {
    let request = try invite()
    var context = ResponseContext(targets: targets([1, 1]), mode: .parallel, isInvite: true)
    _ = context.start()
    _ = context.receive(response(180, to: request), branch: 0)
    #expect(context.receive(response(603, to: request), branch: 1) == [.cancel(branch: 0)])
    let actions = context.receive(response(487, to: request), branch: 0)
    #expect(actions.count == 1)
    if case .forward(let final) = actions.first { #expect(final.status == 603) }
  }

  @Test func sequentialForkingTriesQGroupsInOrder() throws {
    let request = try invite()
    var context = ResponseContext(
      targets: targets([1.0, 0.5, 0.5, 0.1]), mode: .sequential, isInvite: true)
    #expect(context.start() == [.start(branch: 0)])
    #expect(
      context.receive(response(480, to: request), branch: 0) == [
        .start(branch: 1), .start(branch: 2),
      ])
    #expect(context.receive(response(486, to: request), branch: 1) == [])
    #expect(context.receive(response(408, to: request), branch: 2) == [.start(branch: 3)])
    let ok = response(200, to: request)
    #expect(context.receive(ok, branch: 3) == [.forward(ok)])
  }

  @Test func cancelFromUpstreamSkipsWaitingBranches() throws {
    let request = try invite()
    var context = ResponseContext(targets: targets([1.0, 0.5]), mode: .sequential, isInvite: true)
    _ = context.start()
    _ = context.receive(response(180, to: request), branch: 0)
    #expect(context.cancelPending() == [.cancel(branch: 0)])
    let actions = context.receive(response(487, to: request), branch: 0)
    if case .forward(let final) = try #require(actions.first) { #expect(final.status == 487) }
    #expect(context.branches[1].state == .skipped)
  }

  @Test func timerCCancelsARingingBranchAndTimesOutASilentOne() throws {
    let request = try invite()
    var context = ResponseContext(targets: targets([1, 1]), mode: .parallel, isInvite: true)
    _ = context.start()
    _ = context.receive(response(180, to: request), branch: 0)
    #expect(context.timerC(branch: 0, timeout: response(408, to: request)) == [.cancel(branch: 0)])
    #expect(context.timerC(branch: 1, timeout: response(408, to: request)) == [])
    let actions = context.receive(response(487, to: request), branch: 0)
    if case .forward(let final) = try #require(actions.first) { #expect(final.status == 408) }
  }

  @Test func aNonInviteForwardsOnlyItsFirstFinal() throws {
    var options = try invite()
    options.startLine = .request(
      method: "OPTIONS", uri: "sip:bob@biloxi.example.com", version: "SIP/2.0")
    var context = ResponseContext(targets: targets([1, 1]), mode: .parallel, isInvite: false)
    _ = context.start()
    let ok = response(200, to: options)
    #expect(context.receive(ok, branch: 0).first == .forward(ok))
    #expect(context.receive(response(200, to: options), branch: 1) == [])
  }

  /// §16.7 step 4, recursion on a 3xx, one row per case: the targets the context starts with,
  /// whether it recurses, whether the request was SIPS, the 302's contacts → the branches
  /// started after the 302, the contacts left in the 302 kept as a candidate (nil: not kept).
  @Test(
    arguments: [
      // Recursion off: the 302 is an ordinary candidate, nothing new is tried.
      (1, false, false, ["<sip:carol@192.0.2.9>"], [], ["<sip:carol@192.0.2.9>"]),
      // Every contact new: all tried, the emptied 302 is not kept.
      (
        1, true, false, ["<sip:carol@192.0.2.9>", "<sip:dave@192.0.2.10>;q=0.5"], [1, 2],
        nil
      ),
      // A contact already in the target set is not added twice (§16.5); it stays in the 302.
      (
        2, true, false, ["<sip:bob@192.0.2.2>", "<sip:carol@192.0.2.9>"], [2],
        ["<sip:bob@192.0.2.2>"]
      ),
      // A SIPS request recurses to SIPS URIs only; the others stay in the 302.
      (
        1, true, true, ["<sip:carol@192.0.2.9>", "<sips:dave@192.0.2.10>"], [1],
        ["<sip:carol@192.0.2.9>"]
      ),
      // Nothing to recurse to (a tel URI): the 302 is a candidate as it came.
      (1, true, false, ["<tel:+15551234>"], [], ["<tel:+15551234>"]),
    ] as [(Int, Bool, Bool, [String], [Int], [String]?)])
  func recursionOnRedirect(
    targetCount: Int, recurses: Bool, sips: Bool, contacts: [String], started: [Int],
    kept: [String]?
  ) throws {
    let request = try invite()
    var context = ResponseContext(
      targets: targets(Array(repeating: 1, count: targetCount)), mode: .parallel, isInvite: true,
      recursesOnRedirect: recurses, requiresSIPS: sips)
    _ = context.start()
    let redirect = response(302, to: request, contacts.map { "Contact: \($0)" })
    let actions = context.receive(redirect, branch: 0)
    #expect(actions.compactMap { if case .start(let index) = $0 { index } else { nil } } == started)
    #expect(context.finals.map { $0.values("contact") } == (kept.map { [$0] } ?? []))
    #expect(context.branches.count == targetCount + started.count)
    // The new branches' answers decide: a 200 from the first goes up.
    if let first = started.first {
      let ok = response(200, to: request)
      #expect(context.receive(ok, branch: first).first == .forward(ok))
    }
  }

  /// A 3xx that crosses the CANCEL of its branch is not recursed on: after a 6xx the context
  /// "MUST NOT create any new branches" (§16.7 step 5), and after the caller's CANCEL (§16.10)
  /// new branches would ring for a call already given up. The 3xx is a candidate like any
  /// final, in both forking modes.
  @Test(arguments: [ForkingMode.parallel, .sequential], [false, true])
  func aRedirectAfterTheCancelStartsNoBranch(mode: ForkingMode, byGlobalFailure: Bool) throws {
    let request = try invite()
    var context = ResponseContext(
      targets: targets([1, 1]), mode: mode, isInvite: true, recursesOnRedirect: true)
    #expect(context.start().count == 2)
    _ = context.receive(response(180, to: request), branch: 0)
    _ = context.receive(response(180, to: request), branch: 1)
    let cancels =
      byGlobalFailure
      ? context.receive(response(603, to: request), branch: 1) : context.cancelPending()
    #expect(cancels.contains(.cancel(branch: 0)))
    var actions = context.receive(
      response(302, to: request, ["Contact: <sip:carol@192.0.2.9>"]), branch: 0)
    #expect(context.branches.count == 2)
    if !byGlobalFailure {
      // Branch 1 was cancelled too: the choice waits for its 487.
      #expect(actions.isEmpty, "\(actions)")
      actions = context.receive(response(487, to: request), branch: 1)
    }
    #expect(actions.count == 1)
    guard case .forward(let up) = actions.first else {
      Issue.record("expected a final to go up, got \(actions)")
      return
    }
    #expect(up.status == (byGlobalFailure ? 603 : 302))
  }

  /// Recursion in sequential mode waits for the group to end; a redirect loop stops at
  /// ``ResponseContext/maximumTargets``.
  @Test func recursionIsBounded() throws {
    let request = try invite()
    var context = ResponseContext(
      targets: targets([1]), mode: .sequential, isInvite: true, recursesOnRedirect: true)
    _ = context.start()
    var branch = 0
    var hops = 0
    while true {
      let next = "<sip:hop\(hops)@192.0.2.\(hops % 200 + 20)>"
      let actions = context.receive(
        response(302, to: request, ["Contact: \(next)"]), branch: branch)
      hops += 1
      guard case .start(let index) = actions.first else {
        // The bound reached: the last 302 keeps its contact and goes up.
        #expect(actions.count == 1)
        guard case .forward(let up) = actions.first else {
          Issue.record("expected the 302 to go up")
          return
        }
        #expect(up.status == 302 && up.values("contact") == [next])
        break
      }
      branch = index
    }
    #expect(context.branches.count == ResponseContext.maximumTargets)
    #expect(hops == ResponseContext.maximumTargets)
    #expect(context.isComplete)
  }
}

/// RFC 3263 §4.3 in the response context: which failures move a branch to its target's next
/// server, and what the branch is afterwards.
@Suite struct BranchFailOverTests {
  /// What happened to branch 0 before its failure.
  enum Before: String, CustomStringConvertible {
    case nothing, provisional, cancelAsked, cancelSent, otherBranch2xx, otherBranch6xx
    var description: String { rawValue }
  }

  /// One row per case: what came before, whether it is an INVITE, the failure → whether the
  /// branch fails over.
  @Test(
    arguments: [
      // No response at all: every failure is one (§4.3).
      (Before.nothing, true, ResponseContext.BranchFailure.timeout, true),
      (.nothing, true, .transportError, true),
      (.nothing, true, .serviceUnavailable, true),
      (.nothing, false, .timeout, true),
      // After a provisional: Timer F is no failure (the server answered); a transport error
      // or a 503 still is.
      (.provisional, false, .timeout, false),
      (.provisional, true, .transportError, true),
      (.provisional, true, .serviceUnavailable, true),
      (.provisional, false, .serviceUnavailable, true),
      // A branch being cancelled, or a search that ended, tries no further server.
      (.cancelAsked, true, .timeout, false),
      (.cancelAsked, true, .serviceUnavailable, false),
      (.cancelSent, true, .serviceUnavailable, false),
      (.cancelSent, true, .transportError, false),
      (.otherBranch2xx, true, .timeout, false),
      (.otherBranch2xx, false, .serviceUnavailable, false),
      (.otherBranch6xx, true, .serviceUnavailable, false),
    ])
  func failsOver(
    before: Before, isInvite: Bool, failure: ResponseContext.BranchFailure, expected: Bool
  ) throws {
    var request = try invite()
    if !isInvite {
      request.startLine = .request(
        method: "OPTIONS", uri: "sip:bob@biloxi.example.com", version: "SIP/2.0")
    }
    var context = ResponseContext(
      targets: [
        (SIPURI(user: "bob", host: "biloxi.example.com"), 1),
        (SIPURI(user: "bob", host: "192.0.2.2"), 1),
      ], mode: .parallel, isInvite: isInvite)
    _ = context.start()
    switch before {
    case .nothing:
      break
    case .provisional:
      _ = context.receive(response(100, to: request), branch: 0)
    case .cancelAsked:
      _ = context.cancelPending()
    case .cancelSent:
      _ = context.receive(response(180, to: request), branch: 0)
      _ = context.cancelPending()
    case .otherBranch2xx:
      _ = context.receive(response(200, to: request), branch: 1)
    case .otherBranch6xx:
      _ = context.receive(response(603, to: request), branch: 1)
    }
    #expect(context.failsOver(branch: 0, after: failure) == expected)
    // A branch out of range never does.
    #expect(!context.failsOver(branch: 2, after: failure))
  }

  /// After a fail-over the branch is trying again: a CANCEL asked for then waits for the new
  /// transaction's first provisional (§9.1), and the context still chooses from every branch.
  @Test func aFailedOverBranchWaitsForItsNewProvisionalBeforeItsCancel() throws {
    let request = try invite()
    var context = ResponseContext(
      targets: [
        (SIPURI(user: "bob", host: "biloxi.example.com"), 1),
        (SIPURI(user: "bob", host: "192.0.2.2"), 1),
      ], mode: .parallel, isInvite: true)
    _ = context.start()
    let ringing = response(180, to: request)
    #expect(context.receive(ringing, branch: 0) == [.forward(ringing)])
    #expect(context.failsOver(branch: 0, after: .serviceUnavailable))
    context.failedOver(branch: 0)
    #expect(context.branches[0].state == .trying)
    // CANCEL from upstream: branch 0 has no provisional on its new transaction yet.
    #expect(context.cancelPending() == [])
    #expect(context.branches[0].cancelWanted)
    #expect(context.receive(response(100, to: request), branch: 0) == [.cancel(branch: 0)])
    _ = context.receive(response(487, to: request), branch: 1)
    let actions = context.receive(response(487, to: request), branch: 0)
    guard case .forward(let up) = try #require(actions.first) else {
      Issue.record("expected the 487 to go up")
      return
    }
    #expect(up.status == 487)
    #expect(context.isComplete)
  }
}

/// `StableHash` is FNV-1a over each part's UTF-8 bytes with a separator after each, printed as
/// sixteen hex digits: branches must not change between versions (a seed reproduces a trace).
@Test func stableHashIsFNVOverEachPart() {
  func reference(_ parts: [String]) -> String {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    for part in parts {
      for byte in Array(part.utf8) + [0xff] {
        value ^= UInt64(byte)
        value &*= 0x0000_0100_0000_01b3
      }
    }
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
  }
  for parts in [[], [""], ["abc"], ["z9hG4bK74bf9", "10.0.0.1:5060"], ["caf\u{e9}", "", "x"]] {
    var hash = StableHash()
    for part in parts { hash.add(part) }
    #expect(hash.hex == reference(parts), "\(parts)")
  }
}

/// The in-place search a proxy runs over its Via fields finds what a plain search of the bytes
/// finds, for needles at the start, middle and end, absent, longer than the value, or empty.
@Test func aFieldsValueSearchIsAPlainSearch() {
  var random = SplitMix(seed: 29)
  let alphabet = Array("0123456789.:;=abz".utf8)
  for _ in 0..<2_000 {
    let value = (0..<random.below(24)).map { _ in alphabet[random.below(alphabet.count)] }
    var needle = (0..<random.below(5)).map { _ in alphabet[random.below(alphabet.count)] }
    if !value.isEmpty, random.below(2) == 0 {
      // A needle cut from the value, so matches come often.
      let start = random.below(value.count)
      needle = Array(value[start..<min(value.count, start + 1 + random.below(4))])
    }
    let field = SIPHeaderField(name: "Via", value: String(decoding: value, as: UTF8.self))
    let expected =
      needle.isEmpty
      || stride(from: 0, through: value.count - needle.count, by: 1).contains {
        Array(value[$0..<($0 + needle.count)]) == needle
      }
    let found = needle.withUnsafeBufferPointer { field.valueContains($0) }
    #expect(found == expected, "\(value) \(needle)")
  }
}

struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func below(_ bound: Int) -> Int {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return Int((z ^ (z >> 31)) % UInt64(max(1, bound)))
  }
}
