/// Character classes of RFC 3261 §25.1, as byte predicates. The parser works on bytes, so these
/// are table lookups, never `Character` comparisons.
enum Syntax {
  static let cr: UInt8 = 13
  static let lf: UInt8 = 10
  static let space: UInt8 = 32
  static let tab: UInt8 = 9
  static let colon = UInt8(ascii: ":")
  static let semicolon = UInt8(ascii: ";")
  static let comma = UInt8(ascii: ",")
  static let equals = UInt8(ascii: "=")
  static let quote = UInt8(ascii: "\"")
  static let backslash = UInt8(ascii: "\\")
  static let less = UInt8(ascii: "<")
  static let greater = UInt8(ascii: ">")
  static let slash = UInt8(ascii: "/")
  static let percent = UInt8(ascii: "%")
  static let at = UInt8(ascii: "@")
  static let question = UInt8(ascii: "?")
  static let ampersand = UInt8(ascii: "&")

  static func isAlpha(_ byte: UInt8) -> Bool { (byte | 0x20) >= 97 && (byte | 0x20) <= 122 }
  static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
  static func isAlphanumeric(_ byte: UInt8) -> Bool { isAlpha(byte) || isDigit(byte) }
  static func isHex(_ byte: UInt8) -> Bool {
    isDigit(byte) || ((byte | 0x20) >= 97 && (byte | 0x20) <= 102)
  }
  static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

  private static func table(_ extra: String, alphanumeric: Bool = true) -> [Bool] {
    var table = [Bool](repeating: false, count: 256)
    if alphanumeric {
      for byte in UInt8(48)...57 { table[Int(byte)] = true }
      for byte in UInt8(65)...90 { table[Int(byte)] = true }
      for byte in UInt8(97)...122 { table[Int(byte)] = true }
    }
    for byte in extra.utf8 { table[Int(byte)] = true }
    return table
  }

  /// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
  static let tokenTable = table("-.!%*_+`'~")
  /// word = 1*(token chars / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" /
  /// "?" / "{" / "}")  — Call-ID.
  static let wordTable = table("-.!%*_+`'~()<>:\\\"/[]?{}")
  /// unreserved = alphanum / mark; mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
  static let unreservedTable = table("-_.!~*'()")
  /// user = 1*(unreserved / escaped / user-unreserved); user-unreserved = & = + $ , ; ? /
  static let userTable = table("-_.!~*'()&=+$,;?/")
  /// password = *(unreserved / escaped / & = + $ ,)
  static let passwordTable = table("-_.!~*'()&=+$,")
  /// paramchar = param-unreserved / unreserved / escaped; param-unreserved = [ ] / : & + $
  static let paramTable = table("-_.!~*'()[]/:&+$")
  /// hnv-unreserved = [ ] / ? : + $ with unreserved (URI headers)
  static let headerValueTable = table("-_.!~*'()[]/?:+$")
  /// Host names, IPv4 and what may sit inside an IPv6 reference.
  static let hostTable = table("-._")

