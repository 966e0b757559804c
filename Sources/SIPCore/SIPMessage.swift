/// A SIP request or response (RFC 3261 §7): a start line, header fields in the order they came,
/// and a body.
///
/// Values are kept as bytes, exactly as received (after unfolding continuation lines, §7.3.1),
/// so an unknown header passes through a proxy unchanged and `parse(serialize(m)) == m` holds for
/// every message. Typed views (`via`, `cseq`, `from`, …) parse a header's value when asked, which
/// keeps parsing a datagram cheap when an element only needs a few headers.
public struct SIPMessage: Sendable, Hashable {
  /// The first line: a Request-Line (§7.1) or a Status-Line (§7.2).
  public enum StartLine: Sendable, Hashable {
    case request(method: String, uri: String, version: String)
    case response(version: String, status: Int, reason: String)
  }

  /// The parts, behind one reference shared by copies until one of them changes (copy on
  /// write): a message is copied into the actions, transaction records and events about it
  /// many times per transaction, and inline its strings and arrays were up to five reference
  /// counts and 72 bytes to move each time.
  private var storage: Storage

  private final class Storage: @unchecked Sendable {
    // Mutated only through a uniquely referenced storage (`unique()`), like an array's buffer:
    // no two accesses can overlap, so the run-time exclusivity checks a class's properties get
    // are left out.
    @exclusivity(unchecked) var startLine: StartLine
    /// Whether every field lies in one buffer that is exactly this message's serialization
    /// (``SIPMessage/keptAsSerialized()``), so `serialized()` hands that buffer out. Cleared by
    /// any change. Declared after the start line, whose last word it shares (no larger object).
    @exclusivity(unchecked) var isSerialization = false
    @exclusivity(unchecked) var headers: [SIPHeaderField]
    @exclusivity(unchecked) var body: [UInt8]

    init(startLine: StartLine, headers: [SIPHeaderField], body: [UInt8]) {
      self.startLine = startLine
      self.headers = headers
      self.body = body
    }
  }

  /// The storage, copied first if another message shares it; about to change either way, so it
  /// no longer matches a serialization it was made over.
  private mutating func unique() -> Storage {
    if !isKnownUniquelyReferenced(&storage) {
      storage = Storage(startLine: storage.startLine, headers: storage.headers, body: storage.body)
    } else {
      storage.isSerialization = false
    }
    return storage
  }

  public var startLine: StartLine {
    get { storage.startLine }
    set { unique().startLine = newValue }
  }
  /// Header fields in order. Several fields may share a name (§7.3.1).
  public var headers: [SIPHeaderField] {
    get { storage.headers }
    _modify { yield &unique().headers }
  }
  /// The message body (§7.4), exactly `Content-Length` bytes when the header is present.
  public var body: [UInt8] {
    get { storage.body }
    _modify { yield &unique().body }
  }

  public init(startLine: StartLine, headers: [SIPHeaderField] = [], body: [UInt8] = []) {
    storage = Storage(startLine: startLine, headers: headers, body: body)
  }

  public static func == (lhs: SIPMessage, rhs: SIPMessage) -> Bool {
    lhs.storage === rhs.storage
      || (lhs.startLine == rhs.startLine && lhs.headers == rhs.headers && lhs.body == rhs.body)
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(startLine)
    hasher.combine(headers)
    hasher.combine(body)
  }

  /// Makes a request.
  public static func request(
    method: String, uri: String, headers: [SIPHeaderField] = [], body: [UInt8] = []
  ) -> SIPMessage {
    SIPMessage(
      startLine: .request(method: method, uri: uri, version: "SIP/2.0"), headers: headers,
      body: body)
  }

  public var isRequest: Bool {
    if case .request = startLine { return true }
    return false
  }

  /// The request method, or nil for a response.
  public var method: String? {
    if case .request(let method, _, _) = startLine { return method }
    return nil
  }

  /// The Request-URI text, or nil for a response.
  public var requestURIText: String? {
    if case .request(_, let uri, _) = startLine { return uri }
    return nil
  }

  /// The status code, or nil for a request.
  public var status: Int? {
    if case .response(_, let status, _) = startLine { return status }
    return nil
  }

  /// The protocol version of the start line (`SIP/2.0`).
  public var version: String {
    switch startLine {
    case .request(_, _, let version): return version
    case .response(let version, _, _): return version
    }
  }

  /// The start line as text, without CRLF.
  public var startLineText: String {
    switch startLine {
    case .request(let method, let uri, let version): return "\(method) \(uri) \(version)"
    case .response(let version, let status, let reason): return "\(version) \(status) \(reason)"
    }
  }

  // MARK: Header access

  /// Every field whose name is `name` (case-insensitive; compact forms match their long names,
  /// §7.3.3), in order.
  public func fields(_ name: String) -> [SIPHeaderField] {
    let wanted = HeaderName.canonical(name)
    var result: [SIPHeaderField] = []
    for index in headers.indices where headers[index].isNamed(wanted) {
      result.append(headers[index])
    }
    return result
  }

  /// Every field that is `known`, in order: ``fields(_:)`` without canonicalizing and hashing
  /// a name, and without an allocation when there is none (the common case for a header read
  /// on every message, such as an INVITE's Expires).
  package func fields(_ known: KnownHeader) -> [SIPHeaderField] {
    var result: [SIPHeaderField] = []
    var index = firstIndex(known)
    while let found = index {
      result.append(headers[found])
      index = firstIndex(known, from: found + 1)
    }
    return result
  }

  /// The value of the first field named `name`.
  public func value(_ name: String) -> String? {
    firstIndex(named: HeaderName.canonical(name)).map { headers[$0].value }
  }

