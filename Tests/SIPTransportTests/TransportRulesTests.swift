import SIPCore
import SIPTransport
import Testing

struct CountingRandom: RandomNumberGenerator {
  var value: UInt64 = 0x1f
  mutating func next() -> UInt64 {
    value &+= 1
    return value
  }
}

@Suite struct TransportRulesTests {
  func request(via: String) throws -> SIPMessage {
    try SIPMessage.parse(
      "OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\nVia: \(via)\r\nMax-Forwards: 70\r\nTo: <sip:bob@biloxi.example.com>\r\nFrom: <sip:alice@atlanta.example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
  }

  @Test func branchesCarryTheCookieAndAreUnique() {
    var random = CountingRandom()
    let first = TransportRules.newBranch(using: &random)
    let second = TransportRules.newBranch(using: &random)
    #expect(first == "z9hG4bK0000000000000020")
    #expect(second != first)
    let via = TransportRules.via(sentBy: "10.0.0.1", port: 5062, transport: .udp, branch: first)
    #expect(via.description == "SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK0000000000000020;rport")
  }

  /// A transport prints its Via from the parts (`Via.write(transport:host:port:branch:…)`):
  /// the bytes of the Via it would build, for every transport, host form, port and `rport`
  /// choice, and they read back as that Via.
  @Test(arguments: [SIPTransportProtocol.udp, .tcp, .tls])
  func viaPrintedFromPartsIsTheBuiltVia(transport: SIPTransportProtocol) throws {
    for host in ["10.0.0.1", "pc33.atlanta.example.com", "[2001:db8::9]"] {
      for port in [5060, 5061, 1] {
        for requestRport in [true, false] {
          let branch = "z9hG4bK74bf9"
          let built = TransportRules.via(
            sentBy: host, port: port, transport: transport, branch: branch,
            requestRport: requestRport)
          var printed: [UInt8] = []
          Via.write(
            transport: transport.rawValue, host: host, port: port, branch: branch,
            requestRport: requestRport, to: &printed)
          var expected: [UInt8] = []
          built.write(to: &expected)
          #expect(printed == expected, "\(host) \(port) \(requestRport)")
          let read = try request(via: String(decoding: printed, as: UTF8.self)).topVia
          #expect(read == built)
        }
      }
    }
  }

  /// A client reads a response's top Via from its bytes (`topViaSentBy`) where it has the usual
  /// form, and that reading answers what parsing it answers: sent-by ours or not, and the
  /// branch. Other forms are left to the parser (nil), never read otherwise.
  @Test func topViaReadInPlaceIsTheParsedVia() throws {
    let vias = [
      "SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1;rport=5062;received=10.0.0.9",
      "SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bK1",
      "SIP/2.0/udp PC33.Atlanta.example.com;BRANCH=z9hG4bKx",
      "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKa;branch=z9hG4bKb",
      "SIP/2.0/UDP 10.0.0.1:5062;branch", "SIP/2.0/UDP 10.0.0.1:5062;branch=",
      "SIP/2.0/UDP 10.0.0.1:5062", "SIP/2.0/UDP 10.0.0.1:5062;ttl=1",
      "SIP/2.0/TCP 10.0.0.1:5062;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK2",
      "SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1 ,SIP/2.0/UDP 10.0.0.7",
      "SIP/2.0/UDP 10.0.0.1:5062 ;branch=z9hG4bK1", "SIP/2.0/UDP 10.0.0.1 : 5062;branch=a",
      "SIP / 2.0 / UDP 10.0.0.1:5062;branch=z9hG4bK1", "SIP/2.0/UDP\t10.0.0.1:5062;branch=a",
      "SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bK1", "SIP/2.0/UDP 10.0.0.1:99999;branch=a",
      "SIP/2.0/UDP 10.0.0.1:05062;branch=a", "SIP/2.0/UDP 10.0.0.1:;branch=a",
      "SIP/2.0/UDP 10.0.0.1:5062;branch=\"q\"", "SIP/2.0/UDP 10.0.0.1:5062;branch=a;",
      "SIP/2.0/UDP 10.0.0.1:5062;;branch=a", "SIP/2.0/UDP 10.0.0.1:5062;branch=a junk",
      "SIP/2.0 10.0.0.1:5062;branch=a", "SIP/2.0/UDP", "SIP/2.0/UDP ;branch=a",
    ]
    var readInPlace = 0
    for via in vias {
      for field in ["Via: \(via)", "v: \(via)"] {
        let text = "SIP/2.0 200 OK\r\n\(field)\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        guard let message = try? SIPMessage.parse(text) else { continue }
        for (host, port) in [
          ("10.0.0.1", 5062), ("10.0.0.1", 5060), ("pc33.atlanta.example.com", 5060),
          ("10.0.0.7", 5060), ("[2001:db8::1]", 5062),
        ] {
          guard let read = message.topViaSentBy(host: host, port: port) else { continue }
          readInPlace += 1
          let parsed = message.topVia
          #expect(
            read.isOurs == TransportRules.isForUs(topVia: parsed, sentBy: host, port: port),
            "\(via) \(host):\(port)")
          #expect(read.branch == parsed?.branch, "\(via)")
        }
      }
    }
    // The usual forms are read in place (the first four, both spellings, every sent-by).
    #expect(readInPlace >= 4 * 2 * 5)
    let usual = try SIPMessage.parse(
      "SIP/2.0 200 OK\r\nVia: \(vias[0])\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    let read = try #require(usual.topViaSentBy(host: "10.0.0.1", port: 5062))
    #expect(read.isOurs && read.branch == "z9hG4bK1")
  }

  /// RFC 3581 §4: the source port differs from the Via port; the response goes to the source.
  @Test func rportAndReceived() throws {
    var message = try request(via: "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport")
    TransportRules.stampReceived(
      &message, source: SIPPeer(host: "192.0.2.7", port: 40123, transport: .udp))
    #expect(message.topVia?.received == "192.0.2.7")
    #expect(message.topVia?.rport == .some("40123"))
    let response = message.response(status: 200, toTag: "b")
    #expect(
      TransportRules.responseDestination(for: response)
        == SIPPeer(host: "192.0.2.7", port: 40123, transport: .udp))
  }

