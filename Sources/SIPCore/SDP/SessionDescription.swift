/// An SDP error: what is wrong and on which line (1-based) of the description.
public struct SDPError: Error, Sendable, Hashable, CustomStringConvertible {
  public var reason: String
  public var line: Int
  public init(_ reason: String, line: Int) {
    self.reason = reason
    self.line = line
  }
  public var description: String { "\(reason) (SDP line \(line))" }
}

/// A session description (RFC 4566): what a UA offers or answers in a body (RFC 3264).
public struct SessionDescription: Sendable, Hashable {
  /// `o=` (§5.2): who made the session and its version, which a new offer must increment.
  public struct Origin: Sendable, Hashable {
    public var username: String
    public var sessionID: String
    public var sessionVersion: UInt64
    public var networkType: String
    public var addressType: String
    public var address: String

    public init(
      username: String = "-", sessionID: String, sessionVersion: UInt64,
      networkType: String = "IN", addressType: String = "IP4", address: String
    ) {
      self.username = username
      self.sessionID = sessionID
      self.sessionVersion = sessionVersion
      self.networkType = networkType
      self.addressType = addressType
      self.address = address
    }
  }

  /// `c=` (§5.7).
  public struct Connection: Sendable, Hashable {
    public var networkType: String
    public var addressType: String
    public var address: String
    public init(networkType: String = "IN", addressType: String = "IP4", address: String) {
      self.networkType = networkType
      self.addressType = addressType
      self.address = address
    }
  }

  /// `b=` (§5.8).
  public struct Bandwidth: Sendable, Hashable {
    public var type: String
    public var value: UInt64
  }

  /// `t=` (§5.9) with its `r=` lines (§5.10) kept as text.
  public struct Timing: Sendable, Hashable {
    public var start: UInt64
    public var stop: UInt64
    public var repeats: [String] = []
    public init(start: UInt64 = 0, stop: UInt64 = 0, repeats: [String] = []) {
      self.start = start
      self.stop = stop
      self.repeats = repeats
    }
  }

  /// `a=` (§5.13): a property (`a=sendonly`) or a value (`a=rtpmap:0 PCMU/8000`).
  public struct Attribute: Sendable, Hashable {
    public var name: String
    public var value: String?
    public init(_ name: String, _ value: String? = nil) {
      self.name = name
      self.value = value
    }
  }

  public var version = 0
  public var origin: Origin
  public var sessionName: String
  public var information: String?
  public var uri: String?
  public var emails: [String] = []
  public var phones: [String] = []
  public var connection: Connection?
  public var bandwidths: [Bandwidth] = []
  public var timings: [Timing] = [Timing()]
  public var timeZones: String?
  public var key: String?
  public var attributes: [Attribute] = []
  public var media: [MediaDescription] = []

  public init(origin: Origin, sessionName: String = "-", connection: Connection? = nil) {
    self.origin = origin
    self.sessionName = sessionName
    self.connection = connection
  }

  // MARK: Serializing (§5: fields in this order)

  /// The description as text with CRLF line ends.
  public var text: String { String(decoding: bytes, as: UTF8.self) }

