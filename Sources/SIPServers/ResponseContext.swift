public import SIPCore

/// How a stateful proxy tries several targets (§16.6, §16.7): all at once, or one q-value group
/// after another, highest `q` first (§16.6: "in order of decreasing q"; equal q in parallel).
public enum ForkingMode: String, Sendable, Hashable, Codable {
  case parallel
  case sequential
}

/// The response context of a stateful proxy for one server transaction (RFC 3261 §16.7): its
/// branches (one client transaction per target), the responses they brought, and the choice of
/// what to send upstream. Pure: the proxy actor feeds it responses, timeouts and CANCEL, and
/// carries out the ``Action``s it returns, in order.
public struct ResponseContext: Sendable {
  /// Where a branch stands.
  public enum BranchState: Sendable, Hashable {
    /// Not yet tried (a later group of sequential forking).
    case waiting
    /// Request sent, no provisional response yet.
    case trying
    /// A provisional response came: a CANCEL may now be sent (§9.1).
    case proceeding
    /// A final response (or a timeout / transport error, as 408 / 503) ended it.
    case completed(status: Int)
    /// Never tried: the context ended first.
    case skipped
  }

  public struct Branch: Sendable, Hashable {
    public var target: SIPURI
    public var q: Double
    public var state: BranchState
    /// CANCEL asked for before the branch had a provisional response: sent when one comes.
    public var cancelWanted = false
    public var cancelSent = false

    public var isPending: Bool {
      switch state {
      case .trying, .proceeding: true
      default: false
      }
    }
  }

  /// What the proxy does next.
  public enum Action: Sendable, Hashable {
    /// Send the request to branch `index`'s target (a new client transaction).
    case start(branch: Int)
    /// Forward this response upstream now (provisional, 2xx, or the final chosen).
    case forward(SIPMessage)
    /// Send CANCEL for branch `index` (§16.10, §16.7 step 10).
    case cancel(branch: Int)
  }

  public private(set) var branches: [Branch]
  public let mode: ForkingMode
  public let isInvite: Bool
  /// Whether the SIP and SIPS contacts of a 3xx become new targets (§16.7 step 4: "if the
  /// proxy chooses to recurse") instead of the 3xx being a candidate to send up. Off by default:
  /// RFC 3665 §3.6 shows a proxy passing a 302 upstream.
  public let recursesOnRedirect: Bool
  /// The original Request-URI was SIPS: recursion goes to SIPS URIs only (§16.7 step 4).
  public let requiresSIPS: Bool
  /// The most targets one context holds, those added by recursion included: a bound on a
  /// redirect loop, where every 3xx names a new place.
  public static let maximumTargets = 32
  /// Whether a final response went upstream (then only 2xx to an INVITE may follow).
  public private(set) var finalForwarded = false
  /// Final responses kept for the choice of §16.7 step 6, in arrival order.
  public private(set) var finals: [SIPMessage] = []
  /// Whether the pending branches were cancelled (a CANCEL from upstream, a 2xx or a 6xx): no
  /// branch is added after (§16.7 step 5: after a 6xx the proxy "MUST NOT create any new
  /// branches in this context"), so a 3xx that crosses its branch's CANCEL is not recursed on.
  public private(set) var searchEnded = false

  /// - Parameters:
  ///   - targets: the target set with each target's `q` (1 when absent), best first.
  ///   - recursesOnRedirect: try the contacts of a 3xx as new targets (§16.7 step 4).
  ///   - requiresSIPS: the original Request-URI was SIPS (recurse to SIPS URIs only).
  public init(
    targets: [(uri: SIPURI, q: Double)], mode: ForkingMode, isInvite: Bool,
    recursesOnRedirect: Bool = false, requiresSIPS: Bool = false
  ) {
    branches = targets.map { Branch(target: $0.uri, q: $0.q, state: .waiting) }
    self.mode = mode
    self.isInvite = isInvite
    self.recursesOnRedirect = recursesOnRedirect
    self.requiresSIPS = requiresSIPS
  }

  /// Whether every branch has ended.
  public var isComplete: Bool { !branches.contains { $0.isPending || $0.state == .waiting } }

  /// Starts the first branches: every one in parallel mode, the highest-q group in sequential.
  public mutating func start() -> [Action] {
    if branches.isEmpty { return [] }
    return startNextGroup()
  }

  mutating func startNextGroup() -> [Action] {
    let waiting = branches.indices.filter { branches[$0].state == .waiting }
    guard let best = waiting.map({ branches[$0].q }).max() else { return [] }
    let group = mode == .parallel ? waiting : waiting.filter { branches[$0].q == best }
    for index in group { branches[index].state = .trying }
    return group.map { .start(branch: $0) }
  }

