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