  /// The description as a message body: written line by line into one buffer (a call builds
  /// two or three of these).
  public var bytes: [UInt8] {
    // Each line's parts appended straight to the bytes: a variadic list of parts was an array
    // per line and each number a String (an offer or answer went with every INVITE and 200).
    var out: [UInt8] = []
    out.reserveCapacity(256)
    func begin(_ type: UInt8) {
      out.append(type)
      out.append(UInt8(ascii: "="))
    }
    func text(_ part: String) { Syntax.append(part, to: &out) }
    func byte(_ value: UInt8) { out.append(value) }
    func number(_ value: UInt64) { Syntax.appendDecimal(value, to: &out) }
    func end() {
      out.append(Syntax.cr)
      out.append(Syntax.lf)
    }
    func line(_ type: UInt8, _ part: String) {
      begin(type)
      text(part)
      end()
    }
    begin(UInt8(ascii: "v"))
    if version < 0 { byte(UInt8(ascii: "-")) }
    number(UInt64(version.magnitude))
    end()
    begin(UInt8(ascii: "o"))
    text(origin.username)
    byte(Syntax.space)
    text(origin.sessionID)
    byte(Syntax.space)
    number(origin.sessionVersion)
    byte(Syntax.space)
    text(origin.networkType)
    byte(Syntax.space)
    text(origin.addressType)
    byte(Syntax.space)
    text(origin.address)
    end()
    line(UInt8(ascii: "s"), sessionName)
    if let information { line(UInt8(ascii: "i"), information) }
    if let uri { line(UInt8(ascii: "u"), uri) }
    for email in emails { line(UInt8(ascii: "e"), email) }
    for phone in phones { line(UInt8(ascii: "p"), phone) }
    func connectionLine(_ connection: Connection) {
      begin(UInt8(ascii: "c"))
      text(connection.networkType)
      byte(Syntax.space)
      text(connection.addressType)
      byte(Syntax.space)
      text(connection.address)
      end()
    }
    func attributeLine(_ attribute: Attribute) {
      begin(UInt8(ascii: "a"))
      text(attribute.name)
      if let value = attribute.value {
        byte(Syntax.colon)
        text(value)
      }
      end()
    }
    func bandwidthLine(_ bandwidth: Bandwidth) {
      begin(UInt8(ascii: "b"))
      text(bandwidth.type)
      byte(Syntax.colon)
      number(bandwidth.value)
      end()
    }
    if let connection { connectionLine(connection) }
    for bandwidth in bandwidths { bandwidthLine(bandwidth) }
    for timing in timings {
      begin(UInt8(ascii: "t"))
      number(timing.start)
      byte(Syntax.space)
      number(timing.stop)
      end()
      for repeated in timing.repeats { line(UInt8(ascii: "r"), repeated) }
    }
    if let timeZones { line(UInt8(ascii: "z"), timeZones) }
    if let key { line(UInt8(ascii: "k"), key) }
    for attribute in attributes { attributeLine(attribute) }
    for media in media {
      begin(UInt8(ascii: "m"))
      text(media.type)
      byte(Syntax.space)
      if media.port < 0 { byte(UInt8(ascii: "-")) }
      number(UInt64(media.port.magnitude))
      if let count = media.portCount {
        byte(Syntax.slash)
        if count < 0 { byte(UInt8(ascii: "-")) }
        number(UInt64(count.magnitude))
      }
      byte(Syntax.space)
      text(media.proto)
      for format in media.formats {
        byte(Syntax.space)
        text(format)
      }
      end()
      if let information = media.information { line(UInt8(ascii: "i"), information) }
      for connection in media.connections { connectionLine(connection) }
      for bandwidth in media.bandwidths { bandwidthLine(bandwidth) }
      if let key = media.key { line(UInt8(ascii: "k"), key) }
      for attribute in media.attributes { attributeLine(attribute) }
    }
    // Kept at its size: the bytes go into a call's record and stay for the whole history, and
    // a usual offer (~150 bytes) left a third of its 256 bytes unused.
    guard out.capacity - out.count >= 32 else { return out }
    return [UInt8](unsafeUninitializedCapacity: out.count) { buffer, count in
      count = buffer.initialize(fromContentsOf: out)
    }
  }

  static func render(_ connection: Connection) -> String {
    "c=\(connection.networkType) \(connection.addressType) \(connection.address)"
  }

  static func render(_ attribute: Attribute) -> String {
    "a=\(attribute.name)" + (attribute.value.map { ":\($0)" } ?? "")
  }

  // MARK: Parsing

  /// A line without the CR of its CRLF end.
  static func withoutCR(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    line.last == 13 ? line.dropLast() : line
  }

  /// The pieces of a line's value between spaces, empty ones left out (what `split` gives),
  /// one at a time.
  struct SpaceSeparated {
    let value: ArraySlice<UInt8>
    var index: Int

    init(_ value: ArraySlice<UInt8>) {
      self.value = value
      index = value.startIndex
    }

    /// The next piece, nil past the last.
    mutating func next() -> ArraySlice<UInt8>? {
      let end = value.endIndex
      while index < end, value[index] == Syntax.space { index += 1 }
      guard index < end else { return nil }
      let start = index
      while index < end, value[index] != Syntax.space { index += 1 }
      return value[start..<index]
    }
  }