  /// The index of the first field named `canonical` (a lower-case long name). A header of
  /// ``KnownHeader`` is found by its number; any other by its name.
  func firstIndex(named canonical: String, from start: Int = 0) -> Int? {
    let known = KnownHeader(canonical: canonical)
    if known != .other { return firstIndex(known, from: start) }
    // A loop over indices: iterating the fields themselves copies (and retains) each one.
    var index = start
    while index < headers.endIndex {
      if headers[index].known == .other, headers[index].isNamed(canonical) { return index }
      index += 1
    }
    return nil
  }

  /// The index of the first field that is `known` (not `.other`), at or after `start`.
  func firstIndex(_ known: KnownHeader, from start: Int = 0) -> Int? {
    headers.withUnsafeBufferPointer { fields in
      var index = max(start, 0)
      while index < fields.count {
        if fields[index].known == known { return index }
        index += 1
      }
      return nil
    }
  }

  /// Every value of a multi-valued header, whether given as several fields or comma-separated
  /// in one (§7.3.1), honouring quotes and angle brackets. Headers whose grammar has commas
  /// inside a value (WWW-Authenticate, Authorization, Date, …) are never split.
  public func values(_ name: String) -> [String] {
    let wanted = HeaderName.canonical(name)
    // Whether the header splits is asked only once a field is found: most lookups find none
    // (Proxy-Require, Require, Proxy-Authorization on every request a proxy forwards), and the
    // set lookup hashes the name.
    var splits: Bool?
    var result: [String] = []
    for index in headers.indices where headers[index].isNamed(wanted) {
      let splitting = splits ?? !HeaderName.neverSplit.contains(wanted)
      splits = splitting
      if splitting {
        result += HeaderValueSplitter.split(headers[index].valueBytes).map { Syntax.string($0) }
      } else {
        result.append(headers[index].value)
      }
    }
    return result
  }

  /// Appends a field.
  public mutating func append(_ name: String, _ value: String) {
    reserveForBuilding()
    headers.append(SIPHeaderField(name: name, value: value))
  }

  /// Appends a field whose typed value prints its own bytes (a Via, a name-address).
  public mutating func append(_ name: String, _ value: some HeaderValueWriter) {
    reserveForBuilding()
    headers.append(SIPHeaderField(name: name, value: value))
  }

  /// Inserts `field` before all others (a transport's Via, built from its parts).
  package mutating func prepend(_ field: SIPHeaderField) {
    headers.insert(field, at: 0)
  }

  /// Appends the fields `body` prints, all into one buffer they share: a field built on its own
  /// is an allocation (and a free) of its own, and a request an agent builds has half a dozen.
  /// `capacity` is a guess of their bytes (the buffer grows past it if need be).
  package mutating func appendFields(capacity: Int, _ body: (inout FieldPrinter) -> Void) {
    reserveForBuilding()
    var printer = FieldPrinter(capacity: capacity)
    swap(&printer.headers, &headers)
    let first = printer.headers.count
    body(&printer)
    printer.finish(from: first)
    swap(&printer.headers, &headers)
  }

  /// Inserts the fields `body` prints just before Content-Length (at the end when there is
  /// none), all into one buffer they share (a registrar's 200 lists its Contacts and a Date).
  package mutating func insertFieldsBeforeLength(
    capacity: Int, _ body: (inout FieldPrinter) -> Void
  ) {
    let before = headers.count
    let at = firstIndex(.contentLength) ?? before
    appendFields(capacity: capacity, body)
    guard at < before else { return }
    // Appended, then rotated in place ahead of the fields from Content-Length on (reversing
    // both runs, then the whole): an array of their own to insert was two allocations.
    headers.withUnsafeMutableBufferPointer { fields in
      fields[at..<before].reverse()
      fields[before...].reverse()
      fields[at...].reverse()
    }
  }

  /// A message built field by field grew its array four times on the way to its usual eight to
  /// twelve fields.
  private mutating func reserveForBuilding() {
    if headers.capacity == 0 { headers.reserveCapacity(12) }
  }

  /// Replaces every field named `name` with one field (placed where the first one was, or at
  /// the end).
  public mutating func set(_ name: String, _ value: String) {
    let wanted = HeaderName.canonical(name)
    if let index = headers.firstIndex(where: { $0.isNamed(wanted) }) {
      headers[index] = SIPHeaderField(name: name, value: value)
      var position = index + 1
      while position < headers.count {
        if headers[position].isNamed(wanted) {
          headers.remove(at: position)
        } else {
          position += 1
        }
      }
    } else {
      append(name, value)
    }
  }

  /// Removes every field named `name`.
  public mutating func remove(_ name: String) {
    let wanted = HeaderName.canonical(name)
    headers.removeAll { $0.isNamed(wanted) }
  }

  /// Inserts a field before all others (a proxy's Via or Record-Route, §16.6).
  public mutating func prepend(_ name: String, _ value: String) {
    headers.insert(SIPHeaderField(name: name, value: value), at: 0)
  }

  /// Inserts a field before all others, its typed value printing its own bytes.
  public mutating func prepend(_ name: String, _ value: some HeaderValueWriter) {
    headers.insert(SIPHeaderField(name: name, value: value), at: 0)
  }

  // MARK: Serializing

