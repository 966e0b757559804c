public import SIPCore

/// The index of the location service (§10.3 step 5): an address-of-record with every URI
/// parameter removed, scheme, user and host lower-cased where the RFC says they compare
/// case-insensitively (§19.1.4), so `sip:Bob@Biloxi.example.com;transport=tcp` and
/// `sip:Bob@biloxi.example.com` name the same bindings.
public func canonicalAOR(_ uri: SIPURI) -> String {
  // Written straight into the string's storage: interpolating the parts made a string for
  // each, and an array first was a second allocation (a REGISTER asks once, a proxy once per
  // lookup).
  let scheme = uri.scheme.equalsIgnoringASCIICase("sips") ? "sips:" : "sip:"
  // Hosts nearly always come lower case: lower-casing made a copy every time.
  let host = uri.host.lowercasedIfNeeded
  let port = uri.port.map { String($0) }
  let capacity =
    scheme.utf8.count + (uri.user.map { $0.utf8.count + 1 } ?? 0) + host.utf8.count
    + (port.map { $0.utf8.count + 1 } ?? 0)
  return String(unsafeUninitializedCapacity: capacity) { buffer in
    var at = 0
    func put(_ text: String) {
      for byte in text.utf8 {
        buffer[at] = byte
        at += 1
      }
    }
    put(scheme)
    if let user = uri.user {
      put(user)
      put("@")
    }
    put(host)
    if let port {
      put(":")
      put(port)
    }
    return at
  }
}

/// The part of a contact URI that decides whether two registrations name the same binding
/// (§10.3 step 7 "using the URI comparison rules", §19.1.4): scheme, user, host, port and the
/// transport / maddr parameters.
func contactIdentity(_ uri: SIPURI) -> String {
  var key = canonicalAOR(uri)
  for name in ["transport", "maddr"] {
    if case .some(.some(let value)) = uri.parameter(name) {
      key += ";\(name)=\(value.lowercasedIfNeeded)"
    }
  }
  return key
}

/// Whether two contact URIs name the same binding: what ``contactIdentity(_:)`` says, compared
/// part by part without building either string (a REGISTER compares its contact with every
/// binding of its address-of-record, and building the two strings was most of a REGISTER's
/// binding work).
func sameBinding(_ left: SIPURI, _ right: SIPURI) -> Bool {
  func isSecure(_ uri: SIPURI) -> Bool { uri.scheme.equalsIgnoringASCIICase("sips") }
  func value(_ uri: SIPURI, _ name: String) -> String? {
    if case .some(.some(let value)) = uri.parameter(name) { return value.lowercasedIfNeeded }
    return nil
  }
  return left.port == right.port && left.user == right.user
    && isSecure(left) == isSecure(right)
    && left.host.lowercasedIfNeeded == right.host.lowercasedIfNeeded
    && value(left, "transport") == value(right, "transport")
    && value(left, "maddr") == value(right, "maddr")
}

/// One binding of an address-of-record to a contact address (§10.2, §10.3).
public struct Binding: Sendable, Hashable, CustomStringConvertible {
  /// The canonical address-of-record (``canonicalAOR(_:)``).
  public var aor: String
  /// The contact as registered, without its `expires` parameter.
  public var contact: NameAddress
  /// When it expires, as virtual time since the simulation began (to the microsecond).
  public var expiresAt: Duration {
    get { .microseconds(expiry) }
    set { expiry = newValue.wholeMicroseconds }
  }
  /// ``expiresAt`` in microseconds: 8 bytes where a `Duration` takes 16, in every binding of a
  /// registrar that may hold a million.
  var expiry: Int64
  /// Its preference, 0 to 1 (the contact's `q`, 1 when absent).
  public var q: Double
  /// The Call-ID and CSeq of the REGISTER that last wrote it (out-of-order detection, §10.3).
  public var callID: String
  /// Registration order: ties of `q` keep it.
  public var order: UInt64
  public var cseq: UInt32

  init(
    aor: String, contact: NameAddress, expiresAt: Duration, q: Double, callID: String,
    cseq: UInt32, order: UInt64
  ) {
    self.aor = aor
    self.contact = contact
    expiry = expiresAt.wholeMicroseconds
    self.q = q
    self.callID = callID
    self.order = order
    self.cseq = cseq
  }

  public var description: String { "\(aor) -> \(contact.uri) q=\(q) until \(expiresAt)" }
}

/// The location service's table (§10): bindings per address-of-record with their expiry. A
/// pure value: the registrar writes it, proxies and redirect servers read it, expiry is a
/// question of the virtual instant passed in.
public struct LocationTable: Sendable {
  private(set) var bindings: [String: [Binding]] = [:]
  var nextOrder: UInt64 = 0
  /// A min-heap of (expiry, AOR): expiring bindings are found without scanning the table (a
  /// registrar with a million subscribers refreshes them all the time). Every AOR with bindings
  /// has an entry at or before its earliest expiry. An entry may be early (its binding was
  /// refreshed since): when it surfaces the AOR's true next expiry is pushed again. So a
  /// refresh, which only moves an expiry later, pushes nothing: the heap holds about one entry
  /// per AOR instead of one per REGISTER.
  private var expiries: [(at: Int64, aor: String)] = []

  public init() {}

  /// Entries in the expiry heap (about one per AOR however often they refresh).
  var expiryEntries: Int { expiries.count }

