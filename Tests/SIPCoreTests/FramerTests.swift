import SIPCore
import Testing

let invite = """
  INVITE sip:bob@biloxi.example.com SIP/2.0\r
  Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r
  Max-Forwards: 70\r
  From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r
  To: Bob <sip:bob@biloxi.example.com>\r
  Call-ID: 3848276298220188511@atlanta.example.com\r
  CSeq: 1 INVITE\r
  Contact: <sip:alice@client.atlanta.example.com;transport=tcp>\r
  Content-Type: application/sdp\r
  Content-Length: 5\r
  \r
  v=0\r\n
  """

let bye = """
  BYE sip:alice@client.atlanta.example.com SIP/2.0\r
  Via: SIP/2.0/TCP client.biloxi.example.com:5060;branch=z9hG4bKnashds7\r
  Max-Forwards: 70\r
  From: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r
  To: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r
  Call-ID: 3848276298220188511@atlanta.example.com\r
  CSeq: 1 BYE\r
  Content-Length: 0\r
  \r\n
  """

struct FramerTests {
  @Test func messagesArriveByteByByteWithKeepAlivesBetween() throws {
    let stream = Array(("\r\n\r\n" + invite + "\r\n" + bye + "\r\n\r\n").utf8)
    var framer = SIPStreamFramer()
    var messages: [SIPMessage] = []
    for byte in stream {
      framer.append([byte])
      while let message = try framer.next() { messages.append(message) }
    }
    #expect(messages.map(\.method) == ["INVITE", "BYE"])
    #expect(messages.first?.body == Array("v=0\r\n".utf8))
    #expect(framer.keepAlives == 5)
    #expect(framer.pendingByteCount == 0)
  }

  @Test func severalMessagesInOneBuffer() throws {
    var framer = SIPStreamFramer()
    framer.append(Array((invite + bye + invite).utf8))
    var methods: [String?] = []
    while let message = try framer.next() { methods.append(message.method) }
    #expect(methods == ["INVITE", "BYE", "INVITE"])
  }

  @Test func aMessageWithoutContentLengthIsAnErrorThatNamesIt() {
    var framer = SIPStreamFramer()
    framer.append(Array(bye.replacingOccurrences(of: "Content-Length: 0\r\n", with: "").utf8))
    #expect {
      _ = try framer.next()
    } throws: { error in
      (error as? SIPParseError)?.header == "Content-Length"
    }
    // The framer stays failed: the connection must be closed.
    #expect(throws: SIPParseError.self) { _ = try framer.next() }
  }

  @Test func anIncompleteBodyWaits() throws {
    var framer = SIPStreamFramer()
    let bytes = Array(invite.utf8)
    framer.append(bytes.dropLast(2))
    #expect(try framer.next() == nil)
    framer.append(bytes.suffix(2))
    #expect(try framer.next()?.method == "INVITE")
  }

  @Test func anEndlessHeaderSectionIsRefused() {
    var framer = SIPStreamFramer(maximumHeaderBytes: 100)
    framer.append(Array(repeating: UInt8(ascii: "a"), count: 200))
    #expect(throws: SIPParseError.self) { _ = try framer.next() }
  }
}

@Test func serializedCountMatchesTheBytes() throws {
  var message = try SIPMessage.parse(
    "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 3\r\n\r\nabc"
  )
  #expect(message.serializedCount == message.serialized().count)
  message.prepend("Route", "<sip:p.example.com;lr>")
  #expect(message.serializedCount == message.serialized().count)
}