  /// Parses a body (CRLF or LF line ends). Every line must be `<letter>=<value>`; `v=`, `o=`,
  /// `s=` and at least one `t=` are required (§5); an unknown letter is an error, because
  /// §5 tells a parser to ignore a description it does not fully understand.
  public init(parsing body: [UInt8]) throws(SDPError) {
    // Split bytes, not Characters: "\r\n" is one Character in Swift. Lines stay bytes until
    // a part is stored: a String per line and per field, most of them dropped, were most of
    // a parse.
    var lines: [ArraySlice<UInt8>] = []
    lines.reserveCapacity(16)
    var lineStart = body.startIndex
    for index in body.indices where body[index] == 10 {
      lines.append(Self.withoutCR(body[lineStart..<index]))
      lineStart = index + 1
    }
    lines.append(Self.withoutCR(body[lineStart...]))
    while let last = lines.last, last.isEmpty { lines.removeLast() }
    guard !lines.isEmpty else { throw SDPError("an empty session description", line: 1) }
    var origin: Origin?
    var sessionName: String?
    var description = SessionDescription(
      origin: Origin(sessionID: "0", sessionVersion: 0, address: ""))
    // Emptied with its room kept: the parsed t= line goes where the default one was (set to
    // an empty array, the default's allocation was freed and another made for the t= line).
    description.timings.removeAll(keepingCapacity: true)
    var current: MediaDescription?
    for (index, line) in lines.enumerated() {
      let number = index + 1
      // Bytes, not Characters: the type is one ASCII letter, and comparing Characters costs
      // far more than comparing bytes.
      guard line.count >= 2, line[line.startIndex + 1] == UInt8(ascii: "="),
        let letter = line.first, letter < 0x80
      else { throw SDPError("a line must be <type>=<value>", line: number) }
      var type: Character { Character(Unicode.Scalar(letter)) }
      let valueBytes = line.dropFirst(2)
      var value: String { String(decoding: valueBytes, as: UTF8.self) }
      if index == 0 && letter != UInt8(ascii: "v") {
        throw SDPError("the first line must be v=", line: number)
      }
      // The space-separated fields of a line, read one by one: an array of slices and one of
      // strings per line were four allocations for each of o=, c= and t=.
      func missing(_ count: Int, _ what: String) -> SDPError {
        SDPError("\(what) needs \(count) fields", line: number)
      }
      func connection() throws(SDPError) -> Connection {
        var fields = SpaceSeparated(valueBytes)
        guard let network = fields.next(), let type = fields.next(), let address = fields.next(),
          fields.next() == nil
        else { throw missing(3, "c=") }
        return Connection(
          networkType: Syntax.string(network), addressType: Syntax.string(type),
          address: Syntax.string(address))
      }
      func bandwidth() throws(SDPError) -> Bandwidth {
        let parts = splitBytes(value, ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let amount = UInt64(parts[1]) else {
          throw SDPError("b= must be <type>:<kb/s>", line: number)
        }
        return Bandwidth(type: parts[0], value: amount)
      }
      func attribute() -> Attribute {
        guard let colon = valueBytes.firstIndex(of: Syntax.colon) else {
          return Attribute(value)
        }
        return Attribute(
          String(decoding: valueBytes[..<colon], as: UTF8.self),
          String(decoding: valueBytes[(colon + 1)...], as: UTF8.self))
      }
      if let media = current {
        // The open media description is changed where it is (through `current?`): a copy
        // changed and stored back shared its arrays with `current`, so every attribute
        // appended copied the attributes before it.
        switch letter {
        case UInt8(ascii: "m"):
          description.media.append(media)
          current = try MediaDescription(parsing: valueBytes, line: number)
          continue
        default: break
        }
        _ = consume media
        switch letter {
        case UInt8(ascii: "i"): current?.information = value
        case UInt8(ascii: "c"):
          let connection = try connection()
          current?.connections.append(connection)
        case UInt8(ascii: "b"):
          let bandwidth = try bandwidth()
          current?.bandwidths.append(bandwidth)
        case UInt8(ascii: "k"): current?.key = value
        case UInt8(ascii: "a"):
          let attribute = attribute()
          // Room for a few at the first: a stream's rtpmap lines grew the array one by one.
          if current?.attributes.capacity == 0 { current?.attributes.reserveCapacity(4) }
          current?.attributes.append(attribute)
        default:
          throw SDPError("\(type)= is not allowed in a media description", line: number)
        }
        continue
      }
      switch letter {
      case UInt8(ascii: "v"):
        guard index == 0, valueBytes.elementsEqual(CollectionOfOne(UInt8(ascii: "0"))) else {
          throw SDPError("only v=0 is defined", line: number)
        }
      case UInt8(ascii: "o"):
        var fields = SpaceSeparated(valueBytes)
        guard let username = fields.next(), let sessionID = fields.next(),
          let versionText = fields.next(), let network = fields.next(), let type = fields.next(),
          let address = fields.next(), fields.next() == nil
        else { throw missing(6, "o=") }
        guard let version = UInt64(Syntax.string(versionText)) else {
          throw SDPError("the session version must be a number", line: number)
        }
        origin = Origin(
          username: Syntax.string(username), sessionID: Syntax.string(sessionID),
          sessionVersion: version, networkType: Syntax.string(network),
          addressType: Syntax.string(type), address: Syntax.string(address))
      case UInt8(ascii: "s"): sessionName = value
      case UInt8(ascii: "i"): description.information = value
      case UInt8(ascii: "u"): description.uri = value
      case UInt8(ascii: "e"): description.emails.append(value)
      case UInt8(ascii: "p"): description.phones.append(value)
      case UInt8(ascii: "c"): description.connection = try connection()
      case UInt8(ascii: "b"): description.bandwidths.append(try bandwidth())
      case UInt8(ascii: "t"):
        var fields = SpaceSeparated(valueBytes)
        guard let startText = fields.next(), let stopText = fields.next(), fields.next() == nil
        else { throw missing(2, "t=") }
        guard let start = UInt64(Syntax.string(startText)),
          let stop = UInt64(Syntax.string(stopText))
        else {
          throw SDPError("t= needs two numbers", line: number)
        }
        description.timings.append(Timing(start: start, stop: stop))
      case UInt8(ascii: "r"):
        guard !description.timings.isEmpty else {
          throw SDPError("r= must follow a t= line", line: number)
        }
        description.timings[description.timings.count - 1].repeats.append(value)
      case UInt8(ascii: "z"): description.timeZones = value
      case UInt8(ascii: "k"): description.key = value
      case UInt8(ascii: "a"): description.attributes.append(attribute())
      case UInt8(ascii: "m"): current = try MediaDescription(parsing: valueBytes, line: number)
      default: throw SDPError("unknown line type \(type)=", line: number)
      }
    }
    if let current { description.media.append(current) }
    guard let origin else { throw SDPError("missing o= line", line: lines.count) }
    guard let sessionName else { throw SDPError("missing s= line", line: lines.count) }
    guard !description.timings.isEmpty else { throw SDPError("missing t= line", line: lines.count) }
    description.origin = origin
    description.sessionName = sessionName
    self = description
  }
}

/// One `m=` section (§5.14) with its own lines.
public struct MediaDescription: Sendable, Hashable {
  public var type: String
  /// 0 rejects the stream in an answer (RFC 3264 §6).
  public var port: Int
  public var portCount: Int?
  public var proto: String
  /// Payload type numbers for RTP/AVP, or format names.
  public var formats: [String]
  public var information: String?
  public var connections: [SessionDescription.Connection] = []
  public var bandwidths: [SessionDescription.Bandwidth] = []
  public var key: String?
  public var attributes: [SessionDescription.Attribute] = []