  /// A response on branch `index` (§16.7 steps 3–10).
  public mutating func receive(_ response: SIPMessage, branch index: Int) -> [Action] {
    guard branches.indices.contains(index), let status = response.status else { return [] }
    var actions: [Action] = []
    if status < 200 {
      guard branches[index].isPending else { return [] }
      branches[index].state = .proceeding
      if branches[index].cancelWanted && !branches[index].cancelSent {
        branches[index].cancelSent = true
        actions.append(.cancel(branch: index))
      }
      // Step 5: 100 is not forwarded; other provisionals are, until a final went up.
      if status > 100 && !finalForwarded { actions.append(.forward(response)) }
      return actions
    }
    let wasPending = branches[index].isPending
    if wasPending { branches[index].state = .completed(status: status) }
    if (200..<300).contains(status) {
      // Step 5: every 2xx to an INVITE goes up at once; for others, the first final only.
      if isInvite || !finalForwarded {
        actions.append(.forward(response))
        finalForwarded = true
        actions += cancelPending()
      }
      return actions
    }
    guard wasPending else { return [] }
    if (300..<400).contains(status), recursesOnRedirect, !finalForwarded, !searchEnded,
      let (added, rest) = recurse(on: response)
    {
      // §16.7 step 4: the contacts tried are taken out of the response; a response left
      // without contacts is not kept. The new targets are tried as the forking mode says.
      if let rest { finals.append(rest) }
      if mode == .parallel {
        for index in added { branches[index].state = .trying }
        actions += added.map { .start(branch: $0) }
      }
      return actions + finishIfDone()
    }
    finals.append(response)
    if status >= 600 {
      // A 6xx ends the search: cancel the rest (§16.7 step 5), choose when they are done.
      actions += cancelPending()
    }
    return actions + finishIfDone()
  }

  /// A branch that ended without a response: Timer B / F (408) or a transport error (503)
  /// (§16.7 step 1 and §16.9 treat them as those responses), passed in already built.
  public mutating func failed(_ synthesized: SIPMessage, branch index: Int) -> [Action] {
    receive(synthesized, branch: index)
  }

  /// CANCEL from upstream, or a 2xx / 6xx elsewhere (§16.10): pending branches are cancelled
  /// (those still without a provisional when one comes), waiting ones are never started.
  public mutating func cancelPending() -> [Action] {
    searchEnded = true
    var actions: [Action] = []
    for index in branches.indices {
      switch branches[index].state {
      case .waiting:
        branches[index].state = .skipped
      case .proceeding where !branches[index].cancelSent:
        branches[index].cancelSent = true
        actions.append(.cancel(branch: index))
      case .trying:
        branches[index].cancelWanted = true
      default:
        break
      }
    }
    return actions
  }

  /// Why a branch's client transaction failed, as RFC 3263 §4.3 counts failures: the
  /// transaction layer timed out (Timer B or F), the transport failed, or the server answered
  /// 503 (Service Unavailable).
  public enum BranchFailure: Sendable, Hashable {
    case timeout
    case transportError
    case serviceUnavailable
  }

  /// RFC 3263 §4.3: whether branch `index`, whose client transaction just failed with
  /// `failure`, goes on with the same forwarded request under a new branch (a new client
  /// transaction) to its target's next server, instead of ending with the failure as its
  /// response (the caller knows whether a next server is left; this says whether one may be
  /// tried).
  ///
  /// - Not once the search has ended (a CANCEL from upstream, a 2xx, a 6xx: §16.7 step 5
  ///   creates no new branch after it, and §16.10 wants pending branches cancelled, not
  ///   retried), nor for a branch whose CANCEL was asked for.
  /// - A timeout only when the branch had no response at all: §4.3 counts Timer B / F as a
  ///   failure only "without ever having received any response, provisional or final"; a
  ///   non-INVITE's Timer F after a 100 ends the branch with the 408.
  /// - A transport error or a 503 in either pending state: §4.3 lists them without that
  ///   condition. A 503 is failed over, not kept for the choice of §16.7 step 6: RFC 3261
  ///   §21.5.4 says a client, proxy included, receiving a 503 "SHOULD attempt to forward the
  ///   request to an alternate server", and §16.7's rule that a 503 goes up only as a 500
  ///   still holds for the one the last server gives.
  public func failsOver(branch index: Int, after failure: BranchFailure) -> Bool {
    guard branches.indices.contains(index), !searchEnded, !finalForwarded else {
      return false
    }
    let branch = branches[index]
    guard !branch.cancelWanted, !branch.cancelSent else { return false }
    switch (branch.state, failure) {
    case (.trying, _), (.proceeding, .transportError), (.proceeding, .serviceUnavailable):
      return true
    default:
      return false
    }
  }