  /// The canonical bytes: start line, `Name: value` per field with CRLF, an empty line, the
  /// body. Names keep the spelling they were given; folded values were unfolded when parsed.
  public func serialized() -> [UInt8] {
    // A message made over its own bytes (a kept response) has them at hand.
    if storage.isSerialization, let first = storage.headers.first { return first.sharedBuffer }
    // The exact size is known (``serializedCount``), so the bytes are copied into one buffer of
    // that size: appending piece by piece paid a capacity check and a generic call per piece,
    // about a twentieth of a transaction.
    let count = serializedCount
    return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
      guard let base = buffer.baseAddress else { return }
      // A cursor value written through closure literals: nested functions capturing a pointer
      // variable, passed on as function values, made the variable's every access a run-time
      // exclusivity check (three per message).
      var cursor = ByteCursor(at: base)
      writeStartLine { cursor.put($0) }
      cursor.pair(Syntax.cr, Syntax.lf)
      for index in headers.indices {
        headers[index].withParts { name, value in
          cursor.put(name)
          cursor.pair(Syntax.colon, Syntax.space)
          cursor.put(value)
        }
        cursor.pair(Syntax.cr, Syntax.lf)
      }
      cursor.pair(Syntax.cr, Syntax.lf)
      body.withUnsafeBufferPointer { cursor.put($0) }
      initialized = cursor.at - base
      assert(initialized == count, "serializedCount and the bytes written disagree")
    }
  }

  /// This message made over its own ``serialized()`` bytes: every field a range of that one
  /// buffer, in an array of the fields' number, and `serialized()` answers the buffer itself.
  ///
  /// For a message kept long and sent again: a server transaction keeps its final response for
  /// 32 s (Timer J, H) to answer retransmissions. Built by a core, that response's fields
  /// are ranges of the request's received bytes (the whole request), of buffers of their own
  /// (a stamped Via, a To with its tag) and of an array with room for more fields: four or five
  /// objects and about twice the bytes it prints to, where this makes two (the array and the
  /// buffer, which the send shares). Equal to `self`.
  public func keptAsSerialized() -> SIPMessage {
    let fields = storage.headers
    guard !storage.isSerialization, !fields.isEmpty else { return self }
    let bytes = serialized()
    var rebased: [SIPHeaderField] = []
    rebased.reserveCapacity(fields.count)
    var start = startLineCount + 2
    for index in fields.indices {
      rebased.append(fields[index].rebased(onto: bytes, at: start))
      start += fields[index].serializedCount + 2
    }
    // Anything but the exact bytes (a message whose count and writing disagree, which an
    // assertion guards) keeps the message as it was.
    guard start + 2 + storage.body.count == bytes.count else { return self }
    let kept = SIPMessage(startLine: storage.startLine, headers: rebased, body: storage.body)
    kept.storage.isSerialization = true
    return kept
  }

  /// Whether this message is one ``keptAsSerialized()`` made, unchanged since.
  package var isKeptAsSerialization: Bool { storage.isSerialization }

  /// Where `serialized()` writes next, in a buffer made at the message's exact size.
  fileprivate struct ByteCursor {
    var at: UnsafeMutablePointer<UInt8>

    mutating func put(_ bytes: UnsafeBufferPointer<UInt8>) {
      guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
      at.update(from: source, count: bytes.count)
      at += bytes.count
    }

    mutating func put(_ bytes: ArraySlice<UInt8>) {
      bytes.withUnsafeBufferPointer { put($0) }
    }

    mutating func put(_ text: String) {
      text.withUTF8Bytes { put($0) }
    }

    mutating func put(_ text: StaticString) {
      put(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func put(_ byte: UInt8) {
      at.pointee = byte
      at += 1
    }

    /// Writes `value` in decimal, a minus sign first when negative:
    /// ``Syntax/decimalCount(_:)`` bytes.
    mutating func putDecimal(_ value: Int) {
      if value < 0 { put(UInt8(ascii: "-")) }
      var rest = value.magnitude
      var index = Syntax.digitCount(rest) - 1
      let digits = index + 1
      while index >= 0 {
        at[index] = UInt8(truncatingIfNeeded: 48 + rest % 10)
        rest /= 10
        index -= 1
      }
      at += digits
    }

    mutating func pair(_ first: UInt8, _ second: UInt8) {
      at[0] = first
      at[1] = second
      at += 2
    }
  }

  /// The length of ``serialized()`` without building it (the §18.1.1 size check runs for every
  /// request sent).
  public var serializedCount: Int {
    var count = startLineCount + 2 + 2 + body.count
    for index in headers.indices { count += headers[index].serializedCount + 2 }
    return count
  }

  /// Hands the start line's bytes to `put`, piece by piece (``startLineCount`` of them),
  /// without building its text first.
  func writeStartLine(_ put: (UnsafeBufferPointer<UInt8>) -> Void) {
    let parts: (String, String, String)
    switch startLine {
    case .request(let method, let uri, let version): parts = (method, uri, version)
    case .response(let version, let status, let reason):
      parts = (version, String(status), reason)  // three digits: a small string, no allocation
    }
    parts.0.withUTF8Bytes { put($0) }
    withUnsafeBytes(of: Syntax.space) { put($0.bindMemory(to: UInt8.self)) }
    parts.1.withUTF8Bytes { put($0) }
    withUnsafeBytes(of: Syntax.space) { put($0.bindMemory(to: UInt8.self)) }
    parts.2.withUTF8Bytes { put($0) }
  }

  /// The length of the start line without CRLF.
  var startLineCount: Int {
    switch startLine {
    case .request(let method, let uri, let version):
      return method.utf8.count + 1 + uri.utf8.count + 1 + version.utf8.count
    case .response(let version, let status, let reason):
      return version.utf8.count + 1 + Syntax.decimalCount(status) + 1 + reason.utf8.count
    }
  }

  /// The serialized message as text (invalid UTF-8 in a body shows as U+FFFD).
  public var text: String { Syntax.string(serialized()) }
}

/// A typed header value that prints its canonical bytes into a buffer, so a field can be built
/// from it without an intermediate `String` (``Via``, ``NameAddress``).
public protocol HeaderValueWriter {
  /// Appends the value's text, as it goes after `Name: `, to `out`.
  func write(to out: inout [UInt8])
}

/// One header field: a name as it was spelled and its value, unfolded (§7.3.1).
///
/// Stored as a range of one buffer (the received bytes, name through value) with offsets, so a
/// parsed field costs one reference count, not one per part; and with the header it names as a
/// ``KnownHeader`` number, worked out once, so finding a header in a message compares one byte
/// per field instead of its name's bytes (every layer of every hop looks up Via, CSeq, Call-ID,
/// From and To). 32 bytes a field: the name's length in 16 bits (the parser refuses longer
/// names) sits with the header number in the last word; with a 32-bit length the stride was 40,
/// a fifth more for every field of every message and of every response a transaction keeps.
public struct SIPHeaderField: Sendable, Hashable {
  private var buffer: [UInt8]
  /// Where the field (its name) starts in `buffer`, and where its value ends.
  private var start: Int32
  private var end: Int32
  /// From `start`.
  private var valueOffset: Int32
  private var storedLine: Int32 = 0
  private var storedColumn: Int32 = 0
  /// Last with `known`: together they fill the bytes a 32-bit length left as padding.
  private var nameLength: UInt16
  /// The header this field is, compact forms included (`.other` for the rest).
  package let known: KnownHeader

  /// The longest name a field holds (`nameLength` is 16 bits): the parser refuses longer ones.
  package static let maxNameLength = Int(UInt16.max)

  /// Where the value starts in the parsed message (1-based), or 0 for a field built in code;
  /// used to point error messages at the right place.
  public var line: Int { Int(storedLine) }
  public var column: Int { Int(storedColumn) }

  public init(name: String, value: String) {
    // The fields nearly every message built in code ends with or starts with share one copy
    // of their bytes: a buffer each was an allocation per response and per request.
    // Lengths first: comparing strings of different contents goes through the standard
    // library's general comparison, and nearly every field built is neither of these.
    let valueLength = value.utf8.count
    if valueLength == 1, name.utf8.count == 14, value == "0", name == "Content-Length" {
      self = Self.contentLengthZero
      return
    }
    if valueLength == 2, name.utf8.count == 12, value == "70", name == "Max-Forwards" {
      self = Self.maxForwardsSeventy
      return
    }
    self.init(capacity: name.utf8.count + value.utf8.count) {
      Syntax.append(name, to: &$0)
    } value: {
      Syntax.append(value, to: &$0)
    }
  }

  static let contentLengthZero = SIPHeaderField(capacity: 15) {
    Syntax.append("Content-Length", to: &$0)
  } value: {
    Syntax.append("0", to: &$0)
  }

  private static let maxForwardsSeventy = SIPHeaderField(capacity: 14) {
    Syntax.append("Max-Forwards", to: &$0)
  } value: {
    Syntax.append("70", to: &$0)
  }

  /// A field whose value `value` prints into the field's own bytes (one allocation; printing to
  /// a `String` first cost another and a copy).
  public init(name: String, value: some HeaderValueWriter) {
    self.init(name: name) { value.write(to: &$0) }
  }

  /// A field whose value `value` prints into the field's own bytes.
  init(name: String, writing value: (inout [UInt8]) -> Void) {
    self.init(capacity: name.utf8.count + 96) {
      Syntax.append(name, to: &$0)
    } value: {
      value(&$0)
    }
  }

  /// A field made of a name's and a value's bytes with `;tag=` and `tag` after the value (a
  /// response's To, §8.2.6.2), in one allocation.
  init(nameBytes: ArraySlice<UInt8>, valueBytes: ArraySlice<UInt8>, tag: String, known: KnownHeader)
  {
    let marker: StaticString = ";tag="
    self.init(
      count: nameBytes.count + valueBytes.count + marker.utf8CodeUnitCount + tag.utf8.count,
      nameLength: nameBytes.count, known: known
    ) {
      $0.put(nameBytes)
      $0.put(valueBytes)
      $0.put(marker)
      $0.put(tag)
    }
  }

  /// `Via: SIP/2.0/<transport> <host>[:<port>];branch=<branch>[;rport]`, what
  /// ``Via/write(transport:host:port:branch:requestRport:to:)`` prints, copied into a buffer
  /// of its exact size: every request an element sends gets one (built by appending, with room
  /// guessed, it cost as much as the rest of the send's own work).
  package init(
    viaTransport transport: String, host: String, port: Int?, branch: String, requestRport: Bool
  ) {
    let (name, version): (StaticString, StaticString) = ("Via", "SIP/2.0/")
    let (branchMarker, rportMarker): (StaticString, StaticString) = (";branch=", ";rport")
    let count =
      name.utf8CodeUnitCount + version.utf8CodeUnitCount + transport.utf8.count + 1
      + host.utf8.count + (port.map { 1 + Syntax.decimalCount($0) } ?? 0)
      + branchMarker.utf8CodeUnitCount + branch.utf8.count
      + (requestRport ? rportMarker.utf8CodeUnitCount : 0)
    self.init(count: count, nameLength: name.utf8CodeUnitCount, known: .via) {
      $0.put(name)
      $0.put(version)
      $0.put(transport)
      $0.put(Syntax.space)
      $0.put(host)
      if let port {
        $0.put(Syntax.colon)
        $0.putDecimal(port)
      }
      $0.put(branchMarker)
      $0.put(branch)
      if requestRport { $0.put(rportMarker) }
    }
  }

  /// A top Via stamped by a server (``SIPMessage/stampTopVia(received:rport:)``): the name,
  /// the value's bytes up to the end of `rport`, `=` and the port when there is one, the rest
  /// of the value, then `;received=` and `received`, in one allocation.
  init(
    nameBytes: ArraySlice<UInt8>, head: ArraySlice<UInt8>, rport: Int?,
    tail: ArraySlice<UInt8>, received: String
  ) {
    // Every request a server receives over UDP is stamped (see `init(count:…)`).
    let marker: StaticString = ";received="
    let count =
      nameBytes.count + head.count + (rport.map { 1 + Syntax.decimalCount($0) } ?? 0)
      + tail.count + marker.utf8CodeUnitCount + received.utf8.count
    self.init(count: count, nameLength: nameBytes.count, known: .via) {
      $0.put(nameBytes)
      $0.put(head)
      if let rport {
        $0.put(Syntax.equals)
        $0.putDecimal(rport)
      }
      $0.put(tail)
      $0.put(marker)
      $0.put(received)
    }
  }

  /// A field made of a name's and a value's bytes (one allocation).
  init(nameBytes: ArraySlice<UInt8>, valueBytes: ArraySlice<UInt8>) {
    self.init(capacity: nameBytes.count + valueBytes.count) {
      $0.append(contentsOf: nameBytes)
    } value: {
      $0.append(contentsOf: valueBytes)
    }
  }

  /// A field built in code whose bytes (name, then value) `write` puts into a buffer of exactly
  /// `count` bytes: one allocation, no room guessed, no capacity check per piece (appended
  /// piece by piece, the Via a transport puts on every request and the one a server stamps
  /// cost as much as the rest of their step). `count` must be what `write` writes: the
  /// builders compute it from the same pieces.
  private init(
    count: Int, nameLength: Int, known: KnownHeader,
    _ write: (inout SIPMessage.ByteCursor) -> Void
  ) {
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
      guard let base = out.baseAddress else { return }
      // A cursor value (see `serialized()`): a closure capturing a position variable checked
      // exclusive access to it at run time.
      var cursor = SIPMessage.ByteCursor(at: base)
      write(&cursor)
      initialized = cursor.at - base
      assert(initialized == count, "a field's count and the bytes written disagree")
    }
    self.init(
      buffer: bytes, start: 0, nameLength: nameLength, valueOffset: nameLength,
      end: bytes.count, line: 0, column: 0, known: known)
  }

  /// A field built in code: `name` then `value` write their bytes into one buffer reserved for
  /// `capacity` bytes (one allocation per field).
  private init(
    capacity: Int, name: (inout [UInt8]) -> Void, value: (inout [UInt8]) -> Void
  ) {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(capacity)
    name(&bytes)
    let nameCount = bytes.count
    value(&bytes)
    self.init(
      buffer: bytes, start: 0, nameLength: nameCount, valueOffset: nameCount, end: bytes.count,
      line: 0, column: 0)
  }

  /// A field over `buffer[start..<end]`: the name is its first `nameLength` bytes, the value
  /// starts `valueOffset` bytes after `start`. Offsets are 32-bit: the parser refuses messages
  /// of 2 GiB or more; the name's length 16-bit (at most ``maxNameLength``: the parser refuses
  /// longer names, and a field built in code keeps its name's first 65,535 bytes).
  init(
    buffer: [UInt8], start: Int, nameLength: Int, valueOffset: Int, end: Int, line: Int,
    column: Int, known: KnownHeader? = nil
  ) {
    self.buffer = buffer
    self.start = Int32(truncatingIfNeeded: start)
    self.end = Int32(truncatingIfNeeded: end)
    let nameLength = min(nameLength, Self.maxNameLength)
    self.nameLength = UInt16(truncatingIfNeeded: nameLength)
    self.valueOffset = Int32(truncatingIfNeeded: valueOffset)
    storedLine = Int32(truncatingIfNeeded: line)
    storedColumn = Int32(truncatingIfNeeded: column)
    self.known =
      known
      ?? buffer.withUnsafeBufferPointer { bytes in
        KnownHeader(name: UnsafeBufferPointer(rebasing: bytes[start..<(start + nameLength)]))
      }
  }

  /// Points the field at `buffer` (a field a ``FieldPrinter`` printed, made with an empty one).
  fileprivate mutating func share(_ buffer: [UInt8]) { self.buffer = buffer }

  /// The buffer the field is a range of.
  fileprivate var sharedBuffer: [UInt8] { buffer }

  /// This field as `Name: value` serialized at `start` in `buffer` (the name as spelled, then
  /// colon and space), keeping its number and where it was parsed from.
  fileprivate func rebased(onto buffer: [UInt8], at start: Int) -> SIPHeaderField {
    let valueLength = Int(end - self.start - valueOffset)
    let nameLength = Int(nameLength)
    return SIPHeaderField(
      buffer: buffer, start: start, nameLength: nameLength, valueOffset: nameLength + 2,
      end: start + nameLength + 2 + valueLength, line: line, column: column, known: known)
  }

  /// `Name: value` without the line end.
  var serializedCount: Int {
    Int(nameLength) + 2 + Int(end - start - valueOffset)
  }

  /// Calls `body` with the name's bytes and the value's bytes.
  func withParts<R>(
    _ body: (_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) -> R
  ) -> R {
    let (start, nameEnd, valueStart, end) = (
      Int(start), Int(start) + Int(nameLength), Int(start + valueOffset), Int(end)
    )
    return buffer.withUnsafeBufferPointer { buffer in
      body(
        UnsafeBufferPointer(rebasing: buffer[start..<nameEnd]),
        UnsafeBufferPointer(rebasing: buffer[valueStart..<end]))
    }
  }

  /// Whether the value's bytes hold `needle` anywhere (an empty needle is everywhere): a search
  /// in place, where ``valueBytes`` would hand out a slice (a reference count) and compare it
  /// through its bounds checks.
  package func valueContains(_ needle: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let first = needle.first else { return true }
    let (valueStart, end) = (Int(start + valueOffset), Int(end))
    return buffer.withUnsafeBufferPointer { buffer in
      guard let base = buffer.baseAddress, let needleBase = needle.baseAddress,
        end - valueStart >= needle.count
      else { return false }
      var index = valueStart
      let last = end - needle.count
      while index <= last {
        if base[index] == first {
          var matched = 1
          while matched < needle.count, base[index + matched] == needleBase[matched] {
            matched += 1
          }
          if matched == needle.count { return true }
        }
        index += 1
      }
      return false
    }
  }

  /// The name's bytes as received (`v`, `Via`, `VIA` are all Via).
  public var nameBytes: ArraySlice<UInt8> { buffer[Int(start)..<(Int(start) + Int(nameLength))] }
  /// The value's bytes: leading and trailing whitespace removed, each line fold replaced by
  /// one space.
  public var valueBytes: ArraySlice<UInt8> { buffer[Int(start + valueOffset)..<Int(end)] }

  /// The header's long name in lower case (`via` for `v`).
  public var canonicalName: String { HeaderName.canonical(bytes: nameBytes) }

  /// Whether this field is the header `canonical` (a lower-case long name), compact forms
  /// included. Compares bytes: no allocation, so lookups stay cheap.
  public func isNamed(_ canonical: String) -> Bool {
    let length = Int(nameLength)
    // Most fields differ in length from the name looked for: decided without touching bytes.
    guard length == 1 || length == canonical.utf8.count else { return false }
    let start = Int(start)
    return buffer.withUnsafeBufferPointer { buffer in
      if length == 1, let long = HeaderName.compactName(Syntax.lower(buffer[start])) {
        return long == canonical
      }
      return Syntax.equalsLowercase(
        UnsafeBufferPointer(rebasing: buffer[start..<(start + length)]), canonical)
    }
  }

  public var name: String { Syntax.string(nameBytes) }
  public var value: String { Syntax.string(valueBytes) }

  // Equality and hashing ignore the position: a re-parsed message equals the original.
  public static func == (lhs: SIPHeaderField, rhs: SIPHeaderField) -> Bool {
    lhs.nameBytes.elementsEqual(rhs.nameBytes) && lhs.valueBytes.elementsEqual(rhs.valueBytes)
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(nameBytes.count)
    for byte in nameBytes { hasher.combine(byte) }
    for byte in valueBytes { hasher.combine(byte) }
  }
}