  /// Runs `body` on the bindings of `aor` in place, then keeps what it leaves (the AOR goes
  /// when none is left) and remembers their next expiry. One lookup of the AOR, and the list
  /// changed where it lies: looking it up, copying it to change it and storing it back hashed
  /// the AOR twice and copied the list (at a million AORs, each lookup a cache miss).
  mutating func update<Result>(_ aor: String, _ body: (inout [Binding]) -> Result) -> Result {
    var list: [Binding] = []
    let result: Result
    let earlier: Int64?
    let next: Int64?
    if let index = bindings.index(forKey: aor) {
      swap(&list, &bindings.values[index])
      earlier = list.lazy.map(\.expiry).min()
      result = body(&list)
      next = list.lazy.map(\.expiry).min()
      if list.isEmpty {
        bindings.remove(at: index)
      } else {
        swap(&list, &bindings.values[index])
      }
    } else {
      earlier = nil
      result = body(&list)
      next = list.lazy.map(\.expiry).min()
      if !list.isEmpty { bindings[aor] = list }
    }
    // The AOR already has an entry at or before `earlier`: enough when `next` is no sooner.
    if let next, earlier.map({ $0 > next }) ?? true { push((next, aor)) }
    return result
  }

  /// The live bindings of `aor` at `now`, best first: higher `q`, then earlier registration.
  public func lookup(_ aor: SIPURI, at now: Duration) -> [Binding] {
    bindings(of: canonicalAOR(aor), at: now)
  }

  /// The live bindings of a canonical address-of-record at `now`, best first.
  public func bindings(of aor: String, at now: Duration) -> [Binding] {
    Self.live(bindings[aor] ?? [], at: now)
  }

  /// Those of `list` live at `now`, best first.
  static func live(_ list: [Binding], at now: Duration) -> [Binding] {
    let now = now.wholeMicroseconds
    // One binding (nearly every address-of-record): the list itself, shared, or none; the
    // filter and the sort made two arrays for every REGISTER's 200 and every lookup.
    if list.count == 1 { return list[0].expiry > now ? list : [] }
    return list.filter { $0.expiry > now }.sorted(by: Self.preferred)
  }

  static func preferred(_ a: Binding, _ b: Binding) -> Bool {
    a.q != b.q ? a.q > b.q : a.order < b.order
  }

  /// Every address-of-record with a binding, sorted.
  public var addressesOfRecord: [String] { bindings.keys.sorted() }

  /// Whether it holds no binding at all.
  public var isEmpty: Bool { bindings.isEmpty }

  /// How many bindings the table holds (expired ones not yet removed included).
  public var count: Int { bindings.values.reduce(0) { $0 + $1.count } }

  /// The earliest expiry in the table, for the timer that removes it. It may be early (a
  /// binding refreshed since): the timer then fires, removes nothing and re-arms. O(1).
  public var nextExpiry: Duration? {
    bindings.isEmpty ? nil : expiries.first.map { .microseconds($0.at) }
  }

  /// Removes the bindings expired at `now` and returns them, in (AOR, order) order. Visits only
  /// the AORs with an expiry due: O(k log n) for k due entries.
  public mutating func removeExpired(at time: Duration) -> [Binding] {
    let now = time.wholeMicroseconds
    var due: Set<String> = []
    while let first = expiries.first, first.at <= now {
      due.insert(first.aor)
      popFirst()
    }
    var removed: [Binding] = []
    // Sorted: the set's order must not reach the result.
    for aor in due.sorted() {
      guard let list = bindings[aor] else { continue }
      removed += list.filter { $0.expiry <= now }
      // Its entries up to `now` are gone: push its next expiry whatever it was before.
      let remaining = list.filter { $0.expiry > now }
      bindings[aor] = remaining.isEmpty ? nil : remaining
      if let next = remaining.lazy.map(\.expiry).min() { push((next, aor)) }
    }
    return removed
  }

  private mutating func push(_ entry: (at: Int64, aor: String)) {
    expiries.append(entry)
    var child = expiries.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard entry.at < expiries[parent].at else { break }
      expiries.swapAt(child, parent)
      child = parent
    }
  }

  private mutating func popFirst() {
    guard let last = expiries.popLast() else { return }
    guard !expiries.isEmpty else { return }
    expiries[0] = last
    var parent = 0
    while true {
      let left = 2 * parent + 1
      guard left < expiries.count else { return }
      var smallest = left
      if left + 1 < expiries.count, expiries[left + 1].at < expiries[left].at {
        smallest = left + 1
      }
      guard expiries[smallest].at < expiries[parent].at else { return }
      expiries.swapAt(parent, smallest)
      parent = smallest
    }
  }

  /// Adds or replaces a binding directly (a statically provisioned contact).
  public mutating func add(
    aor: SIPURI, contact: SIPURI, q: Double = 1, until expiresAt: Duration = .seconds(1 << 40)
  ) {
    let key = canonicalAOR(aor)
    let order = nextOrder
    nextOrder += 1
    update(key) { list in
      list.removeAll { sameBinding($0.contact.uri, contact) }
      list.append(
        Binding(
          aor: key, contact: NameAddress(uri: contact), expiresAt: expiresAt, q: q, callID: "",
          cseq: 0, order: order))
    }
  }
}
