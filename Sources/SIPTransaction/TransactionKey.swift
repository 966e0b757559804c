public import SIPCore

/// What identifies a transaction: RFC 3261 §17.1.3 for client transactions, §17.2.3 for server
/// transactions (with the RFC 2543 fallback for requests whose branch lacks the magic cookie).
///
/// A key is a value, so the layer finds a transaction with one hash lookup; its ``description``
/// is what the trace shows as `transaction`.
public struct TransactionKey: Sendable, Hashable, CustomStringConvertible, DigestKey {
  public enum Role: String, Sendable, Hashable {
    case client, server

    // A raw-value enum hashes and compares its raw String by default; a key compares and
    // hashes its role on every lookup.
    var isClient: Bool {
      switch self {
      case .client: true
      case .server: false
      }
    }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.isClient == rhs.isClient }
    public func hash(into hasher: inout Hasher) { hasher.combine(isClient) }
  }

  /// The parts, behind one reference: a key is copied into every action, timer record and
  /// event about its transaction (about 33 times per transaction), and inline its three strings
  /// were three reference counts and 64 bytes to move each time.
  private let storage: Storage

  private final class Storage: Sendable {
    let role: Role
    let method: String
    let branch: String?
    /// The rest of the identity: a server key's sent-by (magic cookie) or its RFC 2543 fields
    /// joined by `|` (no branch); empty for a client key. Apart from the branch: joined into
    /// one `branch|sent-by` string, every server transaction allocated it (over 15 bytes), where
    /// the branch is the parsed Via's own string and a sent-by such as `10.0.0.1:5060` fits in
    /// a string's inline bytes.
    let rest: String
    let digest: Int

    init(role: Role, method: String, branch: String?, rest: String) {
      self.role = role
      self.method = method
      self.branch = branch
      self.rest = rest
      digest = Int(
        truncatingIfNeeded: Self.digest(role: role, method: method, branch: branch, rest: rest))
    }

    /// FNV-1a over the role, the method, the branch and the rest, then mixed so every bit of
    /// the result depends on every byte (the table takes its slot from the top bits). A key is
    /// made for every request sent and every message received, and the seeded `Hasher`
    /// (SipHash) cost twice as much; the digest only places keys in tables, where nothing
    /// observable follows it, so it need not be seeded.
    static func digest(role: Role, method: String, branch: String?, rest: String) -> UInt64 {
      var value = fnv1aPart(method, continuing: fnv1aBasis ^ (role.isClient ? 1 : 2))
      if let branch { value = fnv1aPart(branch, continuing: value) }
      value = fnv1aPart(rest, continuing: value)
      // The finalizer of MurmurHash3: avalanches the low bits FNV leaves weak into the top ones.
      value ^= value >> 33
      value &*= 0xFF51_AFD7_ED55_8CCD
      value ^= value >> 33
      value &*= 0xC4CE_B9FE_1A85_EC53
      value ^= value >> 33
      return value
    }

  }

  public var role: Role { storage.role }
  /// The matching method: the request's method, except that an ACK is keyed as INVITE so it
  /// finds its INVITE server transaction (§17.2.3). CANCEL stays CANCEL: it is a transaction of
  /// its own (§9.2).
  public var method: String { storage.method }
  /// What the key compares besides its role and method, as the trace prints it: the branch
  /// (client), `branch|sent-by` (server, magic cookie), or the RFC 2543 fallback fields joined
  /// by `|`.
  var identity: String {
    guard let branch = storage.branch else { return storage.rest }
    return role.isClient ? branch : branch + "|" + storage.rest
  }
  /// The branch this key was made from (nil for an RFC 2543 server key): a CANCEL reuses its
  /// INVITE's (§9.1).
  public var branch: String? { storage.branch }

  /// A client key (`branch`), a server key with the magic cookie (`branch` and the sent-by as
  /// `rest`), or an RFC 2543 server key (no branch, the joined fields as `rest`).
  init(role: Role, method: String, branch: String?, rest: String = "") {
    storage = Storage(role: role, method: method, branch: branch, rest: rest)
  }

  public static func == (lhs: TransactionKey, rhs: TransactionKey) -> Bool {
    let (left, right) = (lhs.storage, rhs.storage)
    return left === right
      || (left.digest == right.digest && left.role == right.role && left.method == right.method
        && left.branch == right.branch && left.rest == right.rest)
  }

  /// Computed once: a key is hashed on every lookup (each message, each timer).
  public func hash(into hasher: inout Hasher) { hasher.combine(storage.digest) }

  /// The same digest for a ``DigestTable``, which probes with it directly.
  package var tableDigest: UInt64 { UInt64(UInt(bitPattern: storage.digest)) }

  public var description: String {
    identity + "/" + method + (role == .client ? "/c" : "/s")
  }

  /// The key of the client transaction a request creates, or that a response matches
  /// (§17.1.3: the top Via branch and the CSeq method). Nil when the message lacks them.
  public static func client(for message: SIPMessage) -> TransactionKey? {
    client(for: message, topVia: message.topVia)
  }

  /// ``client(for:)`` with the message's top Via already parsed (a hop parses it once).
  public static func client(for message: SIPMessage, topVia: Via?) -> TransactionKey? {
    client(for: message, branch: topVia?.branch)
  }

  /// ``client(for:)`` with the top Via's branch already known (a transport that printed the Via
  /// knows the branch it put there).
  public static func client(for message: SIPMessage, branch: String?) -> TransactionKey? {
    guard let branch, !branch.isEmpty,
      let method = message.isRequest ? message.method : message.cseq?.method
    else { return nil }
    return TransactionKey(role: .client, method: method, branch: branch)
  }

  /// The digest ``client(for:branch:)`` gives a key of `method` and `branch`, without making
  /// the key: the layer looks a response's transaction up by its parts (see
  /// ``isClient(method:branch:)``).
  static func clientDigest(method: String, branch: String) -> UInt64 {
    Storage.digest(role: .client, method: method, branch: branch, rest: "")
  }

  /// Whether this is the client key `client(for:branch:)` makes of `method` and `branch`.
  func isClient(method: String, branch: String) -> Bool {
    let storage = storage
    return storage.role.isClient && storage.method == method && storage.branch == branch
      && storage.rest.isEmpty
  }

  /// The key of the server transaction a request belongs to (§17.2.3), or of the one a response
  /// the TU passes down belongs to (same top Via and CSeq method).
  ///
  /// With the magic cookie: branch, sent-by and method (ACK as INVITE). Without it (RFC 2543):
  /// Request-URI, From tag, Call-ID, CSeq number and method (ACK as INVITE) and the whole top
  /// Via; the To tag is left out so the ACK, whose To carries the tag of the response, finds the
  /// INVITE (§17.2.3 asks the layer to compare that tag with the response's: see
  /// ``TransactionLayer``).
  public static func server(for message: SIPMessage) -> TransactionKey? {
    server(for: message, topVia: message.topVia)
  }

  /// ``server(for:)`` with the message's top Via already parsed (a hop parses it once).
  public static func server(for message: SIPMessage, topVia: Via?) -> TransactionKey? {
    guard let via = topVia,
      let rawMethod = message.isRequest ? message.method : message.cseq?.method
    else { return nil }
    let method = rawMethod == "ACK" ? "INVITE" : rawMethod
    // The branch looked up once (the `hasMagicCookie` property looks it up again).
    if let branch = via.branch, Via.hasMagicCookie(branch) {
      return TransactionKey(role: .server, method: method, branch: branch, rest: sentBy(of: via))
    }
    guard message.isRequest, let cseq = message.cseq, let callID = message.callID else {
      return nil
    }
    let uri = message.requestURI?.description ?? message.requestURIText ?? ""
    return TransactionKey(
      role: .server, method: method, branch: nil,
      rest: [uri, message.fromTag ?? "", callID, String(cseq.sequence), via.description]
        .joined(separator: "|"))
  }

  /// The INVITE server transaction a CANCEL targets: the CANCEL's own key with method INVITE
  /// (§9.2).
  public static func inviteServer(cancelledBy cancel: SIPMessage) -> TransactionKey? {
    guard let key = server(for: cancel) else { return nil }
    return TransactionKey(
      role: .server, method: "INVITE", branch: key.branch, rest: key.storage.rest)
  }

  /// The sent-by `host[:port]` with the host lower-cased (§17.2.3 compares sent-by values, and
  /// host names compare without regard to case), written in one pass into a string made at
  /// its final size: every request a server receives is keyed so. The Via's host itself when
  /// it has no port and no capital.
  static func sentBy(of via: Via) -> String {
    var host = via.host
    // The port's digits are written straight into the string (a port is 0–65535 once parsed;
    // any other value is printed whole through its description).
    let port = via.port
    if port == nil, !host.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) { return host }
    var portDigits = 0
    if let port, port >= 0 {
      var rest = port
      repeat {
        portDigits += 1
        rest /= 10
      } while rest > 0
    }
    let portText = port.map { $0 < 0 ? String($0) : "" } ?? ""
    let count = host.utf8.count + (port == nil ? 0 : 1 + portDigits) + portText.utf8.count
    return host.withUTF8 { hostBytes in
      String(unsafeUninitializedCapacity: count) { out in
        var index = 0
        for byte in hostBytes {
          // §17.2.3 compares sent-by values; host names compare without regard to case.
          out[index] = byte >= 65 && byte <= 90 ? byte + 32 : byte
          index += 1
        }
        if let port {
          out[index] = UInt8(ascii: ":")
          index += 1
          if port >= 0 {
            var rest = port
            var position = index + portDigits - 1
            repeat {
              out[position] = UInt8(ascii: "0") + UInt8(rest % 10)
              rest /= 10
              position -= 1
            } while rest > 0
            index += portDigits
          } else {
            for byte in portText.utf8 {
              out[index] = byte
              index += 1
            }
          }
        }
        return index
      }
    }
  }
}
