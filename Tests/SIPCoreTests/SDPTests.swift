import SIPCore
import Testing

let offerText = """
  v=0\r
  o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r
  s=-\r
  c=IN IP4 192.0.2.101\r
  t=0 0\r
  m=audio 49172 RTP/AVP 0 8 97\r
  a=rtpmap:0 PCMU/8000\r
  a=rtpmap:97 iLBC/8000\r
  a=fmtp:97 mode=30\r
  a=ptime:20\r
  m=video 51372 RTP/AVP 31\r
  a=rtpmap:31 H261/90000\r
  a=sendonly\r

  """

struct SDPTests {
  @Test func parsesEveryField() throws {
    let sdp = try SessionDescription(parsing: Array(offerText.utf8))
    #expect(sdp.origin.username == "alice")
    #expect(sdp.origin.sessionVersion == 2_890_844_526)
    #expect(sdp.connection?.address == "192.0.2.101")
    #expect(sdp.media.count == 2)
    #expect(sdp.media[0].formats == ["0", "8", "97"])
    #expect(sdp.media[0].rtpMaps.map(\.encoding) == ["PCMU", "iLBC"])
    #expect(sdp.media[0].encoding(of: "8") == "PCMA")
    #expect(sdp.media[0].formatParameters("97") == "mode=30")
    #expect(sdp.media[0].packetTime == 20)
    #expect(sdp.media[0].direction == .sendrecv)
    #expect(sdp.media[1].direction == .sendonly)
    #expect(sdp.text == offerText)
    #expect(try SessionDescription(parsing: sdp.bytes) == sdp)
    // Printed bytes are kept at their size (a call's record keeps them for its history): a
    // short description does not keep the buffer it was written into.
    let short = try SessionDescription(
      parsing: Array("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n".utf8))
    #expect(short.bytes.count == 35 && short.bytes.capacity < 35 + 32)
    #expect(sdp.bytes.capacity < sdp.bytes.count + 32)
  }

  /// Every SDP body of the RFC 3665 flows parses and round-trips.
  @Test func flowBodiesParseAndRoundTrip() throws {
    var bodies = 0
    for file in Corpus.flowMessages {
      let message = try SIPMessage.parse(try Corpus.bytes(file))
      guard message.contentType?.matches("application", "sdp") == true, !message.body.isEmpty
      else { continue }
      // RFC 3665 §3.11 F1 prints its SDP without the v=0 line: an error in the RFC's text.
      if file.hasSuffix("3.11-unsuccessful-temporarily-unavailable/F1.sip") {
        #expect(throws: SDPError("the first line must be v=", line: 1)) {
          try SessionDescription(parsing: message.body)
        }
        continue
      }
      let sdp = try SessionDescription(parsing: message.body)
      #expect(try SessionDescription(parsing: sdp.bytes) == sdp, "\(file)")
      #expect(!sdp.media.isEmpty, "\(file)")
      bodies += 1
    }
    #expect(bodies > 30)
  }

  @Test(arguments: [
    ("o=a 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", 1, "v="),
    ("v=0\r\ns=-\r\nt=0 0\r\n", 3, "o="),
    ("v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\n", 3, "t="),
    ("v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n", 5, "port"),
    ("v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nq=what\r\n", 5, "unknown"),
    ("v=0\r\no=a 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n", 2, "o="),
    ("v=0\r\nno equals\r\n", 2, "type"),
    ("v=00\r\no=a 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", 1, "v=0"),
    ("v=0\r\no=a 1 x IN IP4 h\r\ns=-\r\nt=0 0\r\n", 2, "version"),
    ("v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nt=0\r\n", 4, "t="),
    ("v=0\no=a 1 1 IN IP4 h\ns=-\nc=IN IP4\nt=0 0\n", 4, "c="),
    ("v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 5/0 RTP/AVP 0\r\n", 5, "count"),
    ("v=0\r\no=a 1 1 IN IP4 h\r\nt=0 0\r\n\r\n\r\n", 3, "s="),
    // One field too many is as wrong as one too few; a port with two slashes is no count.
    ("v=0\r\no=a 1 1 IN IP4 h x\r\ns=-\r\nt=0 0\r\n", 2, "o="),
    ("v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nt=0 0 0\r\n", 4, "t="),
    ("v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h x\r\nt=0 0\r\n", 4, "c="),
    ("v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 5\r\n", 5, "m="),
    ("v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 5/2/3 RTP/AVP 0\r\n", 5, "count"),
  ])
  func malformedSDPNamesTheLine(text: String, line: Int, mentions: String) {
    #expect {
      try SessionDescription(parsing: Array(text.utf8))
    } throws: { error in
      guard let error = error as? SDPError else { return false }
      return error.line == line && error.reason.contains(mentions)
    }
  }
}

/// Lines are read as bytes: LF or CRLF ends, trailing blank lines ignored, runs of spaces
/// between fields, attributes split at their first colon (an empty name or value kept).
@Test func sdpLinesAndFieldsAreReadAsBytes() throws {
  let text =
    "v=0\no=a  1 2 IN IP4 h\r\ns=caf\u{e9}\nc=IN IP4 10.0.0.1\r\nt=0 0\n"
    + "m=audio 49170/2 RTP/AVP  0 8\na=\na=x:\na=:y\na=rtpmap:0 PCMU/8000:z\r\n\r\n\n"
  let sdp = try SessionDescription(parsing: Array(text.utf8))
  #expect(sdp.origin.sessionID == "1" && sdp.origin.sessionVersion == 2)
  #expect(sdp.sessionName == "café")
  #expect(sdp.connection?.address == "10.0.0.1")
  let media = try #require(sdp.media.first)
  #expect(media.port == 49170 && media.portCount == 2 && media.formats == ["0", "8"])
  #expect(
    media.attributes == [
      .init("", nil), .init("x", ""), .init("", "y"), .init("rtpmap", "0 PCMU/8000:z"),
    ])
}

