public import Simulation

/// A pcap file (the classic libpcap format, microsecond timestamps, Ethernet link type) of
/// every packet the trace saw delivered: synthetic Ethernet, IPv4 or IPv6, and UDP or TCP
/// headers with correct lengths and checksums around the exact bytes that crossed the
/// simulated network, stamped with virtual time. Wireshark and tshark decode the SIP in it
/// (port 5060; TLS on 5061 is plaintext here and shows as TCP data).
public enum Pcap {
  /// The whole file. `includeDrops` adds packets the network dropped too, at the instant they
  /// were sent.
  public static func file(_ events: [TraceEvent], includeDrops: Bool = false) -> [UInt8] {
    var out = ByteWriter()
    out.le32(0xa1b2_c3d4)
    out.le16(2)
    out.le16(4)
    out.le32(0)  // thiszone
    out.le32(0)  // sigfigs
    out.le32(65_535)  // snaplen
    out.le32(1)  // LINKTYPE_ETHERNET
    var tcpSequence: [String: UInt32] = [:]
    var identification: UInt16 = 0
    for event in events {
      guard event.event == "deliver" || (includeDrops && event.event == "drop"),
        let from = event.from, let to = event.to, let transport = event.transport,
        let payload = event.payload
      else { continue }
      identification &+= 1
      let reliable = transport != .udp
      var segment: [UInt8]
      if reliable {
        let forward = "\(from)>\(to)"
        let backward = "\(to)>\(from)"
        let sequence = tcpSequence[forward] ?? 1
        tcpSequence[forward] = sequence &+ UInt32(truncatingIfNeeded: payload.count)
        segment = tcp(
          from: from, to: to, sequence: sequence, ack: tcpSequence[backward] ?? 1, payload)
      } else {
        segment = udp(from: from, to: to, payload)
      }
      let packet = ip(
        from: from.address, to: to.address, protocol: reliable ? 6 : 17, segment, id: identification
      )
      var frame = ByteWriter()
      frame.bytes(mac(to.address))
      frame.bytes(mac(from.address))
      frame.be16(to.address.isV6 ? 0x86DD : 0x0800)
      frame.bytes(packet)
      out.le32(UInt32(truncatingIfNeeded: event.time / 1_000_000))
      out.le32(UInt32(truncatingIfNeeded: event.time % 1_000_000))
      out.le32(UInt32(frame.data.count))
      out.le32(UInt32(frame.data.count))
      out.bytes(frame.data)
    }
    return out.data
  }

  /// A locally administered unicast MAC derived from the address: 02:00 + its last 4 bytes.
  static func mac(_ address: IPAddress) -> [UInt8] {
    [0x02, 0x00] + address.bytes.suffix(4)
  }

  static func udp(from: SocketAddress, to: SocketAddress, _ payload: [UInt8]) -> [UInt8] {
    var header = ByteWriter()
    header.be16(from.port)
    header.be16(to.port)
    header.be16(UInt16(truncatingIfNeeded: 8 + payload.count))
    header.be16(0)
    var segment = header.data + payload
    var sum = transportChecksum(from.address, to.address, protocol: 17, segment)
    if sum == 0 { sum = 0xFFFF }  // RFC 768: zero means "no checksum"
    segment[6] = UInt8(sum >> 8)
    segment[7] = UInt8(sum & 0xFF)
    return segment
  }

  static func tcp(
    from: SocketAddress, to: SocketAddress, sequence: UInt32, ack: UInt32, _ payload: [UInt8]
  ) -> [UInt8] {
    var header = ByteWriter()
    header.be16(from.port)
    header.be16(to.port)
    header.be32(sequence)
    header.be32(ack)
    header.be16(0x5018)  // data offset 5 words; flags PSH + ACK
    header.be16(65_535)  // window
    header.be16(0)  // checksum
    header.be16(0)  // urgent pointer
    var segment = header.data + payload
    let sum = transportChecksum(from.address, to.address, protocol: 6, segment)
    segment[16] = UInt8(sum >> 8)
    segment[17] = UInt8(sum & 0xFF)
    return segment
  }

  static func ip(
    from: IPAddress, to: IPAddress, protocol number: UInt8, _ segment: [UInt8], id: UInt16
  ) -> [UInt8] {
    var header = ByteWriter()
    if from.isV6 || to.isV6 {
      header.be32(0x6000_0000)
      header.be16(UInt16(truncatingIfNeeded: segment.count))
      header.bytes([number, 64])
      header.bytes(v6(from))
      header.bytes(v6(to))
      return header.data + segment
    }
    header.bytes([0x45, 0])
    header.be16(UInt16(truncatingIfNeeded: 20 + segment.count))
    header.be16(id)
    header.be16(0x4000)  // don't fragment
    header.bytes([64, number])
    header.be16(0)
    header.bytes(from.bytes)
    header.bytes(to.bytes)
    var bytes = header.data
    let sum = checksum(bytes)
    bytes[10] = UInt8(sum >> 8)
    bytes[11] = UInt8(sum & 0xFF)
    return bytes + segment
  }

  /// An IPv4 address as IPv4-mapped IPv6 when the other end is IPv6.
  static func v6(_ address: IPAddress) -> [UInt8] {
    address.isV6 ? address.bytes : [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + address.bytes
  }

  /// The UDP / TCP checksum over the pseudo-header and the segment (RFC 768, RFC 793,
  /// RFC 8200 §8.1).
  static func transportChecksum(
    _ source: IPAddress, _ destination: IPAddress, protocol number: UInt8, _ segment: [UInt8]
  ) -> UInt16 {
    var pseudo = ByteWriter()
    if source.isV6 || destination.isV6 {
      pseudo.bytes(v6(source))
      pseudo.bytes(v6(destination))
      pseudo.be32(UInt32(segment.count))
      pseudo.bytes([0, 0, 0, number])
    } else {
      pseudo.bytes(source.bytes)
      pseudo.bytes(destination.bytes)
      pseudo.bytes([0, number])
      pseudo.be16(UInt16(truncatingIfNeeded: segment.count))
    }
    return checksum(pseudo.data + segment)
  }

  /// The Internet checksum (RFC 1071): ones' complement of the ones' complement sum.
  public static func checksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var index = 0
    while index + 1 < bytes.count {
      sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
      index += 2
    }
    if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    return ~UInt16(sum)
  }
}

struct ByteWriter {
  var data: [UInt8] = []
  mutating func bytes(_ more: [UInt8]) { data.append(contentsOf: more) }
  mutating func be16(_ value: UInt16) {
    data.append(contentsOf: [UInt8(value >> 8), UInt8(value & 0xFF)])
  }
  mutating func be32(_ value: UInt32) {
    be16(UInt16(value >> 16))
    be16(UInt16(value & 0xFFFF))
  }
  mutating func le16(_ value: UInt16) {
    data.append(contentsOf: [UInt8(value & 0xFF), UInt8(value >> 8)])
  }
  mutating func le32(_ value: UInt32) {
    le16(UInt16(value & 0xFFFF))
    le16(UInt16(value >> 16))
  }
}
