/// A value of an event-specific trace field.
public enum TraceValue: Sendable, Hashable {
  case string(String)
  case integer(Int64)
  case bool(Bool)
}

extension TraceValue: CustomStringConvertible {
  /// The value as plain text (a string without quotes).
  public var description: String {
    switch self {
    case .string(let text): text
    case .integer(let value): "\(value)"
    case .bool(let value): "\(value)"
    }
  }
}

/// One observable event with its virtual time.
///
/// Network events (`send`, `deliver`, `drop`, `duplicate`, stream events) fill `from`, `to`,
/// `transport` and `bytes`; events that higher layers append (`timer`, `state`, `log`, …) may
/// leave them empty (rendered as JSON `null`). Event-specific fields follow in the order given.
public struct TraceEvent: Sendable, Equatable {
  /// Virtual time in microseconds.
  public var time: Int64
  /// What happened: `send`, `deliver`, `drop`, `duplicate`, `connect`, `accept`, `refused`,
  /// `reset`, `close`, `partition`, `repair`, `crash`, `restart`, `link`, or a higher layer's name.
  public var event: String
  public var from: SocketAddress?
  public var to: SocketAddress?
  public var transport: TransportKind?
  /// Payload size in bytes (0 when there is none).
  public var bytes: Int
  /// The payload, kept as bytes so renderers such as pcap see exactly what was sent.
  public var payload: [UInt8]?
  /// Event-specific fields, in order (for example `packet`, `reason`, `host`).
  public var fields: [(String, TraceValue)]

  public init(
    time: Int64, event: String, from: SocketAddress? = nil, to: SocketAddress? = nil,
    transport: TransportKind? = nil, bytes: Int = 0, payload: [UInt8]? = nil,
    fields: [(String, TraceValue)] = []
  ) {
    self.time = time
    self.event = event
    self.from = from
    self.to = to
    self.transport = transport
    self.bytes = bytes
    self.payload = payload
    self.fields = fields
  }

  public static func == (lhs: TraceEvent, rhs: TraceEvent) -> Bool {
    lhs.time == rhs.time && lhs.event == rhs.event && lhs.from == rhs.from && lhs.to == rhs.to
      && lhs.transport == rhs.transport && lhs.bytes == rhs.bytes && lhs.payload == rhs.payload
      && lhs.fields.elementsEqual(rhs.fields) { $0.0 == $1.0 && $0.1 == $1.1 }
  }

  /// The value of field `name`, if present.
  public func field(_ name: String) -> TraceValue? {
    fields.first { $0.0 == name }?.1
  }

  /// One JSON object, keys in the documented order: `t`, `event`, `from`, `to`, `transport`,
  /// `bytes`, then the event's fields, then `payload` (UTF-8 text, invalid sequences replaced
  /// by U+FFFD) when there is one.
  public var jsonLine: String {
    var line = "{\"t\":\(time),\"event\":"
    JSONString.appendString(event, to: &line)
    line += ",\"from\":"
    JSONString.appendOptional(from?.description, to: &line)
    line += ",\"to\":"
    JSONString.appendOptional(to?.description, to: &line)
    line += ",\"transport\":"
    JSONString.appendOptional(transport?.rawValue, to: &line)
    line += ",\"bytes\":\(bytes)"
    for (name, value) in fields {
      line += ","
      JSONString.appendString(name, to: &line)
      line += ":"
      switch value {
      case .string(let text): JSONString.appendString(text, to: &line)
      case .integer(let number): line += String(number)
      case .bool(let flag): line += flag ? "true" : "false"
      }
    }
    if let payload {
      line += ",\"payload\":"
      JSONString.appendString(String(decoding: payload, as: UTF8.self), to: &line)
    }
    line += "}"
    return line
  }
}

/// JSON string escaping (RFC 8259 §7): quote, backslash and control characters. Public so the
/// command-line tool writes its JSON with the same rules as the trace.
public enum JSONString {
  /// `text` as a JSON string literal, or `null`.
  public static func quoted(_ text: String?) -> String {
    var out = ""
    appendOptional(text, to: &out)
    return out
  }

  static func appendOptional(_ text: String?, to line: inout String) {
    if let text { appendString(text, to: &line) } else { line += "null" }
  }

  static func appendString(_ text: String, to line: inout String) {
    line += "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": line += "\\\""
      case "\\": line += "\\\\"
      case "\n": line += "\\n"
      case "\r": line += "\\r"
      case "\t": line += "\\t"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7F {
          let hex = String(scalar.value, radix: 16)
          line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          line.unicodeScalars.append(scalar)
        }
      }
    }
    line += "\""
  }
}

/// The record of everything observable in one simulation, in the order it happened.
///
/// Renderers (JSON Lines, ladder, pcap, statistics) read the trace and nothing else. Higher
/// layers append their own events (`timer`, `state`, `log`) with `record`. `annotators` may add
/// fields to packet events as they are recorded (a SIP layer adds `method` / `status`), so the
/// kernel stays ignorant of what the bytes mean.
public final class Trace: @unchecked Sendable {
  /// Whether events are kept. Benchmarks turn it off; counts are kept either way.
  public var isRecording: Bool {
    get { recording }
    set { recording = newValue }
  }
  // Unchecked exclusivity: one driving thread, no access held across a call out; every packet
  // touches these, and a dynamic check each time cost more than the bookkeeping itself. The
  // attribute covers accesses compiled in this module only: another module reading a public
  // stored property reaches its field directly, checked at run time (every element event did),
  // so other modules go through the accessor above.
  @exclusivity(unchecked) var recording: Bool
  /// Whether packet payloads are kept in recorded events.
  public var keepsPayloads: Bool
  @exclusivity(unchecked) public private(set) var events: [TraceEvent] = []
  /// Events recorded (or that would have been, when not recording).
  @exclusivity(unchecked) public private(set) var count = 0
  /// Hooks that add fields to an event before it is stored, in the order added.
  private var annotators: [(inout TraceEvent) -> Void] = []
  private var annotatorNames: [String] = []

  public init(isRecording: Bool = true, keepsPayloads: Bool = true) {
    recording = isRecording
    self.keepsPayloads = keepsPayloads
  }

  /// Adds a hook that may add fields to each event as it is recorded.
  public func addAnnotator(_ annotator: @escaping (inout TraceEvent) -> Void) {
    annotators.append(annotator)
  }

  /// Adds a hook under `name`, unless one with that name is already there (several elements
  /// sharing a network each ask for the same annotator).
  public func addAnnotator(named name: String, _ annotator: @escaping (inout TraceEvent) -> Void) {
    guard !annotatorNames.contains(name) else { return }
    annotatorNames.append(name)
    annotators.append(annotator)
  }

  /// Counts an event that was not recorded (the network's fast path when not recording).
  func countUnrecorded() { count += 1 }

  /// Appends an event (a higher layer's timer, state change or log line, or a network event).
  public func record(_ event: TraceEvent) {
    count += 1
    guard isRecording else { return }
    var event = event
    // Annotators see the payload even when it is not kept (they derive fields from it).
    for annotator in annotators { annotator(&event) }
    if !keepsPayloads { event.payload = nil }
    events.append(event)
  }

  /// The events as JSON Lines: one object per line, each line ending in `\n`.
  public func jsonLines() -> String {
    var text = ""
    for event in events {
      text += event.jsonLine
      text += "\n"
    }
    return text
  }

  /// Events whose name is `name`.
  public func events(named name: String) -> [TraceEvent] { events.filter { $0.event == name } }
}