  /// Branch `index` failed over (``failsOver(branch:after:)``): it is trying again, on a new
  /// client transaction that has had no provisional response, so a CANCEL asked for later
  /// waits for that transaction's first one (§9.1). Nothing else changes: the response
  /// context keeps what the branch forwarded and what the others brought (§16.7).
  public mutating func failedOver(branch index: Int) {
    guard branches.indices.contains(index), branches[index].isPending else { return }
    branches[index].state = .trying
  }

  /// Timer C fired for branch `index` (§16.8): a branch that had a provisional is cancelled;
  /// one that had none ends as if a 408 came (the caller passes it).
  public mutating func timerC(branch index: Int, timeout: SIPMessage) -> [Action] {
    guard branches.indices.contains(index) else { return [] }
    switch branches[index].state {
    case .proceeding where !branches[index].cancelSent:
      branches[index].cancelSent = true
      return [.cancel(branch: index)]
    case .trying:
      return receive(timeout, branch: index)
    default:
      return []
    }
  }

  /// Adds the SIP (or, when required, SIPS) contacts of a 3xx that are not already targets as
  /// waiting branches (§16.5: a target is never added twice), up to ``maximumTargets``. Returns
  /// the new branches and the response without their contacts (nil when none is left), or nil
  /// when no contact was added (the 3xx is then an ordinary candidate).
  mutating func recurse(on response: SIPMessage) -> (added: [Int], rest: SIPMessage?)? {
    var known = Set(branches.map { contactIdentity($0.target) })
    var added: [Int] = []
    var kept: [ContactValue] = []
    for contact in response.contacts {
      guard let address = contact.address, branches.count < Self.maximumTargets,
        requiresSIPS ? address.uri.scheme == "sips" : address.uri.isSIP,
        known.insert(contactIdentity(address.uri)).inserted
      else {
        kept.append(contact)
        continue
      }
      added.append(branches.count)
      branches.append(
        Branch(target: address.uri, q: contact.q.map { min(1, max(0, $0)) } ?? 1, state: .waiting))
    }
    guard !added.isEmpty else { return nil }
    guard !kept.isEmpty else { return (added, nil) }
    var rest = response
    rest.remove("Contact")
    for contact in kept {
      rest.insertBeforeLength("Contact", contact.address?.description ?? "*")
    }
    return (added, rest)
  }

  /// When no branch is pending: the next sequential group, or the best response (step 6).
  mutating func finishIfDone() -> [Action] {
    guard !branches.contains(where: \.isPending), !finalForwarded else { return [] }
    if branches.contains(where: { $0.state == .waiting }) {
      return startNextGroup()
    }
    guard let best = Self.best(of: finals) else { return [] }
    finalForwarded = true
    return [.forward(best)]
  }

  /// §16.7 step 6 and 7: the response to send up when no 2xx came. A 6xx if any; else the
  /// lowest class, preferring within 4xx those that tell the client how to retry (401, 407,
  /// 415, 420, 484); a 503 becomes 500; a 401 / 407 carries every challenge of every 401 / 407
  /// received (§22.3). Nil when there is none.
  public static func best(of finals: [SIPMessage]) -> SIPMessage? {
    let statuses = finals.compactMap(\.status)
    guard !statuses.isEmpty else { return nil }
    var chosen: Int?
    if let sixxx = finals.firstIndex(where: { ($0.status ?? 0) >= 600 }) {
      chosen = sixxx
    } else if let lowestClass = statuses.map({ $0 / 100 }).min() {
      let inClass = finals.indices.filter { (finals[$0].status ?? 0) / 100 == lowestClass }
      let preferred = [401, 407, 415, 420, 484]
      chosen = inClass.first { preferred.contains(finals[$0].status ?? 0) } ?? inClass.first
    }
    guard let chosen, let status = finals[chosen].status else { return nil }
    var response = finals[chosen]
    if status == 503 {
      response.startLine = .response(
        version: "SIP/2.0", status: 500, reason: "Server Internal Error")
    }
    if status == 401 || status == 407 {
      // Step 7: aggregate every challenge into the one response.
      for index in finals.indices where index != chosen {
        for field in finals[index].headers
        where field.isNamed("www-authenticate") || field.isNamed("proxy-authenticate") {
          response.insertBeforeLength(field.name, field.value)
        }
      }
    }
    return response
  }
}
