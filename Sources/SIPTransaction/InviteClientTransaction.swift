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
  /// layer and pass it to the transport layer once more", §17.1.1.2).
  public let request: Message
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
    var actions: [TransactionAction<Message>] = [.send(request)]
    if !isReliable { actions.append(.startTimer(.a, intervalA)) }
    actions.append(.startTimer(.b, timers.transactionTimeout))
    return actions
  }

  public mutating func handle(_ event: Event) -> [TransactionAction<Message>] {
    switch (state, event) {
    case (.calling, .timerFired(.a)):
      intervalA = intervalA * 2
      return [.send(request), .startTimer(.a, intervalA)]
    case (.calling, .timerFired(.b)):
      return terminate([.cancelTimer(.a), .timeout(.b)])
    case (.calling, .transportError):
      return terminate(stopCallingTimers() + [.transportError])
    case (.proceeding, .transportError):
      return terminate([.transportError])
    case (.completed, .transportError):
      return terminate([.cancelTimer(.d), .transportError])
    case (.calling, .response(let status, let response)),
      (.proceeding, .response(let status, let response)):
      switch ResponseClass(status) {
      case .provisional:
        let stop = state == .calling ? stopCallingTimers() : []
        state = .proceeding
        return stop + [.passToTU(response)]
      case .success:
        // RFC 6026 §7.2: stay to pass 2xx retransmissions (and forks) to the TU.
        let stop = state == .calling ? stopCallingTimers() : []
        state = .accepted
        return stop + [.passToTU(response), .startTimer(.m, timers.transactionTimeout)]
      case .failure:
        let stop = state == .calling ? stopCallingTimers() : []
        state = .completed
        return stop + [
          .sendACK(for: response), .passToTU(response),
          .startTimer(.d, isReliable ? .zero : .seconds(32)),
        ]
      }
    case (.completed, .response(let status, let response)):
      // A retransmitted final response: answer it with the ACK again, not the TU (§17.1.1.2).
      return ResponseClass(status) == .failure ? [.sendACK(for: response)] : []
    case (.completed, .timerFired(.d)):
      return terminate([])
    case (.accepted, .response(let status, let response)):
      return ResponseClass(status) == .success ? [.passToTU(response)] : []
    case (.accepted, .timerFired(.m)):
      return terminate([])
    default:
      // A stale timer or a response the figure has no arrow for: absorbed.
      return []
    }
  }

  private func stopCallingTimers() -> [TransactionAction<Message>] {
    state == .calling
      ? (isReliable ? [.cancelTimer(.b)] : [.cancelTimer(.a), .cancelTimer(.b)]) : []
  }

  private mutating func terminate(_ actions: [TransactionAction<Message>])
    -> [TransactionAction<Message>]
  {
    state = .terminated
    return actions + [.terminate]
  }
}