  /// §18.2.1 without rport: `received` only when the host differs; the Via port is used.
  @Test func receivedWithoutRport() throws {
    var same = try request(via: "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1")
    TransportRules.stampReceived(
      &same, source: SIPPeer(host: "10.0.0.1", port: 40000, transport: .udp))
    #expect(same.topVia?.received == nil)
    #expect(
      TransportRules.responseDestination(for: same)
        == SIPPeer(host: "10.0.0.1", port: 5070, transport: .udp))
    var named = try request(via: "SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK1")
    TransportRules.stampReceived(
      &named, source: SIPPeer(host: "10.0.0.3", port: 40000, transport: .tcp))
    #expect(named.topVia?.received == "10.0.0.3")
    #expect(
      TransportRules.responseDestination(for: named)
        == SIPPeer(host: "10.0.0.3", port: 5060, transport: .tcp))
    let maddr = try request(via: "SIP/2.0/UDP a.example.com:5080;branch=z9hG4bK1;maddr=10.9.9.9")
    #expect(
      TransportRules.responseDestination(for: maddr)
        == SIPPeer(host: "10.9.9.9", port: 5080, transport: .udp))
  }

  /// The stamp is written into the Via's bytes, the rest kept as it came; a Via the in-place
  /// edit does not handle is printed again. Either way the top Via reads as the stamped Via the
  /// call returns, the Vias after it keep their bytes, and a Via as this package prints one
  /// comes out as printing the stamped Via would give.
  @Test(arguments: [
    ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport", true),
    ("SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1", true),
    ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1", true),
    ("SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK1;rport, SIP/2.0/TCP b.example.com;branch=z9hG4bK2", true),
    ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport,SIP/2.0/UDP c;branch=z9hG4bK3", true),
    ("SIP/2.0/udp 10.0.0.1 ;branch=z9hG4bK1;rport", true),
    ("SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1;rport;maddr=[::1]", true),
    ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;RPORT", false),
    ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport=7", false),
    ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport;rport", false),
    ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received=10.1.1.1;rport", false),
    ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received;rport", false),
    ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;x=\"a,b\";rport", false),
    ("SIP/2.0/UDP 10.0.0.1:5060; branch = z9hG4bK1;rport", false),
  ])
  func stampIsWrittenInPlaceOrPrinted(via: String, inPlace: Bool) throws {
    var message = try request(via: via)
    let before = try #require(message.topVia)
    let source = SIPPeer(host: "192.0.2.7", port: 40123, transport: .udp)
    var probe = message
    #expect(
      probe.stampTopVia(received: "192.0.2.7", rport: before.rport == nil ? nil : 40123) == inPlace)
    if !inPlace { #expect(probe == message) }
    let stamped = try #require(
      TransportRules.stampReceived(&message, topVia: before, source: source))
    #expect(message.topVia == stamped)
    // The endpoint's form, stamping its parsed Via in place, gives the same message and Via.
    var inPlaceMessage = try request(via: via)
    var inPlaceVia: Via? = before
    TransportRules.stampReceived(&inPlaceMessage, topVia: &inPlaceVia, source: source)
    #expect(inPlaceMessage == message && inPlaceVia == stamped)
    #expect(stamped.received == "192.0.2.7")
    if before.rport != nil { #expect(stamped.rport == .some("40123")) }
    // The Vias after the first keep their bytes.
    let original = try request(via: via)
    #expect(Array(message.vias.dropFirst()) == Array(original.vias.dropFirst()))
    // A Via as this package prints one is stamped as printing would.
    if before.description == String(via.prefix { $0 != "," }) {
      #expect(message.fields("Via").first?.value.hasPrefix(stamped.description) == true)
    }
    // Parsing the stamped message back gives the same message.
    let reparsed = try SIPMessage.parse(message.serialized())
    #expect(reparsed.topVia == stamped)
    // The form that leaves the parsed Via as it came stamps the same bytes, and the Via with
    // the stamp gives the destination the stamped Via gives: from another host, and from the
    // sent-by host at its port and at another.
    let sources = [
      source, SIPPeer(host: before.host, port: before.port ?? 5060, transport: .udp),
      SIPPeer(host: before.host, port: 5999, transport: .udp),
    ]
    for source in sources {
      var old = try request(via: via)
      var oldVia: Via? = before
      TransportRules.stampReceived(&old, topVia: &oldVia, source: source)
      var new = try request(via: via)
      let stamp = TransportRules.stampReceived(&new, leaving: before, source: source)
      #expect(new == old, "\(source)")
      #expect(
        TransportRules.responseDestination(topVia: before, stamp: stamp)
          == TransportRules.responseDestination(topVia: oldVia), "\(source)")
      #expect((stamp == nil) == (oldVia == before))
    }
  }

  /// §18: a held connection being opened or open is reused; one closed under the element (its
  /// host crashed) is not.
  @Test func onlyAConnectionClosedUnderTheElementIsNotReused() {
    #expect(TransportRules.reuses(.connecting))
    #expect(TransportRules.reuses(.open))
    #expect(!TransportRules.reuses(.closed))
  }

  /// §18.2.2, first bullet: a response over a reliable transport goes over the connection its
  /// request came on while that is open; else over a new connection to `received` at the
  /// sent-by port (or the default port), never the `rport` source port (RFC 3581 §4 is about
  /// unreliable transports), and `maddr` plays no part.
  @Test func reliableResponseOverTheOpenConnectionElseToTheSentByPort() throws {
    let source = SIPPeer(host: "192.0.2.7", port: 40123, transport: .tcp)
    var message = try request(via: "SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bK1;rport")
    TransportRules.stampReceived(&message, source: source)
    let response = message.response(status: 200, toTag: "b")
    // The Via names the source, the far end of the connection the request came on.
    #expect(TransportRules.responseDestination(for: response) == source)
    for held in [HeldConnection.connecting, .open] {
      #expect(
        TransportRules.reliableResponseDestination(
          topVia: response.topVia, source: source, held: held) == source)
    }
    let sentBy = SIPPeer(host: "192.0.2.7", port: 5070, transport: .tcp)
    for held in [HeldConnection.closed, nil] {
      #expect(
        TransportRules.reliableResponseDestination(
          topVia: response.topVia, source: source, held: held) == sentBy)
    }
    // No `received` (the source is the sent-by host), no port: the transport's default.
    let tls = try request(via: "SIP/2.0/TLS 10.0.0.1;branch=z9hG4bK2;maddr=10.9.9.9")
    #expect(
      TransportRules.reliableResponseDestination(
        topVia: tls.topVia, source: SIPPeer(host: "10.0.0.1", port: 40000, transport: .tls),
        held: nil) == SIPPeer(host: "10.0.0.1", port: 5061, transport: .tls))
    // No Via, or one naming no transport this package knows: nowhere.
    #expect(
      TransportRules.reliableResponseDestination(topVia: nil, source: source, held: nil) == nil)
    let sctp = try request(via: "SIP/2.0/SCTP 10.0.0.1;branch=z9hG4bK3")
    #expect(
      TransportRules.reliableResponseDestination(topVia: sctp.topVia, source: source, held: nil)
        == nil)
  }

  /// §18.1.1: within 200 bytes of the MTU, or over 1300 bytes with the MTU unknown.
  @Test func sizeSwitch() {
    #expect(!TransportRules.mustUseStream(messageSize: 1300, pathMTU: 1500))
    #expect(TransportRules.mustUseStream(messageSize: 1301, pathMTU: 1500))
    #expect(!TransportRules.mustUseStream(messageSize: 1300, pathMTU: nil))
    #expect(TransportRules.mustUseStream(messageSize: 1301, pathMTU: nil))
    #expect(TransportRules.mustUseStream(messageSize: 400, pathMTU: 576))
  }

  @Test func responsesForOthersAreRecognised() throws {
    let message = try request(via: "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1")
    #expect(TransportRules.isForUs(message, sentBy: "10.0.0.1", port: 5060))
    #expect(!TransportRules.isForUs(message, sentBy: "10.0.0.2", port: 5060))
    #expect(SIPTransportProtocol(viaTransport: "tls") == .tls)
    #expect(SIPTransportProtocol.tls.defaultPort == 5061)
  }
}
