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
  /// The last response sent: what a retransmitted INVITE gets back.
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
    [.startTimer(.trying, timers.trying)]
  }

  public mutating func handle(_ event: Event) -> [TransactionAction<Message>] {
    switch (state, event) {
    case (.proceeding, .timerFired(.trying)):
      return lastResponse == nil ? [.send100Trying] : []
    case (.proceeding, .requestRetransmission):
      // The most recent provisional response, or nothing if none was sent yet.
      return lastResponse.map { [.send($0)] } ?? []
    case (.proceeding, .tuResponse(let status, let response)):
      lastResponse = response
      var actions = [TransactionAction<Message>].reserving(4)
      actions.append(.cancelTimer(.trying))
      actions.append(.send(response))
      switch ResponseClass(status) {
      case .provisional:
        return actions
      case .success:
        state = .accepted
        actions.append(.startTimer(.l, timers.transactionTimeout))
        return actions
      case .failure:
        state = .completed
        if !isReliable { actions.append(.startTimer(.g, intervalG)) }
        actions.append(.startTimer(.h, timers.transactionTimeout))
        return actions
      }
    case (.proceeding, .transportError):
      var actions = [TransactionAction<Message>].reserving(3)
      actions.append(.cancelTimer(.trying))
      actions.append(.transportError)
      return terminate(actions)
    case (.completed, .requestRetransmission):
      return lastResponse.map { [.send($0)] } ?? []
    case (.completed, .timerFired(.g)):
      intervalG = min(intervalG * 2, timers.t2)
      var actions = [TransactionAction<Message>].reserving(2)
      if let lastResponse { actions.append(.send(lastResponse)) }
      actions.append(.startTimer(.g, intervalG))
      return actions
    case (.completed, .ack):
      state = .confirmed
      var actions = stoppingG(room: 3)
      actions.append(.cancelTimer(.h))
      actions.append(.startTimer(.i, isReliable ? .zero : timers.t4))
      return actions
    case (.completed, .timerFired(.h)):
      var actions = stoppingG(room: 3)
      actions.append(.timeout(.h))
      return terminate(actions)
    case (.completed, .transportError):
      var actions = stoppingG(room: 4)
      actions.append(.cancelTimer(.h))
      actions.append(.transportError)
      return terminate(actions)
    case (.confirmed, .timerFired(.i)):
      return terminate(.reserving(1))
    case (.accepted, .tuResponse(let status, let response)):
      // The TU (the UAS core, §13.3.1.4) retransmits its 2xx through the transaction.
      guard ResponseClass(status) == .success else { return [] }
      lastResponse = response
      return [.send(response)]
    case (.accepted, .ack(let ack)):
      // RFC 6026 §8.7: the ACK for a 2xx goes up to the TU.
      return [.passToTU(ack)]
    case (.accepted, .timerFired(.l)):
      return terminate(.reserving(1))
    default:
      // Confirmed absorbs ACKs; Accepted absorbs INVITE retransmissions (RFC 6026 §8.7) and
      // transport errors (the TU's 2xx retransmissions go on); stale timers do nothing.
      return []
    }
  }

  /// A reply with room for `room` actions, starting with Timer G's cancel (unreliable only).
  private func stoppingG(room: Int) -> [TransactionAction<Message>] {
    var actions = [TransactionAction<Message>].reserving(room)
    if !isReliable { actions.append(.cancelTimer(.g)) }
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