/// The headers the stack looks up on nearly every message, numbered: a field learns its number
/// once, when it is made, and a lookup compares that byte instead of the name's bytes (an
/// OPTIONS transaction looked up about 20 headers across its four messages, each a pass over
/// every field's name). Every other header is `.other` and is found by name as before.
///
/// A field's number is never anything but `.other` for a name outside this list, and always
/// its case for a name in it, in any letter case or compact form (§7.3.3): a test holds
/// ``SIPHeaderField/isNamed(_:)`` and the numbers to the same answers.
package enum KnownHeader: UInt8, CaseIterable, Sendable {
  case other
  case via, from, to, callID, cseq, maxForwards, contact, route, recordRoute
  case contentLength, contentType, contentEncoding, contentDisposition
  case expires, minExpires, require, proxyRequire, supported, unsupported, allow, accept
  case authorization, proxyAuthorization, wwwAuthenticate, proxyAuthenticate
  case authenticationInfo, replyTo, retryAfter, timestamp, date, warning, server, userAgent
  case subject, event, allowEvents, referTo, sessionExpires

  /// Each header's ``spelling`` as a string, by raw value: what `HeaderName.canonical(_:)`
  /// returns for a known name in any case or compact form.
  static let canonicalNames: [String] = allCases.map { known in
    known.spelling.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
  }

  /// The lower-case long name (empty for `.other`), as static bytes a name is compared with.
  package var spelling: StaticString {
    switch self {
    case .other: ""
    case .via: "via"
    case .from: "from"
    case .to: "to"
    case .callID: "call-id"
    case .cseq: "cseq"
    case .maxForwards: "max-forwards"
    case .contact: "contact"
    case .route: "route"
    case .recordRoute: "record-route"
    case .contentLength: "content-length"
    case .contentType: "content-type"
    case .contentEncoding: "content-encoding"
    case .contentDisposition: "content-disposition"
    case .expires: "expires"
    case .minExpires: "min-expires"
    case .require: "require"
    case .proxyRequire: "proxy-require"
    case .supported: "supported"
    case .unsupported: "unsupported"
    case .allow: "allow"
    case .accept: "accept"
    case .authorization: "authorization"
    case .proxyAuthorization: "proxy-authorization"
    case .wwwAuthenticate: "www-authenticate"
    case .proxyAuthenticate: "proxy-authenticate"
    case .authenticationInfo: "authentication-info"
    case .replyTo: "reply-to"
    case .retryAfter: "retry-after"
    case .timestamp: "timestamp"
    case .date: "date"
    case .warning: "warning"
    case .server: "server"
    case .userAgent: "user-agent"
    case .subject: "subject"
    case .event: "event"
    case .allowEvents: "allow-events"
    case .referTo: "refer-to"
    case .sessionExpires: "session-expires"
    }
  }

  /// The lower-case long name (empty for `.other`).
  package var canonical: String { spelling.description }

  /// The header a field name is, ignoring ASCII case; compact forms are their long names.
  ///
  /// One pass packs the last eight bytes, lower-cased, into a word; the length and that word
  /// pick the only name they can be (a switch), and a longer name has its first bytes compared
  /// too. Every field parsed or built asks once: comparing the name with a candidate's spelling
  /// byte by byte cost more than the lookups it saved.
  package init(name: UnsafeBufferPointer<UInt8>) {
    var tail: UInt64 = 0
    var index = name.count > 8 ? name.count - 8 : 0
    while index < name.count {
      tail = Self.packing(name[index], into: tail)
      index += 1
    }
    self.init(name: name, tail: tail)
  }

  /// `tail` with `byte`, lower-cased, shifted in: a name's last eight bytes packed, which the
  /// parser makes as it scans the name.
  @inline(__always)
  package static func packing(_ byte: UInt8, into tail: UInt64) -> UInt64 {
    tail << 8 | UInt64(byte &- 65 < 26 ? byte | 0x20 : byte)
  }

  /// ``init(name:)`` given the name's last eight bytes packed by ``packing(_:into:)``.
  package init(name: UnsafeBufferPointer<UInt8>, tail: UInt64) {
    let count = name.count
    let candidate = Self.candidate(count: count, tail: tail)
    guard count > 8, candidate != .other, let base = name.baseAddress else {
      self = candidate
      return
    }
    // The bytes before the last eight.
    let wanted = candidate.spelling.utf8Start
    var index = 0
    while index < count &- 8 {
      let byte = base[index]
      guard (byte &- 65 < 26 ? byte | 0x20 : byte) == wanted[index] else {
        self = .other
        return
      }
      index += 1
    }
    self = candidate
  }

  /// The header whose name has `count` bytes and ends in the lower-cased bytes packed in `tail`
  /// (the whole name, up to eight bytes); compact forms are the one-byte names. A test checks
  /// each constant against the spellings.
  private static func candidate(count: Int, tail: UInt64) -> KnownHeader {
    switch (count, tail) {
    case (1, 0x63): .contentType  // c
    case (1, 0x65): .contentEncoding  // e
    case (1, 0x66): .from  // f
    case (1, 0x69): .callID  // i
    case (1, 0x6B): .supported  // k
    case (1, 0x6C): .contentLength  // l
    case (1, 0x6D): .contact  // m
    case (1, 0x6F): .event  // o
    case (1, 0x72): .referTo  // r
    case (1, 0x73): .subject  // s
    case (1, 0x74): .to  // t
    case (1, 0x75): .allowEvents  // u
    case (1, 0x76): .via  // v
    case (1, 0x78): .sessionExpires  // x
    case (2, 0x746F): .to  // to
    case (3, 0x766961): .via  // via
    case (4, 0x63736571): .cseq  // cseq
    case (4, 0x64617465): .date  // date
    case (4, 0x66726F6D): .from  // from
    case (5, 0x616C6C6F77): .allow  // allow
    case (5, 0x6576656E74): .event  // event
    case (5, 0x726F757465): .route  // route
    case (6, 0x616363657074): .accept  // accept
    case (6, 0x736572766572): .server  // server
    case (7, 0x63616C6C2D6964): .callID  // call-id
    case (7, 0x636F6E74616374): .contact  // contact
    case (7, 0x65787069726573): .expires  // expires
    case (7, 0x72657175697265): .require  // require
    case (7, 0x7375626A656374): .subject  // subject
    case (7, 0x7761726E696E67): .warning  // warning
    case (8, 0x72656665722D746F): .referTo  // refer-to
    case (8, 0x7265706C792D746F): .replyTo  // reply-to
    case (9, 0x696D657374616D70): .timestamp  // timestamp
    case (9, 0x7570706F72746564): .supported  // supported
    case (10, 0x65722D6167656E74): .userAgent  // user-agent
    case (11, 0x2D65787069726573): .minExpires  // min-expires
    case (11, 0x72792D6166746572): .retryAfter  // retry-after
    case (11, 0x7570706F72746564): .unsupported  // unsupported
    case (12, 0x656E742D74797065): .contentType  // content-type
    case (12, 0x666F727761726473): .maxForwards  // max-forwards
    case (12, 0x72642D726F757465): .recordRoute  // record-route
    case (12, 0x772D6576656E7473): .allowEvents  // allow-events
    case (13, 0x2D72657175697265): .proxyRequire  // proxy-require
    case (13, 0x72697A6174696F6E): .authorization  // authorization
    case (14, 0x742D6C656E677468): .contentLength  // content-length
    case (15, 0x2D65787069726573): .sessionExpires  // session-expires
    case (16, 0x656E636F64696E67): .contentEncoding  // content-encoding
    case (16, 0x656E746963617465): .wwwAuthenticate  // www-authenticate
    case (18, 0x656E746963617465): .proxyAuthenticate  // proxy-authenticate
    case (19, 0x696F6E2D696E666F): .authenticationInfo  // authentication-info
    case (19, 0x706F736974696F6E): .contentDisposition  // content-disposition
    case (19, 0x72697A6174696F6E): .proxyAuthorization  // proxy-authorization
    default: .other
    }
  }

  /// The header `canonical` (a lower-case long name) names, for a lookup by name.
  package init(canonical: String) {
    self = canonical.withUTF8Bytes { KnownHeader(name: $0) }
  }
}

