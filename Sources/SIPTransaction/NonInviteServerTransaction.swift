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
    switch (state, event) {
    case (.trying, .requestRetransmission):
      return []  // §17.2.2: discarded while Trying
    case (.trying, .tuResponse(let status, let response)),
      (.proceeding, .tuResponse(let status, let response)):
      lastResponse = response
      if ResponseClass(status) == .provisional {
        state = .proceeding
        return [.send(response)]
      }
      state = .completed
      return [
        .send(response), .startTimer(.j, isReliable ? .zero : timers.transactionTimeout),
      ]
    case (.proceeding, .requestRetransmission), (.completed, .requestRetransmission):
      return lastResponse.map { [.send($0)] } ?? []
    case (.proceeding, .transportError):
      var actions = [TransactionAction<Message>].reserving(2)
      actions.append(.transportError)
      return terminate(actions)
    case (.completed, .transportError):
      var actions = [TransactionAction<Message>].reserving(3)
      actions.append(.cancelTimer(.j))
      actions.append(.transportError)
      return terminate(actions)
    case (.completed, .timerFired(.j)):
      return terminate(.reserving(1))
    default:
      // Completed discards further TU responses (§17.2.2); stale timers do nothing.
      return []
    }
  }

  /// Enters Terminated: `actions` then `terminate`, in the caller's array (reserve room for it).
  private mutating func terminate(_ actions: consuming [TransactionAction<Message>])
    -> [TransactionAction<Message>]
  {
    state = .terminated
    var actions = actions
    actions.append(.terminate)
    return actions
  }
}
