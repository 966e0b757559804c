import SIPCore
import Testing

/// RFC 1321 appendix A.5.
@Test(arguments: [
  ("", "d41d8cd98f00b204e9800998ecf8427e"),
  ("a", "0cc175b9c0f1b6a831c399e269772661"),
  ("abc", "900150983cd24fb0d6963f7d28e17f72"),
  ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
  ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
  (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "d174ab98d277d9f5a5611c2c9f419d9f"
  ),
  (
    "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
    "57edf4a22be3c955ac49da2e2107b67a"
  ),
])
func md5MatchesRFC1321(input: String, digest: String) {
  #expect(MD5.hex(input) == digest)
}

/// FIPS 180-2 appendix B and NIST examples.
@Test(arguments: [
  ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
  ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
  (
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
  ),
])
func sha256MatchesFIPS180(input: String, digest: String) {
  #expect(SHA256.hex(input) == digest)
}

@Test func oneMillionAs() {
  var sha = SHA256()
  var md5 = MD5()
  let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000)
  for _ in 0..<1_000 {
    sha.update(chunk)
    md5.update(chunk)
  }
  #expect(
    hexString(sha.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  #expect(hexString(md5.finalize()) == "7707d6ae4e027c70eea2a935c2296f21")
}

/// Padding edges: inputs around the 56- and 64-byte boundaries hash the same in one piece and
/// byte by byte.
@Test(arguments: [55, 56, 63, 64, 65, 119, 120, 128])
func blockBoundaries(length: Int) {
  let input = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 31) }
  var md5 = MD5()
  var sha = SHA256()
  for byte in input {
    md5.update([byte])
    sha.update([byte])
  }
  #expect(hexString(md5.finalize()) == MD5.hex(input))
  #expect(hexString(sha.finalize()) == SHA256.hex(input))
}

@Test func knownBoundaryDigests() {
  // Independent values: 56 and 64 'a's.
  #expect(MD5.hex(String(repeating: "a", count: 56)) == "3b0c8ac703f828b04c6c197006d17218")
  #expect(
    SHA256.hex(String(repeating: "a", count: 64))
      == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
}

/// Digest vectors of Resources/digest/VECTORS.md.
struct DigestVector: Sendable, CustomTestStringConvertible {
  var name: String
  var algorithm: DigestAlgorithm
  var username = "bob"
  var password = "zanzibar"
  var realm = "biloxi.com"
  var method = "INVITE"
  var uri = "sip:bob@biloxi.com"
  var nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
  var qop: String?
  var cnonce: String? = "0a4f113b"
  var body: [UInt8] = []
  var ha1: String?
  var ha2: String?
  var response: String
  var testDescription: String { name }
}

let mufasaNonce7616 = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
let cnonce7616 = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"

