/// The non-INVITE server transaction: RFC 3261 §17.2.2, Figure 8.
///
/// ```
/// Trying --1xx from TU--> Proceeding --200-699 from TU--> Completed --Timer J--> Terminated
///   +--200-699 from TU--> Completed
///   Proceeding / Completed --transport error--> Terminated (inform TU)
/// ```
public struct NonInviteServerTransaction<Message: Sendable>: Sendable {
  public private(set) var state: TransactionState = .trying
  public let isReliable: Bool
  public let timers: TimerSettings
  public private(set) var lastResponse: Message?

  public enum Event: Sendable {
    case requestRetransmission
    case tuResponse(status: Int, Message)
    case timerFired(TransactionTimer)
    case transportError
  }

  public init(isReliable: Bool, timers: TimerSettings = .rfc3261) {
    self.isReliable = isReliable
    self.timers = timers
  }

  public mutating func handle(_ event: Event) -> [TransactionAction<Message>] {
    var actions = [TransactionAction<Message>].reserving(3)
    handle(event, into: &actions)
    return actions
  }

  /// ``handle(_:)`` appending to the caller's array (the layer's, reused from event to event).
  public mutating func handle(_ event: Event, into actions: inout [TransactionAction<Message>]) {
    switch (state, event) {
    case (.trying, .requestRetransmission):
      break  // §17.2.2: discarded while Trying
    case (.trying, .tuResponse(let status, let response)),
      (.proceeding, .tuResponse(let status, let response)):
      lastResponse = response
      actions.append(.send(response))
      if ResponseClass(status) == .provisional {
        state = .proceeding
        return
      }
      state = .completed
      actions.append(.startTimer(.j, isReliable ? .zero : timers.transactionTimeout))
    case (.proceeding, .requestRetransmission), (.completed, .requestRetransmission):
      if let lastResponse { actions.append(.send(lastResponse)) }
    case (.proceeding, .transportError):
      actions.append(.transportError)
      terminate(&actions)
    case (.completed, .transportError):
      actions.append(.cancelTimer(.j))
      actions.append(.transportError)
      terminate(&actions)
    case (.completed, .timerFired(.j)):
      terminate(&actions)
    default:
      // Completed discards further TU responses (§17.2.2); stale timers do nothing.
      break
    }
  }

  /// Enters Terminated: `terminate` after the actions already appended.
  private mutating func terminate(_ actions: inout [TransactionAction<Message>]) {
    state = .terminated
    lastResponse = nil
    actions.append(.terminate)
  }
}