  public init(type: String, port: Int, proto: String = "RTP/AVP", formats: [String]) {
    self.type = type
    self.port = port
    self.proto = proto
    self.formats = formats
  }

  init(parsing value: ArraySlice<UInt8>, line: Int) throws(SDPError) {
    // Read field by field (see `SessionDescription.SpaceSeparated`).
    var fields = SessionDescription.SpaceSeparated(value)
    guard let type = fields.next(), let portField = fields.next(), let proto = fields.next()
    else {
      throw SDPError("m= needs media, port, protocol and formats", line: line)
    }
    var formats: [String] = []
    while let format = fields.next() { formats.append(Syntax.string(format)) }
    // `<port>` or `<port>/<number of ports>` (§5.14).
    let slash = portField.firstIndex(of: UInt8(ascii: "/"))
    guard let port = Int(Syntax.string(slash.map { portField[..<$0] } ?? portField)),
      (0...65535).contains(port)
    else {
      throw SDPError("the m= port is not a number from 0 to 65535", line: line)
    }
    self.init(
      type: Syntax.string(type), port: port, proto: Syntax.string(proto), formats: formats)
    if let slash {
      guard let count = Int(Syntax.string(portField[(slash + 1)...])), count > 0 else {
        throw SDPError("the m= port count is not a positive number", line: line)
      }
      portCount = count
    }
  }

