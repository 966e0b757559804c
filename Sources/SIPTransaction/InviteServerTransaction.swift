/// The INVITE server transaction: RFC 3261 §17.2.1, Figure 7, as amended by RFC 6026 §7.1 (the
/// Accepted state and Timer L: a 2xx no longer terminates the transaction, so retransmitted
/// INVITEs are absorbed instead of looking like new requests).
///
/// ```
/// Proceeding --300-699 from TU--> Completed --ACK--> Confirmed --Timer I--> Terminated
///     |                              +--Timer H / transport error--> Terminated (inform TU)
///     +--2xx from TU--> Accepted --Timer L--> Terminated
///     +--transport error--> Terminated (inform TU)
/// ```
public struct InviteServerTransaction<Message: Sendable>: Sendable {
  public private(set) var state: TransactionState = .proceeding
  public let isReliable: Bool
  public let timers: TimerSettings
  /// The last response sent: what a retransmitted INVITE gets back in Proceeding and
  /// Completed. Let go (nil) in Accepted and Confirmed, which absorb retransmissions (RFC 6026
  /// §7.1, §17.2.1) and last 64·T1 and T4 longer: a 2xx kept there was memory and nothing else.
  public private(set) var lastResponse: Message?
  /// The current Timer G interval.
  public private(set) var intervalG: Duration

  public enum Event: Sendable {
    /// The INVITE arrived again.
    case requestRetransmission
    /// An ACK matched this transaction (a non-2xx ACK in Completed; the 2xx ACK in Accepted).
    case ack(Message)
    /// The TU passes a response down.
    case tuResponse(status: Int, Message)
    case timerFired(TransactionTimer)
    case transportError
  }

  public init(isReliable: Bool, timers: TimerSettings = .rfc3261) {
    self.isReliable = isReliable
    self.timers = timers
    intervalG = timers.t1
  }

  /// Enters Proceeding (the layer passes the INVITE to the TU): wait 200 ms for the TU before
  /// sending 100 Trying.
  public mutating func start() -> [TransactionAction<Message>] {
    var actions = [TransactionAction<Message>].reserving(1)
    start(into: &actions)
    return actions
  }

  /// ``start()`` appending to the caller's array (the layer's, reused from event to event).
  public mutating func start(into actions: inout [TransactionAction<Message>]) {
    actions.append(.startTimer(.trying, timers.trying))
  }

  public mutating func handle(_ event: Event) -> [TransactionAction<Message>] {
    var actions = [TransactionAction<Message>].reserving(4)
    handle(event, into: &actions)
    return actions
  }

  /// ``handle(_:)`` appending to the caller's array (the layer's, reused from event to event).
  public mutating func handle(_ event: Event, into actions: inout [TransactionAction<Message>]) {
    switch (state, event) {
    case (.proceeding, .timerFired(.trying)):
      if lastResponse == nil { actions.append(.send100Trying) }
    case (.proceeding, .requestRetransmission):
      // The most recent provisional response, or nothing if none was sent yet.
      if let lastResponse { actions.append(.send(lastResponse)) }
    case (.proceeding, .tuResponse(let status, let response)):
      lastResponse = response
      actions.append(.cancelTimer(.trying))
      actions.append(.send(response))
      switch ResponseClass(status) {
      case .provisional:
        break
      case .success:
        state = .accepted
        lastResponse = nil
        actions.append(.startTimer(.l, timers.transactionTimeout))
      case .failure:
        state = .completed
        if !isReliable { actions.append(.startTimer(.g, intervalG)) }
        actions.append(.startTimer(.h, timers.transactionTimeout))
      }
    case (.proceeding, .transportError):
      actions.append(.cancelTimer(.trying))
      actions.append(.transportError)
      terminate(&actions)
    case (.completed, .requestRetransmission):
      if let lastResponse { actions.append(.send(lastResponse)) }
    case (.completed, .timerFired(.g)):
      intervalG = min(intervalG * 2, timers.t2)
      if let lastResponse { actions.append(.send(lastResponse)) }
      actions.append(.startTimer(.g, intervalG))
    case (.completed, .ack):
      state = .confirmed
      lastResponse = nil
      stopG(&actions)
      actions.append(.cancelTimer(.h))
      actions.append(.startTimer(.i, isReliable ? .zero : timers.t4))
    case (.completed, .timerFired(.h)):
      stopG(&actions)
      actions.append(.timeout(.h))
      terminate(&actions)
    case (.completed, .transportError):
      stopG(&actions)
      actions.append(.cancelTimer(.h))
      actions.append(.transportError)
      terminate(&actions)
    case (.confirmed, .timerFired(.i)):
      terminate(&actions)
    case (.accepted, .tuResponse(let status, let response)):
      // The TU (the UAS core, §13.3.1.4) retransmits its 2xx through the transaction.
      guard ResponseClass(status) == .success else { return }
      actions.append(.send(response))
    case (.accepted, .ack(let ack)):
      // RFC 6026 §8.7: the ACK for a 2xx goes up to the TU.
      actions.append(.passToTU(ack))
    case (.accepted, .timerFired(.l)):
      terminate(&actions)
    default:
      // Confirmed absorbs ACKs; Accepted absorbs INVITE retransmissions (RFC 6026 §8.7) and
      // transport errors (the TU's 2xx retransmissions go on); stale timers do nothing.
      break
    }
  }

  /// Timer G's cancel (unreliable only).
  private func stopG(_ actions: inout [TransactionAction<Message>]) {
    if !isReliable { actions.append(.cancelTimer(.g)) }
  }

  /// Enters Terminated: `terminate` after the actions already appended.
  private mutating func terminate(_ actions: inout [TransactionAction<Message>]) {
    state = .terminated
    lastResponse = nil
    actions.append(.terminate)
  }
}
