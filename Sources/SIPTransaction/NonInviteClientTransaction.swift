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
    var actions = [TransactionAction<Message>].reserving(3)
    actions.append(.send(request))
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
      var actions = stoppingE(room: 3)
      actions.append(.timeout(.f))
      return terminate(actions)
    case (.trying, .transportError), (.proceeding, .transportError):
      var actions = stoppingE(room: 4)
      actions.append(.cancelTimer(.f))
      actions.append(.transportError)
      return terminate(actions)
    case (.trying, .response(let status, let response)),
      (.proceeding, .response(let status, let response)):
      if ResponseClass(status) == .provisional {
        state = .proceeding
        return [.passToTU(response)]
      }
      var actions = stoppingE(room: 4)
      actions.append(.cancelTimer(.f))
      state = .completed
      actions.append(.passToTU(response))
      actions.append(.startTimer(.k, isReliable ? .zero : timers.t4))
      return actions
    case (.completed, .timerFired(.k)):
      return terminate(.reserving(1))
    default:
      // Completed absorbs response retransmissions; stale timers do nothing.
      return []
    }
  }

  /// A reply with room for `room` actions, starting with Timer E's cancel (unreliable only).
  private func stoppingE(room: Int) -> [TransactionAction<Message>] {
    var actions = [TransactionAction<Message>].reserving(room)
    if !isReliable { actions.append(.cancelTimer(.e)) }
    return actions
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