/// Header names: compact forms (§7.3.3, §20) and which headers are single-valued or never
/// split on commas.
public enum HeaderName {
  /// Compact form → long name, lower case (RFC 3261 §20 and the extensions that define one).
  static let compact: [UInt8: String] = [
    UInt8(ascii: "i"): "call-id", UInt8(ascii: "m"): "contact",
    UInt8(ascii: "e"): "content-encoding",
    UInt8(ascii: "l"): "content-length", UInt8(ascii: "c"): "content-type",
    UInt8(ascii: "f"): "from",
    UInt8(ascii: "s"): "subject", UInt8(ascii: "k"): "supported", UInt8(ascii: "t"): "to",
    UInt8(ascii: "v"): "via", UInt8(ascii: "o"): "event", UInt8(ascii: "u"): "allow-events",
    UInt8(ascii: "a"): "accept-contact", UInt8(ascii: "b"): "referred-by",
    UInt8(ascii: "j"): "reject-contact", UInt8(ascii: "d"): "request-disposition",
    UInt8(ascii: "r"): "refer-to", UInt8(ascii: "y"): "identity",
    UInt8(ascii: "x"): "session-expires",
  ]

  /// The lower-case long name for `name` (`"V"` → `"via"`, `"Call-ID"` → `"call-id"`).
  public static func canonical(_ name: String) -> String {
    // Callers nearly always pass a lower-case long name already: no copy then. Checked over the
    // contiguous bytes (stepping a `String.UTF8View` cost ~20 instructions a byte, and every
    // header lookup asks).
    let isLowerLong = name.withUTF8Bytes { bytes in
      bytes.count > 1 && !bytes.contains { $0 >= 65 && $0 <= 90 }
    }
    if isLowerLong { return name }
    // A known header's long name is made once: lower-casing the name into a new array and a
    // new string was ~1,300 instructions a lookup (a proxy sets Max-Forwards on every request
    // it forwards).
    let known = name.withUTF8Bytes { KnownHeader(name: $0) }
    if known != .other { return KnownHeader.canonicalNames[Int(known.rawValue)] }
    return canonical(bytes: Array(name.utf8))
  }

