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
    var actions = [TransactionAction<Message>].reserving(3)
    actions.append(.send(request))
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
      var actions = [TransactionAction<Message>].reserving(3)
      actions.append(.cancelTimer(.a))
      actions.append(.timeout(.b))
      return terminate(actions)
    case (.calling, .transportError):
      var actions = stoppingCallingTimers(room: 4)
      actions.append(.transportError)
      return terminate(actions)
    case (.proceeding, .transportError):
      var actions = [TransactionAction<Message>].reserving(2)
      actions.append(.transportError)
      return terminate(actions)
    case (.completed, .transportError):
      var actions = [TransactionAction<Message>].reserving(3)
      actions.append(.cancelTimer(.d))
      actions.append(.transportError)
      return terminate(actions)
    case (.calling, .response(let status, let response)),
      (.proceeding, .response(let status, let response)):
      switch ResponseClass(status) {
      case .provisional:
        var actions = stoppingCallingTimers(room: 3)
        state = .proceeding
        actions.append(.passToTU(response))
        return actions
      case .success:
        // RFC 6026 §7.2: stay to pass 2xx retransmissions (and forks) to the TU.
        var actions = stoppingCallingTimers(room: 4)
        state = .accepted
        actions.append(.passToTU(response))
        actions.append(.startTimer(.m, timers.transactionTimeout))
        return actions
      case .failure:
        var actions = stoppingCallingTimers(room: 5)
        state = .completed
        actions.append(.sendACK(for: response))
        actions.append(.passToTU(response))
        actions.append(.startTimer(.d, isReliable ? .zero : .seconds(32)))
        return actions
      }
    case (.completed, .response(let status, let response)):
      // A retransmitted final response: answer it with the ACK again, not the TU (§17.1.1.2).
      return ResponseClass(status) == .failure ? [.sendACK(for: response)] : []
    case (.completed, .timerFired(.d)):
      return terminate(.reserving(1))
    case (.accepted, .response(let status, let response)):
      return ResponseClass(status) == .success ? [.passToTU(response)] : []
    case (.accepted, .timerFired(.m)):
      return terminate(.reserving(1))
    default:
      // A stale timer or a response the figure has no arrow for: absorbed.
      return []
    }
  }

  /// A reply with room for `room` actions, starting with the cancels of Timers A (unreliable
  /// only) and B when still Calling.
  private func stoppingCallingTimers(room: Int) -> [TransactionAction<Message>] {
    var actions = [TransactionAction<Message>].reserving(room)
    if state == .calling {
      if !isReliable { actions.append(.cancelTimer(.a)) }
      actions.append(.cancelTimer(.b))
    }
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