  /// A switch, not the table: the parser's hottest test, and a static table costs a lazy-init
  /// check on every access.
  @inline(__always)
  static func isToken(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
    case 0x2D, 0x2E, 0x21, 0x25, 0x2A, 0x5F, 0x2B, 0x60, 0x27, 0x7E: return true
    default: return false
    }
  }
  static func isWord(_ byte: UInt8) -> Bool { wordTable[Int(byte)] }

  /// The compact readers' port (Via sent-by, URI hostport): 1 to 5 digits at `index`, at most
  /// 65535 and not followed by another digit, with `index` moved past them; nil otherwise (the
  /// full grammar then reads the value, with its errors).
  @inline(__always)
  static func compactPort(_ bytes: UnsafeBufferPointer<UInt8>, at index: inout Int) -> Int? {
    let start = index
    var value = 0
    while index < bytes.count, isDigit(bytes[index]), index - start < 5 {
      value = value &* 10 &+ Int(bytes[index] &- 48)
      index += 1
    }
    guard index > start, value <= 65535, index == bytes.count || !isDigit(bytes[index]) else {
      return nil
    }
    return value
  }

  /// The compact readers' number (CSeq, Expires): whitespace, 1 to 10 digits at most
  /// `UInt32.max`, whitespace, from `index`, with `index` moved past them; nil otherwise (the
  /// grammar then reads the value, with its errors).
  static func compactDecimal(_ bytes: UnsafeBufferPointer<UInt8>, at index: inout Int) -> UInt32? {
    let count = bytes.count
    while index < count, isWhitespace(bytes[index]) { index += 1 }
    let digits = index
    var number: UInt64 = 0
    while index < count, isDigit(bytes[index]) {
      guard index - digits < 10 else { return nil }
      number = number * 10 + UInt64(bytes[index] &- 48)
      index += 1
    }
    guard index > digits, number <= UInt64(UInt32.max) else { return nil }
    while index < count, isWhitespace(bytes[index]) { index += 1 }
    return UInt32(number)
  }

  /// ``hostTable`` as a switch, for the scans of every message's top Via.
  @inline(__always)
  static func isHostByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F: return true
    default: return false
    }
  }

  /// ASCII lower case of one byte.
  static func lower(_ byte: UInt8) -> UInt8 {
    byte >= 65 && byte <= 90 ? byte | 0x20 : byte
  }

  /// Case-insensitive comparison of bytes with an ASCII string given in lower case.
  static func equalsLowercase(_ bytes: some Collection<UInt8>, _ lowercase: String) -> Bool {
    guard bytes.count == lowercase.utf8.count else { return false }
    return lowercase.withUTF8Bytes { wanted in
      var index = 0
      for byte in bytes {
        if lower(byte) != wanted[index] { return false }
        index += 1
      }
      return true
    }
  }

  /// Decodes %HH escapes exactly once (RFC 3261 §19.1.2: "unescaped ... exactly once").
  /// Returns nil on a malformed escape.
  static func unescape(_ bytes: some Collection<UInt8>) -> [UInt8]? {
    var result: [UInt8] = []
    result.reserveCapacity(bytes.count)
    var iterator = bytes.makeIterator()
    while let byte = iterator.next() {
      if byte == percent {
        guard let high = iterator.next(), let low = iterator.next(), let h = hexValue(high),
          let l = hexValue(low)
        else { return nil }
        result.append(h << 4 | l)
      } else {
        result.append(byte)
      }
    }
    return result
  }

  /// ``unescape(_:)`` as a string; without a `%` the bytes are taken as they are (no copy to
  /// undo nothing: URIs are parsed on every hop).
  static func unescapedString(_ bytes: ArraySlice<UInt8>) -> String? {
    guard bytes.contains(percent) else { return string(bytes) }
    return unescape(bytes).map { string($0) }
  }

  /// Decimal digits as a number, nil when a byte is not a digit or there are more than
  /// `maximumDigits`.
  static func decimal(_ bytes: ArraySlice<UInt8>, maximumDigits: Int) -> Int? {
    guard !bytes.isEmpty, bytes.count <= maximumDigits else { return nil }
    var value = 0
    for byte in bytes {
      guard isDigit(byte) else { return nil }
      value = value * 10 + Int(byte - 48)
    }
    return value
  }

  static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 48...57: return byte - 48
    case 65...70: return byte - 55
    case 97...102: return byte - 87
    default: return nil
    }
  }

  /// Escapes every byte not in `allowed` as %HH (upper-case hex).
  static func escape(_ bytes: some Sequence<UInt8>, allowed: [Bool]) -> String {
    var out: [UInt8] = []
    appendEscaped(bytes, allowed: allowed, to: &out)
    return String(decoding: out, as: UTF8.self)
  }

  /// Appends `bytes`, %-escaping those `allowed` refuses (§19.1.2).
  static func appendEscaped(_ bytes: some Sequence<UInt8>, allowed: [Bool], to out: inout [UInt8]) {
    for byte in bytes {
      if allowed[Int(byte)] {
        out.append(byte)
      } else {
        out.append(percent)
        out.append(hexDigits[Int(byte >> 4)])
        out.append(hexDigits[Int(byte & 15)])
      }
    }
  }

  /// ``appendEscaped(_:allowed:to:)`` for a string, over its contiguous bytes, appended in one
  /// copy when none needs escaping (the usual case: every URI printed goes through here, and
  /// stepping a String's UTF-8 view cost ~20 instructions a byte).
  static func appendEscaped(_ text: String, allowed: [Bool], to out: inout [UInt8]) {
    text.withUTF8Bytes { bytes in
      if allowed.withUnsafeBufferPointer({ table in bytes.allSatisfy { table[Int($0)] } }) {
        out.append(contentsOf: bytes)
      } else {
        appendEscaped(bytes, allowed: allowed, to: &out)
      }
    }
  }

  static let hexDigits = Array("0123456789ABCDEF".utf8)
  static let lowerHexDigits = Array("0123456789abcdef".utf8)

  /// Appends `host[:port]` (a URI's hostport, a Via's sent-by).
  static func appendHostPort(_ host: String, _ port: Int?, to out: inout [UInt8]) {
    append(host, to: &out)
    if let port {
      out.append(colon)
      appendDecimal(port, to: &out)
    }
  }

  /// Appends `;name[=value]` for each header parameter (a Via's, a name-addr's), as stored.
  static func appendHeaderParameters(_ parameters: [SIPParameter], to out: inout [UInt8]) {
    for parameter in parameters {
      out.append(semicolon)
      append(parameter.name, to: &out)
      if let value = parameter.value {
        out.append(equals)
        append(value, to: &out)
      }
    }
  }

  /// How many bytes `value` takes in decimal, a minus sign included.
  static func decimalCount(_ value: Int) -> Int {
    (value < 0 ? 1 : 0) + digitCount(value.magnitude)
  }

  /// How many decimal digits `value` has.
  static func digitCount(_ value: UInt) -> Int {
    var digits = 1
    var rest = value / 10
    while rest > 0 {
      digits += 1
      rest /= 10
    }
    return digits
  }

  /// Appends the decimal digits of `value` (a minus sign first when negative).
  static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
    if value < 0 { out.append(UInt8(ascii: "-")) }
    appendDecimal(UInt64(value.magnitude), to: &out)
  }

  /// Appends the decimal digits of `value`.
  static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
    // Least significant digit first into 24 bytes on the stack (a UInt64 has at most 20
    // digits), then one append: dividing by the constant 10 is a multiplication, where finding
    // the leading digit's divisor first divided by a variable several times per port and
    // Content-Length. (Reversing through a slice of `out` allocated.)
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
    withUnsafeMutableBytes(of: &digits) { bytes in
      var position = bytes.count
      var rest = value
      repeat {
        position -= 1
        bytes[position] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
        rest /= 10
      } while rest > 0
      out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[position...]))
    }
  }

  /// Appends the UTF-8 of `text` with one copy (appending a `String.UTF8View` goes element by
  /// element).
  static func append(_ text: String, to out: inout [UInt8]) {
    text.withUTF8Bytes { out.append(contentsOf: $0) }
  }

  static func string(_ bytes: some Collection<UInt8>) -> String {
    String(decoding: bytes, as: UTF8.self)
  }

  /// ``string(_:)`` for a token, returning a literal for the few words nearly every Via,
  /// parameter list and start line holds: a literal costs nothing to make or release, and making a `String`
  /// from bytes (validation, then storage) ran several times per Via for the same words. The
  /// bytes are packed into one integer (little end first) and compared, case included, so the
  /// result is the same string either way.
  static func token(_ bytes: some Collection<UInt8>) -> String {
    let count = bytes.count
    guard count >= 2, count <= 8 else { return string(bytes) }
    var packed: UInt64 = 0
    var shift: UInt64 = 0
    for byte in bytes {
      packed |= UInt64(byte) << shift
      shift += 8
    }
    switch (count, packed) {
    case (3, 0x50_4953): return "SIP"
    case (3, 0x30_2E32): return "2.0"
    case (3, 0x50_4455): return "UDP"
    case (3, 0x50_4354): return "TCP"
    case (3, 0x53_4C54): return "TLS"
    case (3, 0x67_6174): return "tag"
    case (3, 0x6C_7474): return "ttl"
    case (6, 0x6863_6E61_7262): return "branch"
    case (5, 0x74_726F_7072): return "rport"
    case (8, 0x6465_7669_6563_6572): return "received"
    case (5, 0x72_6464_616D): return "maddr"
    case (2, 0x726C): return "lr"
    case (4, 0x7265_7375): return "user"
    case (7, 0x73_6572_6970_7865): return "expires"
    // Start lines: the version, the methods, the commonest reason phrases; URI schemes.
    case (7, 0x30_2E32_2F50_4953): return "SIP/2.0"
    case (6, 0x4554_4956_4E49): return "INVITE"
    case (3, 0x4B_4341): return "ACK"
    case (3, 0x45_5942): return "BYE"
    case (6, 0x4C45_434E_4143): return "CANCEL"
    case (7, 0x53_4E4F_4954_504F): return "OPTIONS"
    case (8, 0x5245_5453_4947_4552): return "REGISTER"
    case (2, 0x4B4F): return "OK"
    case (7, 0x67_6E69_676E_6952): return "Ringing"
    case (6, 0x676E_6979_7254): return "Trying"
    case (3, 0x70_6973): return "sip"
    case (4, 0x7370_6973): return "sips"
    default: return string(bytes)
    }
  }
}

