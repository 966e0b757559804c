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
      return terminate([.transportError])
    case (.completed, .transportError):
      return terminate([.cancelTimer(.j), .transportError])
    case (.completed, .timerFired(.j)):
      return terminate([])
    default:
      // Completed discards further TU responses (§17.2.2); stale timers do nothing.
      return []
    }
  }

  private mutating func terminate(_ actions: [TransactionAction<Message>])
    -> [TransactionAction<Message>]
  {
    state = .terminated
    return actions + [.terminate]
  }
}
