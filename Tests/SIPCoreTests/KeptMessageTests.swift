import SIPCore
import Testing

/// A message made over its own bytes (what a server transaction keeps to answer
/// retransmissions) is the same message: equal, the same bytes, the same fields, and any change
/// made to it afterwards shows in its bytes.
@Suite struct KeptMessageTests {
  static let request = """
    OPTIONS sip:bob@biloxi.com SIP/2.0\r
    Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;rport\r
    Max-Forwards: 70\r
    To: Bob <sip:bob@biloxi.com>\r
    From: Alice <sip:alice@atlanta.com>;tag=1928301774\r
    Call-ID: a84b4c76e66710@pc33.atlanta.com\r
    CSeq: 63104 OPTIONS\r
    Subject: folded\r
     over two lines\r
    Content-Length: 0\r
    \r

    """

  /// A response built from a parsed request (fields sharing the request's bytes, a To with a
  /// tag of its own, a stamped Via), with and without a body.
  static func responses() throws -> [SIPMessage] {
    var request = try SIPMessage.parse(Self.request)
    _ = request.stampTopVia(received: "192.0.2.4", rport: 5070)
    let plain = request.response(status: 200, toTag: "a6c85cf")
    var withBody = request.response(status: 488, reason: "Not Here", toTag: "x")
    withBody.set("Content-Type", "text/plain")
    withBody.set("Content-Length", "5")
    withBody.body = Array("hello".utf8)
    return [plain, withBody, request]
  }

  @Test func keptIsTheSameMessageAndBytes() throws {
    for message in try Self.responses() {
      let kept = message.keptAsSerialized()
      #expect(kept.isKeptAsSerialization)
      #expect(!message.isKeptAsSerialization)
      #expect(kept == message)
      #expect(kept.serialized() == message.serialized())
      #expect(kept.serializedCount == message.serializedCount)
      #expect(kept.headers.map(\.name) == message.headers.map(\.name))
      #expect(kept.headers.map(\.value) == message.headers.map(\.value))
      #expect(kept.headers.map(\.line) == message.headers.map(\.line))
      #expect(kept.topVia == message.topVia)
      #expect(kept.body == message.body)
      #expect(try SIPMessage.parse(kept.serialized()) == message)
      // Kept twice is the same object.
      #expect(kept.keptAsSerialized().isKeptAsSerialization)
    }
  }

  /// Every kind of change clears the mark: the bytes follow the change (without clearing,
  /// `serialized()` would answer the old bytes).
  @Test func aChangeAfterKeepingShowsInTheBytes() throws {
    let message = try Self.responses()[0]
    let changes: [(String, (inout SIPMessage) -> Void)] = [
      ("start line", { $0.startLine = .response(version: "SIP/2.0", status: 202, reason: "A") }),
      ("field added", { $0.set("Subject", "new") }),
      ("field removed", { $0.removeTopVia() }),
      ("body", { $0.body = Array("x".utf8) }),
    ]
    for (name, change) in changes {
      var kept = message.keptAsSerialized()
      var plain = message
      change(&kept)
      change(&plain)
      #expect(!kept.isKeptAsSerialization, "\(name)")
      #expect(kept.serialized() == plain.serialized(), "\(name)")
      // A copy made before the change keeps the old bytes.
      let before = message.keptAsSerialized()
      var copy = before
      change(&copy)
      #expect(before.serialized() == message.serialized(), "\(name)")
      #expect(copy.serialized() == plain.serialized(), "\(name)")
    }
  }

  /// A message with no fields has nothing to hold its bytes: kept as it is.
  @Test func aMessageWithoutFieldsStaysAsItIs() {
    let bare = SIPMessage.request(method: "OPTIONS", uri: "sip:a@b")
    #expect(!bare.keptAsSerialized().isKeptAsSerialization)
    #expect(bare.keptAsSerialized().serialized() == bare.serialized())
  }
}

/// The Via a transport puts on every request, copied into a buffer of its exact size, is the
/// field ``Via/write(transport:host:port:branch:requestRport:to:)`` prints, for every shape of
/// its parts.
@Test func aTransportsViaIsWhatTheViaPrinterPrints() {
  let ports: [Int?] = [nil, 0, 7, 5060, 65535, 100_000, -1]
  for port in ports {
    for (transport, host) in [("UDP", "10.0.0.1"), ("TLS", "[2001:db8::1]"), ("TCP", "a.example")] {
      for rport in [true, false] {
        let built = SIPHeaderField(
          viaTransport: transport, host: host, port: port, branch: "z9hG4bK74bf9",
          requestRport: rport)
        var printed: [UInt8] = []
        Via.write(
          transport: transport, host: host, port: port, branch: "z9hG4bK74bf9", requestRport: rport,
          to: &printed)
        #expect(built.name == "Via")
        #expect(
          Array(built.valueBytes) == printed, "\(transport) \(host) \(String(describing: port))")
        #expect(built.isNamed("via"))
        var message = SIPMessage.request(method: "OPTIONS", uri: "sip:a@b")
        message.prepend(built)
        if (port ?? 0) >= 0, (port ?? 0) <= 65535 {
          #expect(message.topVia?.branch == "z9hG4bK74bf9")
          #expect(message.topVia?.port == port)
        }
      }
    }
  }
}