/// RFC 3264 answers: one row per case.
struct OfferAnswerRow: Sendable, CustomTestStringConvertible {
  var name: String
  var codecs: [String]
  var ports: [Int]
  var formats: [[String]]
  var directions: [MediaDirection]
  var testDescription: String { name }
}

@Test(arguments: [
  OfferAnswerRow(
    name: "audio and video accepted, sendonly mirrored", codecs: ["PCMA", "H261"],
    ports: [3456, 3458], formats: [["8"], ["31"]], directions: [.sendrecv, .recvonly]),
  OfferAnswerRow(
    name: "video rejected with port 0", codecs: ["iLBC", "PCMU"], ports: [3456, 0],
    formats: [["0", "97"], ["31"]], directions: [.sendrecv, .sendrecv]),
  OfferAnswerRow(
    name: "nothing in common", codecs: ["G729"], ports: [0, 0],
    formats: [["0", "8", "97"], ["31"]],
    directions: [.sendrecv, .sendrecv]),
])
func offerAnswer(row: OfferAnswerRow) throws {
  let offer = try SessionDescription(parsing: Array(offerText.utf8))
  let answer = SessionDescription.answer(
    to: offer, codecs: row.codecs, address: "192.0.2.201", sessionID: "42", ports: [3456, 3458])
  #expect(answer.media.map(\.port) == row.ports)
  #expect(answer.media.map(\.formats) == row.formats)
  #expect(answer.media.map(\.direction) == row.directions)
  #expect(answer.media.map(\.type) == offer.media.map(\.type))
  #expect(try SessionDescription(parsing: answer.bytes) == answer)
}

@Test func holdAndVersion() throws {
  let offer = try SessionDescription(parsing: Array(offerText.utf8))
  let hold = offer.holdOffer()
  #expect(hold.origin.sessionVersion == offer.origin.sessionVersion + 1)
  #expect(hold.media.map(\.direction) == [.sendonly, .sendonly])
  #expect(hold.isHold)
  #expect(!offer.isHold)
  var legacy = offer
  legacy.connection?.address = "0.0.0.0"
  #expect(legacy.isHold)
}

/// After a move (RFC 3665 §3.7) the offer names the new address in `o=` and every `c=`, with
/// its address type; an RFC 2543 hold address stays; nothing else changes.
@Test func readdressNamesTheNewAddressEverywhere() throws {
  var offer = try SessionDescription(parsing: Array(offerText.utf8))
  offer.media[1].connections = [
    SessionDescription.Connection(networkType: "IN", addressType: "IP4", address: "192.0.2.9")
  ]
  var moved = offer
  moved.readdress("2001:db8::7")
  let text = String(decoding: moved.bytes, as: UTF8.self)
  #expect(text.contains("o=alice 2890844526 2890844526 IN IP6 2001:db8::7\r\n"), "\(text)")
  #expect(text.split(separator: "\r\n").filter { $0 == "c=IN IP6 2001:db8::7" }.count == 2)
  #expect(!text.contains("192.0.2"), "\(text)")
  #expect(moved.media.map(\.formats) == offer.media.map(\.formats))
  var legacy = offer
  legacy.connection?.address = "0.0.0.0"
  legacy.readdress("192.0.2.200")
  #expect(legacy.connection?.address == "0.0.0.0" && legacy.origin.address == "192.0.2.200")
  #expect(legacy.media[1].connections.first?.address == "192.0.2.200")
}

/// Every kind of line prints as RFC 4566 writes it, in its order, numbers included (the largest
/// 64-bit ones, a port count), and parses back to the same description.
@Test func everyLineKindPrintsInOrder() throws {
  let text = """
    v=0\r
    o=- 42 18446744073709551615 IN IP4 192.0.2.1\r
    s=Session\r
    i=About it\r
    u=http://example.com/s\r
    e=alice@example.com\r
    p=+1 555 0100\r
    c=IN IP4 192.0.2.1\r
    b=AS:64\r
    t=3034423619 3042462419\r
    r=604800 3600 0 90000\r
    z=2882844526 -1h 2898848070 0\r
    k=prompt\r
    a=recvonly\r
    m=audio 49170/2 RTP/AVP 0 8\r
    i=Voice\r
    c=IN IP4 192.0.2.2\r
    b=CT:128\r
    k=clear:secret\r
    a=rtpmap:0 PCMU/8000\r
    m=video 0 RTP/AVP 31\r

    """
  let sdp = try SessionDescription(parsing: Array(text.utf8))
  #expect(sdp.text == text)
  #expect(try SessionDescription(parsing: sdp.bytes) == sdp)
  var edited = sdp
  edited.media[1].port = 51_372
  edited.media[1].portCount = 3
  #expect(edited.text.contains("m=video 51372/3 RTP/AVP 31\r\n"))
}
