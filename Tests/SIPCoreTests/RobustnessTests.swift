import SIPCore
import Testing

/// A small seeded generator for property tests (xorshift64*), so a failure names its seed.
struct TestRandom {
  var state: UInt64
  init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
  mutating func next() -> UInt64 {
    state ^= state >> 12
    state ^= state << 25
    state ^= state >> 27
    return state &* 0x2545_F491_4F6C_DD1D
  }
  mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(1, bound))) }
  mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

@Test func randomMutationsOfTheCorpusNeverCrash() throws {
  let seed: UInt64 = 20_261_124
  var random = TestRandom(seed: seed)
  let corpus = try (Corpus.torture.map(\.file) + Corpus.flowMessages.prefix(40)).map {
    try Corpus.bytes($0)
  }
  let interesting = Array(" \t\r\n:;,<>\"\\%@=?/[]0123456789".utf8) + [0, 0xFF, 0xC3]
  var parsed = 0
  var rejected = 0
  for _ in 0..<100_000 {
    var bytes = random.pick(corpus)
    for _ in 0...random.below(4) {
      guard !bytes.isEmpty else { break }
      let position = random.below(bytes.count)
      switch random.below(5) {
      case 0: bytes[position] = random.pick(interesting)
      case 1: bytes.remove(at: position)
      case 2: bytes.insert(random.pick(interesting), at: position)
      case 3: bytes.removeSubrange(position..<min(bytes.count, position + random.below(40)))
      default: bytes[position] = UInt8(truncatingIfNeeded: random.next())
      }
    }
    if let message = try? SIPMessage.parse(bytes) {
      parsed += 1
      // Every typed view and the check must cope with whatever parsed.
      _ = message.check()
      _ = (message.vias, message.from, message.to, message.cseq, message.contacts, message.routes)
      _ = (message.requestURI, message.maxForwards, message.expires, message.contentType)
      _ = (message.authorization, message.wwwAuthenticate, message.retryAfter, message.warnings)
      #expect(
        (try? SIPMessage.parse(message.serialized())) == message,
        "round trip failed (seed \(seed))")
    } else {
      rejected += 1
    }
    var framer = SIPStreamFramer()
    framer.append(bytes)
    _ = try? framer.next()
  }
  #expect(
    parsed > 1_000 && rejected > 1_000, "seed \(seed): \(parsed) parsed, \(rejected) rejected")
}

/// Random well-formed messages round-trip: `parse(serialize(m)) == m`.
@Test func randomWellFormedMessagesRoundTrip() throws {
  let seed: UInt64 = 77
  var random = TestRandom(seed: seed)
  let methods = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "FOO-BAR"]
  let hosts = ["example.com", "192.0.2.1", "[2001:db8::1]", "a.b-c.example"]
  let names = ["Via", "v", "X-Custom", "Subject", "s", "Contact", "m", "Route", "Warning"]
  let values = [
    "SIP/2.0/UDP host;branch=z9hG4bK1", "<sip:a@b>;tag=1", "text with  spaces", "\"quoted, comma\"",
    "a, b, c", "", "399 host \"warning\"",
  ]
  for round in 0..<5_000 {
    let method = random.pick(methods)
    var message = SIPMessage.request(
      method: method, uri: "sip:user\(round)@\(random.pick(hosts)):\(random.below(65536))")
    for _ in 0..<random.below(12) { message.append(random.pick(names), random.pick(values)) }
    message.append("Call-ID", "\(random.next())@host")
    message.append("CSeq", "\(random.below(1 << 31)) \(method)")
    let body = (0..<random.below(200)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    message.body = body
    message.append("Content-Length", "\(body.count)")
    let parsed = try SIPMessage.parse(message.serialized())
    #expect(parsed == message, "seed \(seed), round \(round)")
  }
}

/// A header name longer than a field holds (65,535 bytes) is refused where it starts, not cut
/// short; one at the limit parses with every byte of its name.
@Test func aHeaderNameLongerThanAFieldHoldsIsRefused() throws {
  func message(nameLength: Int) -> [UInt8] {
    Array("OPTIONS sip:a@b SIP/2.0\r\n".utf8)
      + Array(repeating: UInt8(ascii: "x"), count: nameLength)
      + Array(": 1\r\nContent-Length: 0\r\n\r\n".utf8)
  }
  let atLimit = try SIPMessage.parse(message(nameLength: 65_535))
  #expect(atLimit.headers.first?.nameBytes.count == 65_535)
  #expect(atLimit.serialized() == message(nameLength: 65_535))
  do {
    _ = try SIPMessage.parse(message(nameLength: 65_536))
    Issue.record("a 65,536-byte header name parsed")
  } catch {
    #expect(error.reason.contains("longer than 65,535 bytes"), "\(error)")
    #expect(error.line == 2 && error.column == 1, "\(error)")
  }
}

/// A field is 32 bytes: messages hold arrays of them, and a server transaction keeps its
/// final response's (the 40 bytes before were a fifth more of each).
@Test func aHeaderFieldIs32Bytes() {
  #expect(MemoryLayout<SIPHeaderField>.stride == 32)
}