  /// `a=rtpmap` entries (§6): payload type → encoding, clock rate, channels.
  public var rtpMaps: [RTPMap] {
    attributes.filter { $0.name == "rtpmap" }.compactMap { $0.value.flatMap { RTPMap($0) } }
  }

  /// The `a=fmtp` parameters of a payload type.
  public func formatParameters(_ payload: String) -> String? {
    for attribute in attributes where attribute.name == "fmtp" {
      guard let value = attribute.value else { continue }
      let parts = splitBytes(value, " ", maxSplits: 1)
      if parts.first.map(String.init) == payload { return parts.count > 1 ? String(parts[1]) : "" }
    }
    return nil
  }

  /// `a=ptime` in milliseconds.
  public var packetTime: Int? {
    attributes.first { $0.name == "ptime" }?.value.flatMap { Int($0) }
  }

  /// The stream's direction (§6: sendrecv unless an attribute says otherwise).
  public var direction: MediaDirection {
    get {
      for attribute in attributes {
        if let direction = MediaDirection(rawValue: attribute.name) { return direction }
      }
      return .sendrecv
    }
    set {
      attributes.removeAll { MediaDirection(rawValue: $0.name) != nil }
      attributes.append(SessionDescription.Attribute(newValue.rawValue))
    }
  }

  /// The encoding name of a payload type: from rtpmap, or the static types of RFC 3551.
  public func encoding(of payload: String) -> String? {
    Self.encoding(of: payload, in: rtpMaps)
  }

  /// ``encoding(of:)`` from rtpmap entries already parsed (``rtpMaps``, read once): an answer
  /// or a check of an offer asks for every payload, and ``encoding(of:)`` parses the rtpmap
  /// lines again each time.
  public static func encoding(of payload: String, in maps: [RTPMap]) -> String? {
    maps.first { $0.payload == payload }?.encoding ?? RTPMap.staticEncodings[payload]
  }
}

/// `a=rtpmap:<payload> <encoding>/<clock>[/<channels>]`.
public struct RTPMap: Sendable, Hashable {
  public var payload: String
  public var encoding: String
  public var clockRate: Int
  public var channels: Int?

  public init(payload: String, encoding: String, clockRate: Int, channels: Int? = nil) {
    self.payload = payload
    self.encoding = encoding
    self.clockRate = clockRate
    self.channels = channels
  }

  init?(_ value: String) {
    if let compact = Self(compact: value) {
      self = compact
      return
    }
    self.init(general: value)
  }

  /// The usual `payload encoding/clock[/channels]` (one space, no empty part, digits where
  /// numbers go) read in one pass; nil for anything else, which ``init(general:)`` reads with
  /// the same result (a test holds them to it). Every offer and answer reads every rtpmap.
  init?(compact value: String) {
    var text = value
    guard
      let parts = text.withUTF8({ bytes -> (Int, Int, Int, Int, Int?)? in
        let count = bytes.count
        var index = 0
        while index < count, bytes[index] != Syntax.space, bytes[index] != Syntax.slash {
          index += 1
        }
        let payloadEnd = index
        guard payloadEnd > 0, index < count, bytes[index] == Syntax.space else { return nil }
        index += 1
        let encodingStart = index
        while index < count, bytes[index] != Syntax.slash, bytes[index] != Syntax.space {
          index += 1
        }
        let encodingEnd = index
        guard encodingEnd > encodingStart, index < count, bytes[index] == Syntax.slash else {
          return nil
        }
        func decimal() -> Int? {
          index += 1
          let start = index
          var value = 0
          while index < count, Syntax.isDigit(bytes[index]), index - start < 9 {
            value = value * 10 + Int(bytes[index] - 48)
            index += 1
          }
          return index > start ? value : nil
        }
        guard let clock = decimal() else { return nil }
        var channels: Int?
        if index < count {
          guard bytes[index] == Syntax.slash, let value = decimal() else { return nil }
          channels = value
        }
        guard index == count else { return nil }
        return (payloadEnd, encodingStart, encodingEnd, clock, channels)
      })
    else { return nil }
    let utf8 = value.utf8
    let payload = utf8.index(utf8.startIndex, offsetBy: parts.0)
    let encodingStart = utf8.index(utf8.startIndex, offsetBy: parts.1)
    let encodingEnd = utf8.index(encodingStart, offsetBy: parts.2 - parts.1)
    self.init(
      payload: String(value[..<payload]), encoding: String(value[encodingStart..<encodingEnd]),
      clockRate: parts.3, channels: parts.4)
  }

