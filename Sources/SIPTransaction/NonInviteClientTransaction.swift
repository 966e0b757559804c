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
  public let request: Message
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
    var actions: [TransactionAction<Message>] = [.send(request)]
    if !isReliable { actions.append(.startTimer(.e, intervalE)) }
    actions.append(.startTimer(.f, timers.transactionTimeout))
    return actions
  }

  public mutating func handle(_ event: Event) -> [TransactionAction<Message>] {
    switch (state, event) {
    case (.trying, .timerFired(.e)):
      intervalE = min(intervalE * 2, timers.t2)
      return [.send(request), .startTimer(.e, intervalE)]
    case (.proceeding, .timerFired(.e)):
      intervalE = timers.t2
      return [.send(request), .startTimer(.e, intervalE)]
    case (.trying, .timerFired(.f)), (.proceeding, .timerFired(.f)):
      return terminate(stopE() + [.timeout(.f)])
    case (.trying, .transportError), (.proceeding, .transportError):
      return terminate(stopE() + [.cancelTimer(.f), .transportError])
    case (.trying, .response(let status, let response)),
      (.proceeding, .response(let status, let response)):
      if ResponseClass(status) == .provisional {
        state = .proceeding
        return [.passToTU(response)]
      }
      let stop = stopE() + [.cancelTimer(.f)]
      state = .completed
      return stop + [.passToTU(response), .startTimer(.k, isReliable ? .zero : timers.t4)]
    case (.completed, .timerFired(.k)):
      return terminate([])
    default:
      // Completed absorbs response retransmissions; stale timers do nothing.
      return []
    }
  }

  private func stopE() -> [TransactionAction<Message>] { isReliable ? [] : [.cancelTimer(.e)] }

  private mutating func terminate(_ actions: [TransactionAction<Message>])
    -> [TransactionAction<Message>]
  {
    state = .terminated
    return actions + [.terminate]
  }
}
