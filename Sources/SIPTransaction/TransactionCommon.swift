/// The timer values of RFC 3261 §17 (Table 4 of Appendix A), configurable per element.
///
/// T1 is the round-trip estimate (500 ms), T2 the cap on non-INVITE and INVITE-response
/// retransmission intervals (4 s), T4 the longest a message lives in the network (5 s).
public struct TimerSettings: Sendable, Equatable {
  // Kept in whole microseconds, the simulation's unit of time (a `Duration` is 16 bytes, and
  // every endpoint and every transaction keeps a copy of these settings).
  private var t1Micros: Int64
  private var t2Micros: Int64
  private var t4Micros: Int64
  private var tryingMicros: Int64

  public var t1: Duration {
    get { .microseconds(t1Micros) }
    set { t1Micros = newValue.wholeMicroseconds }
  }
  public var t2: Duration {
    get { .microseconds(t2Micros) }
    set { t2Micros = newValue.wholeMicroseconds }
  }
  public var t4: Duration {
    get { .microseconds(t4Micros) }
    set { t4Micros = newValue.wholeMicroseconds }
  }
  /// How long an INVITE server transaction waits for the TU before sending 100 Trying itself
  /// (§17.2.1: "unless it knows that the TU will generate a provisional or final response within
  /// 200 ms").
  public var trying: Duration {
    get { .microseconds(tryingMicros) }
    set { tryingMicros = newValue.wholeMicroseconds }
  }

  /// Values are kept to the microsecond (finer parts are dropped).
  public init(
    t1: Duration = .milliseconds(500), t2: Duration = .seconds(4), t4: Duration = .seconds(5),
    trying: Duration = .milliseconds(200)
  ) {
    t1Micros = t1.wholeMicroseconds
    t2Micros = t2.wholeMicroseconds
    t4Micros = t4.wholeMicroseconds
    tryingMicros = trying.wholeMicroseconds
  }

  /// The RFC's defaults.
  public static let rfc3261 = TimerSettings()

  /// 64·T1: Timers B, F, H, J (unreliable), L and M.
  public var transactionTimeout: Duration {
    // In microseconds: `Duration * Int` is generic, and ran unspecialized (~400 instructions,
    // twice per transaction).
    let (micros, overflow) = t1Micros.multipliedReportingOverflow(by: 64)
    return overflow ? t1 * 64 : .microseconds(micros)
  }
}

/// Timer settings behind a reference, for owners that share them (every endpoint of a
/// network made with equal settings).
package final class TimerSettingsBox: Sendable {
  package let settings: TimerSettings
  package init(_ settings: TimerSettings) { self.settings = settings }
}

/// The timers of §17 (A–K) and RFC 6026 (L, M), plus the INVITE server's 200 ms wait before it
/// sends 100 Trying on the TU's behalf.
public enum TransactionTimer: String, Sendable, Hashable, CaseIterable {
  case a = "A", b = "B", d = "D", e = "E", f = "F", g = "G", h = "H", i = "I", j = "J", k = "K"
  case l = "L", m = "M"
  /// Not a lettered timer: §17.2.1's 200 ms before the transaction sends 100 Trying itself.
  case trying = "Trying"

  // A raw-value enum hashes and compares its raw String by default (the standard library's
  // RawRepresentable implementations): these are hashed and compared on every message and timer,
  // so they use the case's position instead.
  package var ordinal: UInt8 {
    switch self {
    case .a: 0
    case .b: 1
    case .d: 2
    case .e: 3
    case .f: 4
    case .g: 5
    case .h: 6
    case .i: 7
    case .j: 8
    case .k: 9
    case .l: 10
    case .m: 11
    case .trying: 12
    }
  }

  /// The timer at `ordinal` (the inverse of ``ordinal``); nil past the last.
  init?(ordinal: UInt8) {
    switch ordinal {
    case 0: self = .a
    case 1: self = .b
    case 2: self = .d
    case 3: self = .e
    case 4: self = .f
    case 5: self = .g
    case 6: self = .h
    case 7: self = .i
    case 8: self = .j
    case 9: self = .k
    case 10: self = .l
    case 11: self = .m
    case 12: self = .trying
    default: return nil
    }
  }

  public static func == (lhs: Self, rhs: Self) -> Bool { lhs.ordinal == rhs.ordinal }

  public func hash(into hasher: inout Hasher) { hasher.combine(ordinal) }
}

/// The states of the four machines (Figures 5–8 of RFC 3261, with RFC 6026's Accepted).
public enum TransactionState: String, Sendable, Hashable {
  case calling = "Calling"
  case trying = "Trying"
  case proceeding = "Proceeding"
  case completed = "Completed"
  case confirmed = "Confirmed"
  case accepted = "Accepted"
  case terminated = "Terminated"

  // A raw-value enum hashes and compares its raw String by default (the standard library's
  // RawRepresentable implementations): these are hashed and compared on every message and timer,
  // so they use the case's position instead.
  var ordinal: UInt8 {
    switch self {
    case .calling: 0
    case .trying: 1
    case .proceeding: 2
    case .completed: 3
    case .confirmed: 4
    case .accepted: 5
    case .terminated: 6
    }
  }

  public static func == (lhs: Self, rhs: Self) -> Bool { lhs.ordinal == rhs.ordinal }

  public func hash(into hasher: inout Hasher) { hasher.combine(ordinal) }
}

/// What a machine asks its owner (the transaction layer) to do. The machines are pure: they never
/// send, arm a timer or call the TU themselves.
public enum TransactionAction<Message: Sendable>: Sendable {
  /// Pass this message to the transport (a request, a retransmission, or a response).
  case send(Message)
  /// INVITE client: build the ACK for this non-2xx final response (§17.1.1.3) and send it.
  case sendACK(for: Message)
  /// INVITE server: build a 100 Trying for the request (§8.2.6, §17.2.1) and send it.
  case send100Trying
  /// Hand this message up to the transaction user.
  case passToTU(Message)
  /// Arm (or re-arm) a timer for this duration.
  case startTimer(TransactionTimer, Duration)
  /// Disarm a timer.
  case cancelTimer(TransactionTimer)
  /// Tell the TU the transaction timed out (Timer B, F or H): §8.1.3.1 turns it into a 408.
  case timeout(TransactionTimer)
  /// Tell the TU the transport failed (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2): a 503 for a UAC.
  case transportError
  /// The machine reached Terminated: destroy the transaction now.
  case terminate
}

extension TransactionAction: Equatable where Message: Equatable {}

/// The status-code classes a machine tells apart.
enum ResponseClass {
  case provisional, success, failure

  init(_ status: Int) {
    switch status {
    case ..<200: self = .provisional
    case 200..<300: self = .success
    default: self = .failure
    }
  }
}

extension Array {
  /// An empty array with room for `capacity` elements: what a machine's array-returning calls
  /// start from before appending (joining small literal lists with `+` allocated every list and
  /// the result).
  static func reserving(_ capacity: Int) -> Self {
    var array = Self()
    array.reserveCapacity(capacity)
    return array
  }
}
