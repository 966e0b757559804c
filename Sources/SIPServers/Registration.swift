public import SIPCore
import SIPDialog

/// What a registrar accepts (§10.3): the domains it keeps bindings for and its expiry limits.
public struct RegistrarPolicy: Sendable, Hashable {
  /// Domains whose addresses-of-record it registers; a REGISTER for another gets 404.
  public var domains: [String]
  /// The expiry when neither the contact nor the request says (§10.3 step 7).
  public var defaultExpires: UInt32
  /// Shorter non-zero requests get 423 Interval Too Brief with this Min-Expires.
  public var minExpires: UInt32
  /// Longer requests are shortened to this ("MAY choose an expiration less than requested").
  public var maxExpires: UInt32
  /// Option tags it supports; a Require naming another gets 420 (§10.3 step 2).
  public var extensions: [String]
  /// The calendar time at virtual time zero, in seconds since 1970-01-01 00:00:00 GMT: the
  /// `Date` of a 200 (§10.3 step 8) is this plus the virtual time. Default: 2000-01-01.
  public var clockOrigin: Int64

  public init(
    domains: [String], defaultExpires: UInt32 = 3600, minExpires: UInt32 = 60,
    maxExpires: UInt32 = 7200, extensions: [String] = [], clockOrigin: Int64 = 946_684_800
  ) {
    self.domains = domains
    self.defaultExpires = defaultExpires
    self.minExpires = minExpires
    self.maxExpires = maxExpires
    self.extensions = extensions
    self.clockOrigin = clockOrigin
  }

  /// Whether `host` is one of its domains (case-insensitive).
  public func serves(_ host: String) -> Bool {
    domains.contains { $0.equalsIgnoringASCIICase(host) }
  }
}

/// The outcome of one REGISTER: the response and what changed, for the trace.
public struct RegistrationResult: Sendable {
  public var response: SIPMessage
  /// Bindings created, refreshed (new expiry) and removed by this request.
  public var added: [Binding] = []
  public var refreshed: [Binding] = []
  public var removed: [Binding] = []
}

