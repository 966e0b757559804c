// libFuzzer entry point for the SIP parser, the checks, the typed views, SDP and the stream
// framer. Not part of the SwiftPM build: `.ci/fuzz` compiles it together with the SIPCore
// sources using `swiftc -sanitize=fuzzer,address`.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSIPCore(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: count))
  if let message = try? SIPMessage.parse(bytes) {
    _ = message.check()
    _ = (message.vias, message.from, message.to, message.cseq, message.contacts)
    _ = (message.routes, message.recordRoutes, message.requestURI, message.expires)
    _ = (message.authorization, message.wwwAuthenticate, message.warnings, message.retryAfter)
    _ = (message.contentType, message.accept, message.maxForwards, message.alertInfo)
    // The round trip is a property, not just "no crash".
    guard let again = try? SIPMessage.parse(message.serialized()), again == message else {
      fatalError("round trip changed the message")
    }
    _ = try? SessionDescription(parsing: message.body)
    if let value = message.value("WWW-Authenticate") { _ = try? DigestChallenge(header: value) }
    if let value = message.value("Authorization") { _ = try? DigestCredentials(header: value) }
  }
  _ = try? SessionDescription(parsing: bytes)
  // The framer, fed in two pieces.
  var framer = SIPStreamFramer()
  let split = count / 2
  framer.append(bytes[..<split])
  _ = try? framer.next()
  framer.append(bytes[split...])
  while let next = try? framer.next(), next != nil {}
  return 0
}