  /// The long name of a compact form, if `letter` is one.
  static func compactName(_ letter: UInt8) -> String? {
    switch letter {
    case UInt8(ascii: "a")...UInt8(ascii: "z"):
      return compactByLetter[Int(letter - UInt8(ascii: "a"))]
    default: return nil
    }
  }

  /// ``compact`` as a table indexed by letter: every header lookup asks, and a dictionary
  /// lookup hashes.
  static let compactByLetter: [String?] = (UInt8(ascii: "a")...UInt8(ascii: "z")).map {
    compact[$0]
  }

  static func canonical(bytes: some Collection<UInt8>) -> String {
    if bytes.count == 1, let first = bytes.first, let long = compactName(Syntax.lower(first)) {
      return long
    }
    return String(decoding: bytes.map(Syntax.lower), as: UTF8.self)
  }

  /// Headers whose grammar allows commas inside one value: never split on commas.
  public static let neverSplit: Set<String> = [
    "www-authenticate", "authorization", "proxy-authenticate", "proxy-authorization",
    "authentication-info", "date", "call-id", "cseq", "content-length", "max-forwards",
    "expires", "min-expires", "content-type", "subject", "organization", "server", "user-agent",
    "retry-after", "timestamp", "mime-version", "priority", "content-disposition", "identity",
  ]

