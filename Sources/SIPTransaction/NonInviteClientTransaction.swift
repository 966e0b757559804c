/// The non-INVITE client transaction: RFC 3261 §17.1.2.2, Figure 6.
///
/// ```
/// Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
///   +--200-699--> Completed
///   +--Timer F / transport error--> Terminated (inform TU)      (Proceeding too)
/// ```
/// Timer E retransmits: doubling up to T2 in Trying, every T2 in Proceeding.
public struct NonInviteClientTransaction<Message: Sendable>: Sendable {
  public private(set) var state: TransactionState = .trying
  /// The request, kept for retransmission (§17.1.2.2) and let go (nil) on entering Completed:
  /// nothing sends it again there, and Timer K keeps the transaction T4 longer.
  public private(set) var request: Message?
  public let isReliable: Bool
  public let timers: TimerSettings
  /// The current Timer E interval.
  public private(set) var intervalE: Duration

  public enum Event: Sendable {
    case response(status: Int, Message)
    case timerFired(TransactionTimer)
    case transportError
  }

  public init(request: Message, isReliable: Bool, timers: TimerSettings = .rfc3261) {
    self.request = request
    self.isReliable = isReliable
    self.timers = timers
    intervalE = timers.t1
  }

  /// Enters Trying: send the request, start Timer E (unreliable only) and Timer F.
  public mutating func start() -> [TransactionAction<Message>] {
    var actions = [TransactionAction<Message>].reserving(3)
    start(into: &actions)
    return actions
  }

  /// ``start()`` appending to the caller's array (the layer's, reused from event to event).
  public mutating func start(into actions: inout [TransactionAction<Message>]) {
    if let request { actions.append(.send(request)) }
    if !isReliable { actions.append(.startTimer(.e, intervalE)) }
    actions.append(.startTimer(.f, timers.transactionTimeout))
  }

  public mutating func handle(_ event: Event) -> [TransactionAction<Message>] {
    var actions = [TransactionAction<Message>].reserving(4)
    handle(event, into: &actions)
    return actions
  }

  /// ``handle(_:)`` appending to the caller's array (the layer's, reused from event to event).
  public mutating func handle(_ event: Event, into actions: inout [TransactionAction<Message>]) {
    switch (state, event) {
    case (.trying, .timerFired(.e)):
      intervalE = min(intervalE * 2, timers.t2)
      if let request { actions.append(.send(request)) }
      actions.append(.startTimer(.e, intervalE))
    case (.proceeding, .timerFired(.e)):
      intervalE = timers.t2
      if let request { actions.append(.send(request)) }
      actions.append(.startTimer(.e, intervalE))
    case (.trying, .timerFired(.f)), (.proceeding, .timerFired(.f)):
      stopE(&actions)
      actions.append(.timeout(.f))
      terminate(&actions)
    case (.trying, .transportError), (.proceeding, .transportError):
      stopE(&actions)
      actions.append(.cancelTimer(.f))
      actions.append(.transportError)
      terminate(&actions)
    case (.trying, .response(let status, let response)),
      (.proceeding, .response(let status, let response)):
      if ResponseClass(status) == .provisional {
        state = .proceeding
        actions.append(.passToTU(response))
        return
      }
      stopE(&actions)
      actions.append(.cancelTimer(.f))
      state = .completed
      request = nil
      actions.append(.passToTU(response))
      actions.append(.startTimer(.k, isReliable ? .zero : timers.t4))
    case (.completed, .timerFired(.k)):
      terminate(&actions)
    default:
      // Completed absorbs response retransmissions; stale timers do nothing.
      break
    }
  }

  /// Timer E's cancel (unreliable only).
  private func stopE(_ actions: inout [TransactionAction<Message>]) {
    if !isReliable { actions.append(.cancelTimer(.e)) }
  }

  /// Enters Terminated: `terminate` after the actions already appended.
  private mutating func terminate(_ actions: inout [TransactionAction<Message>]) {
    state = .terminated
    request = nil
    actions.append(.terminate)
  }
}