  /// `a=rtpmap` by its full rules: runs of spaces and slashes, numbers as `Int` reads them.
  init?(general value: String) {
    let parts = splitBytes(value, " ", maxSplits: 1)
    guard parts.count == 2 else { return nil }
    let codec = splitBytes(parts[1], "/")
    guard codec.count >= 2, let clock = Int(codec[1]) else { return nil }
    self.init(
      payload: String(parts[0]), encoding: String(codec[0]), clockRate: clock,
      channels: codec.count > 2 ? Int(codec[2]) : nil)
  }

  public var attributeValue: String {
    "\(payload) \(encoding)/\(clockRate)" + (channels.map { "/\($0)" } ?? "")
  }

  /// Static payload types of RFC 3551 that need no rtpmap.
  static let staticEncodings: [String: String] = [
    "0": "PCMU", "3": "GSM", "4": "G723", "8": "PCMA", "9": "G722", "18": "G729", "26": "JPEG",
    "31": "H261", "32": "MPV", "34": "H263",
  ]
}

/// The direction attributes of RFC 3264 §5.1.
public enum MediaDirection: String, Sendable, Hashable {
  case sendrecv, sendonly, recvonly, inactive

  /// What the answerer puts in its answer (§6.1).
  public var answer: MediaDirection {
    switch self {
    case .sendonly: return .recvonly
    case .recvonly: return .sendonly
    case .sendrecv, .inactive: return self
    }
  }
}

/// Splits on an ASCII character, byte by byte: `String.split` compares Characters (grapheme
/// clusters), which cost most of parsing a description. An ASCII byte never falls inside a
/// multi-byte scalar, so the pieces are valid text.
func splitBytes(
  _ text: String, _ separator: Unicode.Scalar, maxSplits: Int = .max, omittingEmpty: Bool = true
) -> [Substring] {
  splitBytes(text[...], separator, maxSplits: maxSplits, omittingEmpty: omittingEmpty)
}

func splitBytes(
  _ text: Substring, _ separator: Unicode.Scalar, maxSplits: Int = .max, omittingEmpty: Bool = true
) -> [Substring] {
  // Over the contiguous bytes when there are (a native string always has them): the generic
  // split stepped a `String.Index` byte by byte, 3% of a basic call. Same rules as `split`.
  let utf8 = text.utf8
  let fast = utf8.withContiguousStorageIfAvailable { bytes -> [Substring] in
    let wanted = UInt8(ascii: separator)
    var parts: [Substring] = []
    func piece(_ from: Int, _ to: Int) -> Substring {
      let lower = utf8.index(utf8.startIndex, offsetBy: from)
      return text[lower..<utf8.index(lower, offsetBy: to - from)]
    }
    if maxSplits == 0 || bytes.isEmpty {
      if !(bytes.isEmpty && omittingEmpty) { parts.append(text) }
      return parts
    }
    var start = 0
    var position = 0
    while position < bytes.count {
      if bytes[position] == wanted {
        let appended = !(omittingEmpty && start == position)
        if appended { parts.append(piece(start, position)) }
        position += 1
        start = position
        if appended && parts.count == maxSplits { break }
        continue
      }
      position += 1
    }
    if start != bytes.count || !omittingEmpty { parts.append(piece(start, bytes.count)) }
    return parts
  }
  if let fast { return fast }
  return utf8.split(
    separator: UInt8(ascii: separator), maxSplits: maxSplits,
    omittingEmptySubsequences: omittingEmpty
  ).map { Substring($0) }
}
