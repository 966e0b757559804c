/// An IPv4 or IPv6 address of a simulated host.
///
/// Addresses are plain values so that traces, pcap output and SIP headers (Via sent-by,
/// Contact) can carry the same text a real network would show.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
  /// An IPv4 address, most significant byte first (`10.0.0.1` is `0x0A00_0001`).
  case v4(UInt32)
  /// An IPv6 address as its high and low 64 bits.
  case v6(high: UInt64, low: UInt64)

  /// Parses dotted-quad IPv4 (`192.0.2.1`) or IPv6 text (`2001:db8::1`, with `::`
  /// compression; brackets allowed). Returns nil for anything else.
  public init?(_ text: String) {
    // Dotted quads are parsed over the UTF-8 bytes: every SIP message sent or received turns
    // an address text into an address, so this must not split or allocate.
    // Over the contiguous bytes (stepping a String's UTF-8 view cost ~20 instructions a byte).
    // In place when the string has contiguous bytes (a `var` copy for `withUTF8` retained and
    // released the string every time).
    let scan = { (bytes: UnsafeBufferPointer<UInt8>) in
      (Self.parseV4(bytes), bytes.contains(UInt8(ascii: ":")))
    }
    let (v4, hasColon) =
      text.utf8.withContiguousStorageIfAvailable(scan)
      ?? {
        var copy = text
        return copy.withUTF8(scan)
      }()
    if let v4 {
      self = .v4(v4)
      return
    }
    // IPv6 text always holds a colon: a host name (what most peers are) is turned away on its
    // bytes, before the Character-by-Character work below (3,500 instructions a name).
    guard hasColon else { return nil }
    var body = Substring(text)
    if body.hasPrefix("["), body.hasSuffix("]") { body = body.dropFirst().dropLast() }
    guard body.contains(":"), let value = Self.parseV6(body) else { return nil }
    self = value
  }

  /// `a.b.c.d` with 1–3 decimal digits per octet, each ≤ 255; nil for anything else.
  private static func parseV4(_ text: UnsafeBufferPointer<UInt8>) -> UInt32? {
    var value: UInt32 = 0
    var octet: UInt32 = 0
    var digits = 0
    var dots = 0
    for byte in text {
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"):
        digits += 1
        octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
        guard digits <= 3, octet <= 255 else { return nil }
      case UInt8(ascii: "."):
        guard digits > 0, dots < 3 else { return nil }
        dots += 1
        value = value << 8 | octet
        octet = 0
        digits = 0
      default:
        return nil
      }
    }
    guard dots == 3, digits > 0 else { return nil }
    return value << 8 | octet
  }

  private static func parseV6(_ text: Substring) -> IPAddress? {
    func groups(_ part: Substring) -> [UInt16]? {
      if part.isEmpty { return [] }
      var result: [UInt16] = []
      for group in part.split(separator: ":", omittingEmptySubsequences: false) {
        guard !group.isEmpty, group.count <= 4, let value = UInt16(group, radix: 16) else {
          return nil
        }
        result.append(value)
      }
      return result
    }
    var words: [UInt16]
    let colons = text.indices.filter { text[$0] == ":" }
    let double = colons.first { index in
      text.index(after: index) < text.endIndex && text[text.index(after: index)] == ":"
    }
    if let double {
      let after = text.index(double, offsetBy: 2)
      guard let head = groups(text[..<double]),
        let tail = groups(text[after...]), head.count + tail.count < 8
      else { return nil }
      words = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
    } else {
      guard let all = groups(text), all.count == 8 else { return nil }
      words = all
    }
    var high: UInt64 = 0
    var low: UInt64 = 0
    for (index, word) in words.enumerated() {
      if index < 4 { high = high << 16 | UInt64(word) } else { low = low << 16 | UInt64(word) }
    }
    return .v6(high: high, low: low)
  }

  /// Whether this is an IPv6 address.
  public var isV6: Bool {
    if case .v6 = self { return true }
    return false
  }

  /// Dotted quad for IPv4; RFC 5952 text for IPv6 (lower case, longest zero run as `::`).
  public var description: String {
    switch self {
    case .v4(let value):
      // Written byte by byte into the string's own storage: at most 15 bytes, which a String
      // keeps inline, so nothing is allocated (interpolating four integers allocated several
      // times, a byte array once), and a description is made for every message received.
      return String(unsafeUninitializedCapacity: 15) { text in
        var count = 0
        for shift in stride(from: 24, through: 0, by: -8) {
          let octet = UInt8(truncatingIfNeeded: value >> UInt32(shift))
          if octet >= 100 {
            text[count] = UInt8(ascii: "0") + octet / 100
            count += 1
          }
          if octet >= 10 {
            text[count] = UInt8(ascii: "0") + octet / 10 % 10
            count += 1
          }
          text[count] = UInt8(ascii: "0") + octet % 10
          count += 1
          if shift > 0 {
            text[count] = UInt8(ascii: ".")
            count += 1
          }
        }
        return count
      }
    case .v6(let high, let low):
      var words: [UInt16] = []
      for shift in stride(from: 48, through: 0, by: -16) {
        words.append(UInt16(high >> shift & 0xFFFF))
      }
      for shift in stride(from: 48, through: 0, by: -16) {
        words.append(UInt16(low >> shift & 0xFFFF))
      }
      var bestStart = -1
      var bestLength = 1
      var index = 0
      while index < 8 {
        if words[index] == 0 {
          var end = index
          while end < 8, words[end] == 0 { end += 1 }
          if end - index > bestLength {
            bestStart = index
            bestLength = end - index
          }
          index = end
        } else {
          index += 1
        }
      }
      func hex(_ range: Range<Int>) -> String {
        words[range].map { String($0, radix: 16) }.joined(separator: ":")
      }
      if bestStart < 0 { return hex(0..<8) }
      return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
  }

  /// The 4 or 16 bytes of the address in network order (for pcap headers).
  public var bytes: [UInt8] {
    switch self {
    case .v4(let value): return (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
    case .v6(let high, let low):
      return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
        + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }
  }
}

/// An address and a port: one end of a datagram or a stream.
public struct SocketAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var address: IPAddress
  public var port: UInt16

  public init(_ address: IPAddress, _ port: UInt16) {
    self.address = address
    self.port = port
  }

  /// `192.0.2.1:5060`, or `[2001:db8::1]:5060` for IPv6 (RFC 3986 host syntax).
  public var description: String {
    address.isV6 ? "[\(address)]:\(port)" : "\(address):\(port)"
  }

  public static func < (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
    lhs.address != rhs.address ? lhs.address < rhs.address : lhs.port < rhs.port
  }
}

/// The transport a packet travels on, as the trace names it.
public enum TransportKind: String, Sendable, Hashable {
  case udp = "UDP"
  case tcp = "TCP"
  case tls = "TLS"
}
