/// Short ways to write topologies in Swift (the examples use them): each says what the JSON
/// form says, with the same defaults.
extension HostSpec {
  /// A user agent with address of record `aor`, an optional outbound proxy and a behaviour.
  public static func ua(
    _ name: String, _ aor: String, proxy: String? = nil,
    behaviour: BehaviourSpec = BehaviourSpec(kind: .answer), domains: [String] = []
  ) -> HostSpec {
    HostSpec(
      name: name, domains: domains,
      role: .userAgent(UASpec(aor: aor, proxy: proxy, behaviour: behaviour)))
  }

  /// A stateful proxy for `domain` (and its registrar when `registrar`).
  public static func proxy(
    _ name: String, domain: String, registrar: Bool = true, recordRoute: Bool = true,
    authenticate: Bool = false, bindings: [BindingSpec] = []
  ) -> HostSpec {
    HostSpec(
      name: name, domains: [domain],
      role: .proxy(
        ProxySpec(
          recordRoute: recordRoute, authenticate: authenticate, registrar: registrar,
          bindings: bindings)))
  }
}

extension BehaviourSpec {
  /// 180 at once, 200 after `duration`.
  public static func ring(for duration: Duration) -> BehaviourSpec {
    BehaviourSpec(kind: .ring, ringFor: TimeSpan(duration))
  }
  /// 180 at once, 200 after `duration`, and no 487 for a CANCEL (a broken callee, §9.2).
  public static func ignoreCancel(for duration: Duration) -> BehaviourSpec {
    BehaviourSpec(kind: .ignoreCancel, ringFor: TimeSpan(duration))
  }
  public static let answer = BehaviourSpec(kind: .answer)
  public static let busy = BehaviourSpec(kind: .busy)
  public static let noAnswer = BehaviourSpec(kind: .noAnswer)
}

extension Step {
  /// At `seconds`, `from` calls `to`; the call is known as `call`.
  public static func call(
    at seconds: Double, from: String, to: String, call: String = "c1",
    hangUpAfter: Duration? = nil, cancelAfter: Duration? = nil
  ) -> Step {
    Step(
      at: TimeSpan(.milliseconds(Int64((seconds * 1000).rounded()))),
      .call(
        from: from, to: to, call: call, hangUpAfter: hangUpAfter.map(TimeSpan.init),
        cancelAfter: cancelAfter.map(TimeSpan.init), offer: true))
  }

  /// At `seconds`, `ua` registers with its domain's registrar.
  public static func register(at seconds: Double, _ ua: String, refresh: Bool = false) -> Step {
    Step(
      at: TimeSpan(.milliseconds(Int64((seconds * 1000).rounded()))),
      .register(ua: ua, expires: 3600, refresh: refresh))
  }

  /// At `seconds`, `action`.
  public static func at(_ seconds: Double, _ action: Action) -> Step {
    Step(at: TimeSpan(.milliseconds(Int64((seconds * 1000).rounded()))), action)
  }
}

extension RunOutcome {
  /// Prints the text ladder and the verdict; returns the process exit code (0 when every
  /// expectation held).
  @discardableResult
  public func printLadder(verbose: Bool = false) -> Int32 {
    print(Ladder(trace, verbose: verbose).text())
    if passed {
      print("PASS: \(checks.joined(separator: "; "))")
      return 0
    }
    print("FAIL:\n  " + failures.joined(separator: "\n  "))
    return 1
  }
}