  /// Headers that must appear once with one value (§7.3.1 and their ABNF in §25).
  public static let singleValued: [String] = [
    "call-id", "cseq", "from", "to", "max-forwards", "content-length", "content-type",
    "expires", "min-expires", "mime-version", "content-disposition", "date", "priority",
    "retry-after", "timestamp", "organization", "subject", "server", "user-agent",
  ]
}

/// Splits a header value on top-level commas: not inside a quoted string (with its `\`
/// escapes) nor inside `<…>`.
enum HeaderValueSplitter {
  static func split(_ value: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
    var parts: [ArraySlice<UInt8>] = []
    var start = value.startIndex
    while true {
      let end = partEnd(value, from: start)
      parts.append(trim(value[start..<end]))
      guard end < value.endIndex else { return parts }
      start = end + 1
    }
  }

  /// The first element, trimmed, without splitting the rest (the top Via is asked for by
  /// every layer of every hop).
  static func first(_ value: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    trim(value[value.startIndex..<partEnd(value, from: value.startIndex)])
  }

  /// The index of the top-level comma that ends the element starting at `start`, or the end.
  static func partEnd(_ value: ArraySlice<UInt8>, from start: Int) -> Int {
    firstOutsideQuotes(value, from: start) { byte, inAngle in byte == Syntax.comma && !inAngle }
      .index
  }