extension String {
  /// `withUTF8` on a string that need not be a `var`: the bytes in place (a native string's
  /// storage, or a small string's copy on the stack), or a contiguous copy's when the string
  /// has none. Making a `var` copy to call `withUTF8` retained and released the string's
  /// storage every time, and strings are read this way many times per message.
  @inline(__always)
  package func withUTF8Bytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let result = utf8.withContiguousStorageIfAvailable(body) { return result }
    var copy = self
    return copy.withUTF8(body)
  }

  /// `lowercased()`, returning the string itself when it holds no upper-case ASCII letter and
  /// nothing beyond ASCII (hosts, schemes, parameter values nearly always come lower case):
  /// `lowercased()` makes a new string every time.
  package var lowercasedIfNeeded: String {
    let plain = withUTF8Bytes { bytes in !bytes.contains { ($0 >= 65 && $0 <= 90) || $0 >= 128 } }
    return plain ? self : lowercased()
  }

  /// `uppercased()`, returning the string itself when it holds no lower-case ASCII letter and
  /// nothing beyond ASCII (codec names come upper case).
  package var uppercasedIfNeeded: String {
    let plain = withUTF8Bytes { bytes in !bytes.contains { ($0 >= 97 && $0 <= 122) || $0 >= 128 } }
    return plain ? self : uppercased()
  }

  /// `prefix`, then `value` in lower-case hex padded with zeros to `minimumDigits`, then
  /// `suffix`: branches, tags and Call-IDs (`hex@host`), built as bytes (radix formatting,
  /// padding and interpolation cost several allocations).
  public init(
    lowercaseHex value: UInt64, minimumDigits: Int, prefix: String = "", suffix: String = ""
  ) {
    var digits = 1
    while digits < 16 && value >> UInt64(4 * digits) != 0 { digits += 1 }
    digits = Swift.max(digits, Swift.min(minimumDigits, 16))
    self = prefix.withUTF8Bytes { head in
      suffix.withUTF8Bytes { tail in
        // Written straight into the string's storage: through an array first, it cost an
        // allocation and a validating copy more (~1,500 instructions a branch).
        String(unsafeUninitializedCapacity: head.count + digits + tail.count) { buffer in
          var position = 0
          for byte in head {
            buffer[position] = byte
            position += 1
          }
          for shift in stride(from: 4 * (digits - 1), through: 0, by: -4) {
            let digit = UInt8(truncatingIfNeeded: value >> UInt64(shift)) & 0xF
            buffer[position] = digit < 10 ? 0x30 + digit : 0x57 + digit  // 0-9, a-f
            position += 1
          }
          for byte in tail {
            buffer[position] = byte
            position += 1
          }
          return position
        }
      }
    }
  }

  /// Whether `other` has the same representation (the same small-string bytes, or the same
  /// storage): then the two are equal, byte for byte, without reading either.
  @inline(__always)
  package func isIdentical(to other: String) -> Bool {
    typealias Words = (UInt64, UInt64)
    guard MemoryLayout<String>.size == MemoryLayout<Words>.size else { return false }
    let (left, right) = (unsafeBitCast(self, to: Words.self), unsafeBitCast(other, to: Words.self))
    return left.0 == right.0 && left.1 == right.1
  }

  /// ASCII case-insensitive equality (`Received` is `received`, `EXAMPLE.com` is `example.com`);
  /// other bytes must match exactly. SIP names and hosts are ASCII; this compares them without
  /// the allocations of comparing `lowercased()` copies.
  public func equalsIgnoringASCIICase(_ other: String) -> Bool {
    // Most names compared differ in length: decided before copying either to reach its bytes.
    guard utf8.count == other.utf8.count else { return false }
    // The same bits are the same string: a parameter name the parser made from a literal
    // (`branch`, `rport`) and the literal a lookup asks for are equal small strings.
    if isIdentical(to: other) { return true }
    return withUTF8Bytes { left in
      other.withUTF8Bytes { right in
        guard left.count == right.count else { return false }
        for index in 0..<left.count where Syntax.lower(left[index]) != Syntax.lower(right[index]) {
          return false
        }
        return true
      }
    }
  }
}

/// Appends the decimal digits of `value` (a minus sign first when negative): for printers in
/// other modules (a registrar's `;expires=`), where `String(value)` went through
/// `description`.
package func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
  Syntax.appendDecimal(Int(value), to: &out)
}

/// FNV-1a (64 bits) of `text`'s UTF-8 bytes continued from `hash`, then one more round with
/// 0xFF, a byte no UTF-8 text holds, so that parts hashed in a row cannot run together. Read
/// over the contiguous bytes (stepping a String's UTF-8 view cost ~20 instructions a byte).
/// The same value on every run and machine: a proxy's branches and the transaction layer's
/// key digests come from it.
package func fnv1aPart(_ text: String, continuing hash: UInt64) -> UInt64 {
  let hashed = text.withUTF8Bytes { bytes -> UInt64 in
    var value = hash
    for byte in bytes { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return value
  }
  return (hashed ^ 0xFF) &* 0x0000_0100_0000_01B3
}

/// FNV-1a's offset basis: where `fnv1aPart(_:continuing:)` starts.
package let fnv1aBasis: UInt64 = 0xCBF2_9CE4_8422_2325
