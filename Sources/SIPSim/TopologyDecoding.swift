import Foundation

/// Something wrong in a topology file: where (`file`, the JSON path such as
/// `$.hosts[2].behaviour.kind`, and the line when the JSON itself is broken) and what.
public struct TopologyError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The file it came from, when it came from one.
  public var file: String?
  /// The JSON path of the offending value (`$` is the whole document).
  public var path: String
  public var message: String

  public init(file: String? = nil, path: String, message: String) {
    self.file = file
    self.path = path
    self.message = message
  }

  public var description: String {
    (file.map { "\($0): " } ?? "") + "\(path): \(message)"
  }
}

/// A coding key made from any string or index, so every topology type can list the keys it
/// accepts and refuse the rest: nothing a user wrote is silently ignored.
struct AnyKey: CodingKey, ExpressibleByStringLiteral, Sendable {
  var stringValue: String
  var intValue: Int?
  init(stringValue: String) { self.stringValue = stringValue }
  init(intValue: Int) {
    stringValue = String(intValue)
    self.intValue = intValue
  }
  init(stringLiteral value: String) { stringValue = value }
}

extension Decoder {
  /// A keyed container that throws when the object holds a key not in `allowed` (all unknown
  /// keys named, sorted, so the message is the same every run).
  func strictContainer(_ allowed: [String]) throws -> KeyedDecodingContainer<AnyKey> {
    let container = try container(keyedBy: AnyKey.self)
    let unknown = container.allKeys.map(\.stringValue).filter { !allowed.contains($0) }.sorted()
    if let first = unknown.first {
      let others = unknown.count > 1 ? " (and \(unknown.dropFirst().joined(separator: ", ")))" : ""
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: codingPath + [AnyKey(stringValue: first)],
          debugDescription:
            "unknown key '\(first)'\(others); expected one of: \(allowed.joined(separator: ", "))"))
    }
    return container
  }

  /// An error at this value's path.
  func invalid(_ message: String) -> DecodingError {
    .dataCorrupted(.init(codingPath: codingPath, debugDescription: message))
  }
}

extension KeyedDecodingContainer where Key == AnyKey {
  func optional<T: Decodable>(_ key: AnyKey, as type: T.Type = T.self) throws -> T? {
    try naming(key, T.self) { try decodeIfPresent(T.self, forKey: key) }
  }

  func required<T: Decodable>(_ key: AnyKey, as type: T.Type = T.self) throws -> T {
    try naming(key, T.self) { try decode(T.self, forKey: key) }
  }

  /// Runs `decode`, naming `key`'s path when the value is a number its type cannot hold (an
  /// integer out of range, or with a fraction): Foundation's decoder throws its own error
  /// there, not a `DecodingError`, and reports it at no path at all ("The given data was not
  /// valid JSON." at `$`), where every other error names its path.
  private func naming<T, Result>(_ key: AnyKey, _ type: T.Type, _ decode: () throws -> Result)
    throws -> Result
  {
    do {
      return try decode()
    } catch let error as DecodingError {
      throw error
    } catch {
      guard let integer = T.self as? any FixedWidthInteger.Type else {
        throw invalid(key, "expected \(DecodingError.describe(T.self))")
      }
      throw invalid(key, "expected an integer from \(integer.min) to \(integer.max)")
    }
  }

  /// An error at `key`'s path.
  func invalid(_ key: AnyKey, _ message: String) -> DecodingError {
    .dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: message))
  }
}

/// A span of virtual time as topology files write it: `"500ms"`, `"2s"`, `"1.5s"`, `"3m"`,
/// `"250us"`, or a plain number of seconds.
public struct TimeSpan: Sendable, Hashable, Decodable, CustomStringConvertible {
  public var duration: Duration

  public init(_ duration: Duration) { self.duration = duration }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let seconds = try? container.decode(Double.self) {
      guard let span = Self.microseconds(seconds, unit: 1_000_000) else {
        throw decoder.invalid("\(seconds) is not a time span (seconds ≥ 0)")
      }
      duration = span
      return
    }
    guard let text = try? container.decode(String.self) else {
      throw decoder.invalid("expected a time span such as \"500ms\", \"2s\" or a number of seconds")
    }
    guard let span = Self.parse(text) else {
      throw decoder.invalid(
        "'\(text)' is not a time span; write a number and a unit: us, ms, s, m or h (\"1.5s\")")
    }
    duration = span
  }

  /// Parses `"1.5s"` and friends; nil when it is not one.
  public static func parse(_ text: String) -> Duration? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let units: [(String, Double)] = [
      ("us", 1), ("µs", 1), ("ms", 1_000), ("s", 1_000_000), ("m", 60_000_000),
      ("h", 3_600_000_000),
    ]
    for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
      let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
      // "ms" also ends in "s": only a number before the suffix counts.
      guard let value = Double(number) else { continue }
      return microseconds(value, unit: scale)
    }
    return Double(trimmed).flatMap { microseconds($0, unit: 1_000_000) }
  }

  static func microseconds(_ value: Double, unit: Double) -> Duration? {
    let micros = value * unit
    guard micros.isFinite, micros >= 0, micros < 1e15 else { return nil }
    return .microseconds(Int64(micros.rounded()))
  }

  public var description: String { Self.format(duration) }

  /// `1.5s`, `250ms`, `20us`: the shortest exact form.
  public static func format(_ duration: Duration) -> String {
    let (seconds, atto) = duration.components
    let micros = seconds * 1_000_000 + atto / 1_000_000_000_000
    if micros % 1_000_000 == 0 { return "\(micros / 1_000_000)s" }
    if micros % 1_000 == 0 { return "\(micros / 1_000)ms" }
    return "\(micros)us"
  }
}

extension DecodingError {
  /// The JSON path (`$.hosts[1].role`) and a sentence for a decoding failure.
  var topologyError: TopologyError {
    func path(_ keys: [any CodingKey]) -> String {
      keys.reduce("$") { text, key in
        if let index = key.intValue { return text + "[\(index)]" }
        return text + "." + key.stringValue
      }
    }
    switch self {
    case .typeMismatch(let type, let context):
      return TopologyError(
        path: path(context.codingPath), message: "expected \(Self.describe(type))")
    case .valueNotFound(let type, let context):
      return TopologyError(
        path: path(context.codingPath), message: "expected \(Self.describe(type)), found null")
    case .keyNotFound(let key, let context):
      return TopologyError(
        path: path(context.codingPath + [key]), message: "missing required key '\(key.stringValue)'"
      )
    case .dataCorrupted(let context):
      var message = context.debugDescription
      if let underlying = context.underlyingError {
        let detail = (underlying as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        message += " " + (detail ?? "\(underlying)")
      }
      return TopologyError(path: path(context.codingPath), message: message)
    @unknown default:
      return TopologyError(path: "$", message: "\(self)")
    }
  }

  static func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Bool.Type: "true or false"
    case is Int.Type, is UInt64.Type, is UInt32.Type, is Int64.Type: "an integer"
    case is Double.Type: "a number"
    default:
      "\(type)".hasPrefix("Array") ? "an array" : "an object"
    }
  }
}