  /// The first byte at or after `start` that is outside every quoted string (with its `\`
  /// escapes) and for which `stop` holds, given whether it is inside `<…>`; else the end, with
  /// whether a quoted string was left open there.
  @inline(__always)
  static func firstOutsideQuotes(
    _ value: ArraySlice<UInt8>, from start: Int, where stop: (UInt8, _ inAngle: Bool) -> Bool
  ) -> (index: Int, openQuote: Bool) {
    // Over the raw bytes: every message's Via, From, To and Contact pass through here, and
    // indexing the slice checked its bounds at every byte.
    let base = value.startIndex
    return value.withUnsafeBufferPointer { bytes in
      var index = max(0, start - base)
      var inQuotes = false
      var inAngle = false
      while index < bytes.count {
        let byte = bytes[index]
        if inQuotes {
          if byte == Syntax.backslash {
            index += 1
          } else if byte == Syntax.quote {
            inQuotes = false
          }
        } else if stop(byte, inAngle) {
          return (base + index, false)
        } else if byte == Syntax.quote {
          inQuotes = true
        } else if byte == Syntax.less {
          inAngle = true
        } else if byte == Syntax.greater {
          inAngle = false
        }
        index += 1
      }
      return (value.endIndex, inQuotes)
    }
  }

  static func trim(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    var lower = bytes.startIndex
    var upper = bytes.endIndex
    while lower < upper, Syntax.isWhitespace(bytes[lower]) { lower += 1 }
    while upper > lower, Syntax.isWhitespace(bytes[upper - 1]) { upper -= 1 }
    return bytes[lower..<upper]
  }
}

/// Prints header fields one after another into one buffer (``SIPMessage/appendFields(capacity:_:)``):
/// each field is added with an empty buffer and given the shared one when all are printed.
package struct FieldPrinter {
  fileprivate var headers: [SIPHeaderField] = []
  fileprivate var bytes: [UInt8] = []

  fileprivate init(capacity: Int) { bytes.reserveCapacity(capacity) }

  /// A field `name` whose value `value` prints.
  package mutating func field(_ name: String, writing value: (inout [UInt8]) -> Void) {
    let start = bytes.count
    Syntax.append(name, to: &bytes)
    let nameLength = bytes.count - start
    value(&bytes)
    let known = name.withUTF8Bytes { KnownHeader(name: $0) }
    headers.append(
      SIPHeaderField(
        buffer: [], start: start, nameLength: nameLength, valueOffset: nameLength,
        end: bytes.count, line: 0, column: 0, known: known))
  }

  /// A field `name` with the text `value`.
  package mutating func field(_ name: String, _ value: String) {
    field(name) { Syntax.append(value, to: &$0) }
  }

  /// A field `name` whose typed value prints itself.
  package mutating func field(_ name: String, _ value: some HeaderValueWriter) {
    field(name) { value.write(to: &$0) }
  }

  /// Gives the fields from `first` on the shared buffer.
  fileprivate mutating func finish(from first: Int) {
    for index in first..<headers.count { headers[index].share(bytes) }
  }
}