/// A registrar's processing of REGISTER (RFC 3261 §10.3), steps 2 and 5 to 8; authentication
/// (steps 3 and 4) is the caller's, which passes the user it authenticated. Atomic: the table
/// changes only when the answer is 200.
public enum Registration {
  /// Processes `request` against `table` at virtual instant `now`.
  ///
  /// - Parameter authenticatedUser: the digest username the caller verified, or nil when the
  ///   registrar does not authenticate; a user may change only its own bindings (403, step 4).
  public static func process(
    _ request: SIPMessage, table: inout LocationTable, policy: RegistrarPolicy, at now: Duration,
    toTag: String, authenticatedUser: String? = nil
  ) -> RegistrationResult {
    func fail(_ rejection: Rejection) -> RegistrationResult {
      RegistrationResult(response: rejection.response(to: request, toTag: toTag))
    }
    guard let uri = request.requestURI, let to = request.to, let callID = request.callID,
      let cseq = request.cseq
    else {
      return fail(Rejection(400, "Bad Request (REGISTER needs Request-URI, To, Call-ID, CSeq)"))
    }
    // Step 1: a domain we keep bindings for.
    guard policy.serves(uri.host) else {
      return fail(Rejection(404, "Not Found (domain \(uri.host) is not served here)"))
    }
    // Step 2: Require, as a UAS does (§8.2.2.3).
    let unsupported = request.require.filter { !policy.extensions.contains($0) }
    if !unsupported.isEmpty {
      return fail(
        Rejection(
          420, "Bad Extension",
          headers: [SIPParameter("Unsupported", unsupported.joined(separator: ", "))]))
    }
    // Step 4: the authenticated user may change only its own address-of-record.
    if let user = authenticatedUser, user != to.uri.user {
      return fail(Rejection(403, "Forbidden (\(user) may not register \(to.uri))"))
    }
    // Step 5: the address-of-record from To, in our domain.
    guard policy.serves(to.uri.host) else {
      return fail(Rejection(404, "Not Found (\(to.uri) is not in this registrar's domains)"))
    }
    let aor = canonicalAOR(to.uri)
    let contacts = request.contacts
    if contacts.isEmpty && !request.fields("contact").isEmpty {
      return fail(Rejection(400, "Bad Request (malformed Contact)"))
    }
    // Changed in place (one lookup of the AOR); atomic: a REGISTER with several contacts keeps
    // the list as it was to put back when a later contact is refused (with one contact every
    // refusal comes before any change).
    var nextOrder = table.nextOrder
    var result = RegistrationResult(response: request.response(status: 200, toTag: toTag))
    var live: [Binding] = []
    let refusal = table.update(aor) { current -> Rejection? in
      let before = contacts.count > 1 ? current : nil
      func refuse(_ rejection: Rejection) -> Rejection {
        if let before { current = before }
        return rejection
      }
      if contacts.contains(.wildcard) {
        // Step 6: `*` alone with Expires: 0 removes every binding.
        guard contacts.count == 1, request.expires == 0 else {
          return refuse(
            Rejection(400, "Bad Request (Contact * needs Expires: 0 and no other Contact)"))
        }
        for binding in current where binding.callID == callID && cseq.sequence <= binding.cseq {
          return refuse(
            Rejection(500, "Server Internal Error (REGISTER out of order: CSeq \(cseq.sequence))"))
        }
        result.removed = current
        current = []
      } else {
        // Step 7: each contact in turn.
        for value in contacts {
          guard var address = value.address else { continue }
          let requested = value.expires ?? request.expires ?? policy.defaultExpires
          if requested > 0, requested < 3600, requested < policy.minExpires {
            return refuse(
              Rejection(
                423, "Interval Too Brief",
                headers: [SIPParameter("Min-Expires", "\(policy.minExpires)")]))
          }
          let granted = min(requested, policy.maxExpires)
          let q = value.q.map { min(1, max(0, $0)) } ?? 1
          address.parameters.removeAll { $0.isNamed("expires") }
          if let index = current.indices.first(where: {
            sameBinding(current[$0].contact.uri, address.uri)
          }) {
            // Read in place (a copy of the binding retained each of its strings).
            if current[index].callID == callID && cseq.sequence <= current[index].cseq {
              return refuse(
                Rejection(
                  500, "Server Internal Error (REGISTER out of order: CSeq \(cseq.sequence))"))
            }
            if granted == 0 {
              result.removed.append(current.remove(at: index))
            } else {
              current[index].contact = address
              current[index].expiresAt = now + .seconds(Int64(granted))
              current[index].q = q
              current[index].callID = callID
              current[index].cseq = cseq.sequence
              result.refreshed.append(current[index])
            }
          } else if granted > 0 {
            let binding = Binding(
              aor: aor, contact: address, expiresAt: now + .seconds(Int64(granted)), q: q,
              callID: callID, cseq: cseq.sequence, order: nextOrder)
            nextOrder += 1
            current.append(binding)
            result.added.append(binding)
          }
        }
      }
      live = LocationTable.live(current, at: now)
      return nil
    }
    if let refusal { return fail(refusal) }
    table.nextOrder = nextOrder
    // Step 8: 200 listing every current binding with the expiry the registrar chose, and the
    // Date it SHOULD carry (§10.2.5: a client may set its clock from it): the live bindings
    // were taken from the list as the update left it, not looked up again.
    // Each binding's contact with `;expires=` and the seconds left after its own parameters,
    // printed straight into its field from the binding, read in place.
    // All of them and the Date into one buffer (a buffer each was an allocation each).
    // In whole microseconds when `now` is one (the simulation's clock always is): `Duration`'s
    // components are a 128-bit division each.
    let micros = now.wholeMicroseconds
    let exact = Duration.microseconds(micros) == now
    let date = policy.clockOrigin + (exact ? micros / 1_000_000 : now.components.seconds)
    result.response.insertFieldsBeforeLength(capacity: 128 * live.count + 48) { fields in
      live.withUnsafeBufferPointer { live in
        for index in live.indices {
          let expires =
            exact
            ? seconds(microseconds: live[index].expiry - micros)
            : seconds(live[index].expiresAt - now)
          // In place: a binding read out of the array copied its address (each string in it).
          fields.field("Contact") { out in
            live[index].contact.write(to: &out)
            out.append(contentsOf: ";expires=".utf8)
            appendDecimal(expires, to: &out)
          }
        }
      }
      fields.field("Date") { SIPDate.write(secondsSince1970: date, to: &$0) }
    }
    return result
  }

  /// Whole seconds left, rounded up (a binding with 0.4 s left still shows 1).
  static func seconds(_ duration: Duration) -> Int64 {
    let (whole, fraction) = duration.components
    return fraction > 0 ? whole + 1 : whole
  }

  /// ``seconds(_:)`` of a duration in microseconds.
  static func seconds(microseconds: Int64) -> Int64 {
    let (whole, fraction) = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
    return fraction > 0 ? whole + 1 : whole
  }
}
