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
      let stopTrying: [TransactionAction<Message>] = [.cancelTimer(.trying)]
      switch ResponseClass(status) {
      case .provisional:
        return stopTrying + [.send(response)]
      case .success:
        state = .accepted
        return stopTrying + [.send(response), .startTimer(.l, timers.transactionTimeout)]
      case .failure:
        state = .completed
        var actions = stopTrying + [.send(response)]
        if !isReliable { actions.append(.startTimer(.g, intervalG)) }
        actions.append(.startTimer(.h, timers.transactionTimeout))
        return actions
      }
    case (.proceeding, .transportError):
      return terminate([.cancelTimer(.trying), .transportError])
    case (.completed, .requestRetransmission):
      return lastResponse.map { [.send($0)] } ?? []
    case (.completed, .timerFired(.g)):
      intervalG = min(intervalG * 2, timers.t2)
      return (lastResponse.map { [.send($0)] } ?? []) + [.startTimer(.g, intervalG)]
    case (.completed, .ack):
      state = .confirmed
      return stopG() + [.cancelTimer(.h), .startTimer(.i, isReliable ? .zero : timers.t4)]
    case (.completed, .timerFired(.h)):
      return terminate(stopG() + [.timeout(.h)])
    case (.completed, .transportError):
      return terminate(stopG() + [.cancelTimer(.h), .transportError])
    case (.confirmed, .timerFired(.i)):
      return terminate([])
    case (.accepted, .tuResponse(let status, let response)):
      // The TU (the UAS core, §13.3.1.4) retransmits its 2xx through the transaction.
      guard ResponseClass(status) == .success else { return [] }
      lastResponse = response
      return [.send(response)]
    case (.accepted, .ack(let ack)):
      // RFC 6026 §8.7: the ACK for a 2xx goes up to the TU.
      return [.passToTU(ack)]
    case (.accepted, .timerFired(.l)):
      return terminate([])
    default:
      // Confirmed absorbs ACKs; Accepted absorbs INVITE retransmissions (RFC 6026 §8.7) and
      // transport errors (the TU's 2xx retransmissions go on); stale timers do nothing.
      return []
    }
  }

  private func stopG() -> [TransactionAction<Message>] { isReliable ? [] : [.cancelTimer(.g)] }

  private mutating func terminate(_ actions: [TransactionAction<Message>])
    -> [TransactionAction<Message>]
  {
    state = .terminated
    return actions + [.terminate]
  }
}
