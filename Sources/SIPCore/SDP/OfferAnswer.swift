/// RFC 3264 offer/answer helpers for simulated user agents.
extension SessionDescription {
  /// The answer to `offer` (RFC 3264 §6): one m-line per offered m-line, in the same order;
  /// a stream with no codec in common is rejected with port 0; the accepted payload types keep
  /// the offer's numbers; directions are mirrored (sendonly ↔ recvonly).
  ///
  /// - Parameters:
  ///   - codecs: encoding names the answerer supports, in its order of preference (`PCMU`).
  ///   - ports: the port to answer each offered stream on (missing entries: `9000 + 2·index`).
  public static func answer(
    to offer: SessionDescription, codecs: [String], address: String, sessionID: String,
    username: String = "-", ports: [Int] = []
  ) -> SessionDescription {
    var answer = SessionDescription(
      origin: Origin(
        username: username, sessionID: sessionID, sessionVersion: 1,
        addressType: address.contains(":") ? "IP6" : "IP4", address: address),
      sessionName: "-",
      connection: Connection(addressType: address.contains(":") ? "IP6" : "IP4", address: address))
    answer.timings = offer.timings
    let wanted = codecs.map { $0.uppercased() }
    for (index, offered) in offer.media.enumerated() {
      var media = MediaDescription(
        type: offered.type, port: index < ports.count ? ports[index] : 9000 + 2 * index,
        proto: offered.proto, formats: [])
      // The rtpmap lines parsed once per stream, not once per payload type asked about.
      let maps = offered.rtpMaps
      let accepted = offered.formats.filter { format in
        MediaDescription.encoding(of: format, in: maps).map { wanted.contains($0.uppercased()) }
          ?? false
      }
      if accepted.isEmpty || offered.port == 0 {
        media.port = 0
        media.formats = offered.formats
      } else {
        media.formats = accepted
        for format in accepted {
          if let map = maps.first(where: { $0.payload == format }) {
            media.attributes.append(Attribute("rtpmap", map.attributeValue))
          }
          if let parameters = offered.formatParameters(format) {
            media.attributes.append(Attribute("fmtp", "\(format) \(parameters)"))
          }
        }
        if let ptime = offered.packetTime {
          media.attributes.append(Attribute("ptime", "\(ptime)"))
        }
        media.direction = offered.direction.answer
      }
      answer.media.append(media)
    }
    return answer
  }

  /// The same description with `o=` version incremented, as any new offer in a session must
  /// carry (RFC 3264 §8).
  public func incrementedVersion() -> SessionDescription {
    var copy = self
    copy.origin.sessionVersion += 1
    return copy
  }

  /// Names `address` as this side's in `o=` and in every `c=` line, session and media level,
  /// with its address type (`IP6` when it has a colon): a new offer after the host's address
  /// changed (RFC 3264 §8.3.1; RFC 3665 §3.7). A `c=` of `0.0.0.0`, the RFC 2543 way of holding,
  /// stays as it is.
  public mutating func readdress(_ address: String) {
    let type = address.contains(":") ? "IP6" : "IP4"
    origin.address = address
    origin.addressType = type
    func change(_ connection: inout Connection) {
      guard connection.address != "0.0.0.0" else { return }
      connection.address = address
      connection.addressType = type
    }
    if var session = connection {
      change(&session)
      connection = session
    }
    for index in media.indices {
      for line in media[index].connections.indices { change(&media[index].connections[line]) }
    }
  }

  /// A re-offer that puts every active stream on hold (RFC 3264 §8.4): `a=sendonly` (or
  /// `inactive` when it was `recvonly`), version incremented.
  public func holdOffer() -> SessionDescription {
    var copy = incrementedVersion()
    for index in copy.media.indices where copy.media[index].port != 0 {
      copy.media[index].direction =
        copy.media[index].direction == .recvonly ? .inactive : .sendonly
    }
    return copy
  }

  /// Whether this offer holds the media: a direction that stops the peer sending to us, or the
  /// RFC 2543 way, `c=` address `0.0.0.0`.
  public var isHold: Bool {
    if connection?.address == "0.0.0.0" { return true }
    let active = media.filter { $0.port != 0 }
    return !active.isEmpty
      && active.allSatisfy { $0.direction == .sendonly || $0.direction == .inactive }
  }
}