let digestVectors: [DigestVector] = [
  DigestVector(
    name: "RFC 2617 §3.5", algorithm: .md5, username: "Mufasa", password: "Circle Of Life",
    realm: "testrealm@host.com", method: "GET", uri: "/dir/index.html", qop: "auth",
    ha1: "939e7578ed9e3c518a452acee763bce9", ha2: "39aff3a2bab6126f332b942af96d3366",
    response: "6629fae49393a05397450978507c4ef1"),
  DigestVector(
    name: "RFC 2617 §3.5 without qop", algorithm: .md5, username: "Mufasa",
    password: "Circle Of Life", realm: "testrealm@host.com", method: "GET", uri: "/dir/index.html",
    cnonce: nil, response: "670fd8c2df070c60b045671b8b24ff02"),
  DigestVector(
    name: "RFC 7616 §3.9.1 MD5", algorithm: .md5, username: "Mufasa", password: "Circle of Life",
    realm: "http-auth@example.org", method: "GET", uri: "/dir/index.html", nonce: mufasaNonce7616,
    qop: "auth", cnonce: cnonce7616, ha1: "3d78807defe7de2157e2b0b6573a855f",
    response: "8ca523f5e9506fed4657c9700eebdbec"),
  DigestVector(
    name: "RFC 7616 §3.9.1 SHA-256", algorithm: .sha256, username: "Mufasa",
    password: "Circle of Life", realm: "http-auth@example.org", method: "GET",
    uri: "/dir/index.html", nonce: mufasaNonce7616, qop: "auth", cnonce: cnonce7616,
    ha1: "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232",
    ha2: "9a3fdae9a622fe8de177c24fa9c070f2b181ec85e15dcbdc32e10c82ad450b04",
    response: "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
  DigestVector(
    name: "smith 3.1 no qop", algorithm: .md5, cnonce: nil,
    ha1: "12af60467a33e8518da5c68bbff12b11", ha2: "13a14a3eb5e2c24732a1a04fff543e92",
    response: "bf57e4e0d0bffc0fbaedce64d59add5e"),
  DigestVector(
    name: "smith 3.2/3.3 auth", algorithm: .md5, qop: "auth",
    response: "89eb0059246c02b2f6ee02c7961d5ea3"),
  DigestVector(
    name: "smith 3.4 MD5-sess auth", algorithm: .md5Session, qop: "auth",
    ha1: "4f36886771c77832be5c5a8de5a7ec82", response: "e4e4ea61d186d07a92c9e1f6919902e9"),
  DigestVector(
    name: "smith 3.5 auth-int", algorithm: .md5, qop: "auth-int", body: smithBody,
    ha2: "3e8ec46a56447dbb073e1171b1be0683", response: "bdbeebb2da6adb6bca02599c2239e192"),
  DigestVector(
    name: "smith 3.6 MD5-sess auth-int", algorithm: .md5Session, qop: "auth-int",
    body: smithBody, response: "91984da2d8663716e91554859c22ca70"),
  DigestVector(
    name: "auth-int with an empty body", algorithm: .md5, qop: "auth-int",
    response: "2d6fc6e788367208f746582b18a69618"),
  DigestVector(
    name: "shtoom REGISTER", algorithm: .md5, username: "anthony", password: "foo",
    realm: "asterisk", method: "REGISTER", uri: "sip:divmod.com", nonce: "24a52b3a", cnonce: nil,
    ha1: "853d207c3fa71d81715cbf500ffa5d6b", ha2: "32fe3069474a35c4aba5adadffb192c0",
    response: "925bd204843bf802a1ed8a2494557c01"),
]

let smithBody: [UInt8] = (try? Corpus.bytes("digest/smith-auth-int-body.sdp")) ?? []

@Test func smithBodyIsBundled() {
  #expect(smithBody.count == 243)
  #expect(MD5.hex(smithBody) == "c1ed018b8ec4a3b170c0921f5b564e48")
}

@Test(arguments: digestVectors)
func digestVector(vector: DigestVector) {
  let ha1 = Digest.ha1(
    algorithm: vector.algorithm, username: vector.username, realm: vector.realm,
    password: vector.password, nonce: vector.nonce, cnonce: vector.cnonce)
  let ha2 = Digest.ha2(
    algorithm: vector.algorithm, method: vector.method, uri: vector.uri, qop: vector.qop,
    body: vector.body)
  if let expected = vector.ha1 { #expect(ha1 == expected) }
  if let expected = vector.ha2 { #expect(ha2 == expected) }
  let response = Digest.response(
    algorithm: vector.algorithm, ha1: ha1, nonce: vector.nonce,
    nonceCount: vector.qop == nil ? nil : "00000001", cnonce: vector.cnonce, qop: vector.qop,
    ha2: ha2)
  #expect(response == vector.response)
}

@Test func challengeAndCredentialsRoundTripThroughHeaders() throws {
  let challenge = try DigestChallenge(
    header: """
      Digest realm="testrealm@host.com", qop="auth,auth-int", \
      nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"
      """)
  #expect(challenge.qopOptions == ["auth", "auth-int"])
  #expect(challenge.algorithm == .md5)
  #expect(try DigestChallenge(header: challenge.headerValue) == challenge)
  let credentials = Digest.credentials(
    for: challenge, method: "GET", uri: "/dir/index.html", username: "Mufasa",
    password: "Circle Of Life", cnonce: "0a4f113b")
  #expect(credentials.response == "6629fae49393a05397450978507c4ef1")
  #expect(credentials.qop == "auth")
  #expect(credentials.nonceCount == "00000001")
  let parsed = try DigestCredentials(header: credentials.headerValue)
  #expect(parsed == credentials)
  #expect(Digest.verify(parsed, method: "GET", password: "Circle Of Life"))
  #expect(!Digest.verify(parsed, method: "GET", password: "circle of life"))
  #expect(!Digest.verify(parsed, method: "POST", password: "Circle Of Life"))
}

@Test func aSIPChallengeInAMessage() throws {
  let message = try SIPMessage.parse(
    "SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"atlanta.com\", "
      + "nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", algorithm=SHA-256, qop=\"auth\"\r\n\r\n")
  let value = try #require(message.value("WWW-Authenticate"))
  let challenge = try DigestChallenge(header: value)
  #expect(challenge.algorithm == .sha256)
  let credentials = Digest.credentials(
    for: challenge, method: "REGISTER", uri: "sip:atlanta.com", username: "alice",
    password: "secret", cnonce: "abc")
  #expect(credentials.response.count == 64)
  #expect(Digest.verify(credentials, method: "REGISTER", password: "secret"))
}

@Test(arguments: [
  "Basic realm=\"x\"", "Digest nonce=\"n\"", "Digest realm=\"r\", nonce=\"n\", algorithm=MD6",
  "Digest realm=\"r\" nonce",
])
func badChallengesAreRejected(header: String) {
  #expect(throws: SyntaxError.self) { try DigestChallenge(header: header) }
}
