/// The INVITE client transaction: RFC 3261 §17.1.1.2, Figure 5, as amended by RFC 6026 §7.2
/// (the Accepted state and Timer M).
///
/// ```
/// Calling --1xx--> Proceeding --300-699 (send ACK)--> Completed --Timer D--> Terminated
///    |  \--300-699 (send ACK)--> Completed
///    +--2xx--> Accepted (Timer M) --Timer M--> Terminated      (Proceeding too)
///    +--Timer B / transport error--> Terminated (inform TU)
/// ```
public struct InviteClientTransaction<Message: Sendable>: Sendable {
  public private(set) var state: TransactionState = .calling
  /// The INVITE, kept for retransmission ("take the message previously sent to the transport
  /// layer and pass it to the transport layer once more", §17.1.1.2) and, in Completed, for the
  /// ACK its layer builds. Let go (nil) on entering Accepted: nothing there sends it again, the
  /// ACK for a 2xx is the TU's (§13.2.2.4), and Timer M holds the transaction 64·T1 longer, so a
  /// proxy or agent under load kept every INVITE of its last 32 seconds for nothing.
  public private(set) var request: Message?
  public let isReliable: Bool
  public let timers: TimerSettings
  /// The current Timer A interval: T1, doubling on each firing (no cap for INVITE).
  public private(set) var intervalA: Duration

  /// Events the machine reacts to.
  public enum Event: Sendable {
    case response(status: Int, Message)
    case timerFired(TransactionTimer)
    case transportError
  }

  public init(request: Message, isReliable: Bool, timers: TimerSettings = .rfc3261) {
    self.request = request
    self.isReliable = isReliable
    self.timers = timers
    intervalA = timers.t1
  }

  /// Enters Calling: send the INVITE, start Timer A (unreliable only) and Timer B.
  public mutating func start() -> [TransactionAction<Message>] {
    var actions = [TransactionAction<Message>].reserving(3)
    start(into: &actions)
    return actions
  }

  /// ``start()`` appending to the caller's array (the layer's, reused from event to event).
  public mutating func start(into actions: inout [TransactionAction<Message>]) {
    if let request { actions.append(.send(request)) }
    if !isReliable { actions.append(.startTimer(.a, intervalA)) }
    actions.append(.startTimer(.b, timers.transactionTimeout))
  }

  public mutating func handle(_ event: Event) -> [TransactionAction<Message>] {
    var actions = [TransactionAction<Message>].reserving(5)
    handle(event, into: &actions)
    return actions
  }

  /// ``handle(_:)`` appending to the caller's array (the layer's, reused from event to event).
  public mutating func handle(_ event: Event, into actions: inout [TransactionAction<Message>]) {
    switch (state, event) {
    case (.calling, .timerFired(.a)):
      intervalA = intervalA * 2
      if let request { actions.append(.send(request)) }
      actions.append(.startTimer(.a, intervalA))
    case (.calling, .timerFired(.b)):
      actions.append(.cancelTimer(.a))
      actions.append(.timeout(.b))
      terminate(&actions)
    case (.calling, .transportError):
      stopCallingTimers(&actions)
      actions.append(.transportError)
      terminate(&actions)
    case (.proceeding, .transportError):
      actions.append(.transportError)
      terminate(&actions)
    case (.completed, .transportError):
      actions.append(.cancelTimer(.d))
      actions.append(.transportError)
      terminate(&actions)
    case (.calling, .response(let status, let response)),
      (.proceeding, .response(let status, let response)):
      switch ResponseClass(status) {
      case .provisional:
        stopCallingTimers(&actions)
        state = .proceeding
        actions.append(.passToTU(response))
      case .success:
        // RFC 6026 §7.2: stay to pass 2xx retransmissions (and forks) to the TU.
        stopCallingTimers(&actions)
        state = .accepted
        request = nil
        actions.append(.passToTU(response))
        actions.append(.startTimer(.m, timers.transactionTimeout))
      case .failure:
        stopCallingTimers(&actions)
        state = .completed
        actions.append(.sendACK(for: response))
        actions.append(.passToTU(response))
        actions.append(.startTimer(.d, isReliable ? .zero : .seconds(32)))
      }
    case (.completed, .response(let status, let response)):
      // A retransmitted final response: answer it with the ACK again, not the TU (§17.1.1.2).
      if ResponseClass(status) == .failure { actions.append(.sendACK(for: response)) }
    case (.completed, .timerFired(.d)):
      terminate(&actions)
    case (.accepted, .response(let status, let response)):
      if ResponseClass(status) == .success { actions.append(.passToTU(response)) }
    case (.accepted, .timerFired(.m)):
      terminate(&actions)
    default:
      // A stale timer or a response the figure has no arrow for: absorbed.
      break
    }
  }

  /// The cancels of Timers A (unreliable only) and B when still Calling.
  private func stopCallingTimers(_ actions: inout [TransactionAction<Message>]) {
    if state == .calling {
      if !isReliable { actions.append(.cancelTimer(.a)) }
      actions.append(.cancelTimer(.b))
    }
  }

  /// Enters Terminated: `terminate` after the actions already appended.
  private mutating func terminate(_ actions: inout [TransactionAction<Message>]) {
    state = .terminated
    request = nil
    actions.append(.terminate)
  }
}
