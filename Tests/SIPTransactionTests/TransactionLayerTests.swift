import SIPCore
import SIPTransaction
import SIPTransport
import Testing

/// Messages for the layer tests: one INVITE dialog's worth, built from text so the tests read
/// like the RFC's examples.
enum Sample {
  static func request(
    _ method: String, branch: String = "z9hG4bK776asdhds", cseqMethod: String? = nil,
    toTag: String? = nil, sentBy: String = "pc33.atlanta.com", cseq: Int = 314159
  ) -> SIPMessage {
    let to = "Bob <sip:bob@biloxi.com>" + (toTag.map { ";tag=\($0)" } ?? "")
    let text = """
      \(method) sip:bob@biloxi.com SIP/2.0\r
      Via: SIP/2.0/UDP \(sentBy);branch=\(branch)\r
      Max-Forwards: 70\r
      To: \(to)\r
      From: Alice <sip:alice@atlanta.com>;tag=1928301774\r
      Call-ID: a84b4c76e66710@pc33.atlanta.com\r
      CSeq: \(cseq) \(cseqMethod ?? method)\r
      Content-Length: 0\r
      \r

      """
    do {
      return try SIPMessage.parse(text)
    } catch {
      Issue.record("sample does not parse: \(error)")
      return SIPMessage.request(method: method, uri: "sip:bob@biloxi.com")
    }
  }

  static func response(_ status: Int, to request: SIPMessage, toTag: String? = "a6c85cf")
    -> SIPMessage
  {
    request.response(status: status, toTag: toTag)
  }
}

/// The layer's actions as short lines (``TransactionLayerAction/description``).
/// Peers by name in these tables: the layer only stores and returns them.
extension SIPPeer: ExpressibleByStringLiteral {
  init(stringLiteral host: String) { self.init(host: host, port: 5060, transport: .udp) }
}

func lines(_ actions: [TransactionLayerAction]) -> [String] { actions.map(\.description) }

@Suite struct TransactionKeyTests {
  @Test func clientKeyMatchesItsResponseAndNotOtherMethods() throws {
    let invite = Sample.request("INVITE")
    let key = try #require(TransactionKey.client(for: invite))
    #expect(TransactionKey.client(for: Sample.response(180, to: invite)) == key)
    let cancel = Sample.request("CANCEL")
    #expect(TransactionKey.client(for: cancel) != key)
    #expect(TransactionKey.client(for: Sample.response(200, to: cancel)) != key)
    let other = Sample.request("INVITE", branch: "z9hG4bKother")
    #expect(TransactionKey.client(for: Sample.response(180, to: other)) != key)
  }

  @Test func serverKeyWithMagicCookie() throws {
    let invite = Sample.request("INVITE")
    let key = try #require(TransactionKey.server(for: invite))
    // A retransmission, the ACK of a non-2xx (same branch), sent-by in another case: same key.
    #expect(TransactionKey.server(for: Sample.request("INVITE")) == key)
    #expect(TransactionKey.server(for: Sample.request("ACK", toTag: "a6c85cf")) == key)
    #expect(TransactionKey.server(for: Sample.request("INVITE", sentBy: "PC33.Atlanta.COM")) == key)
    #expect(key.description.hasSuffix("|pc33.atlanta.com/INVITE/s"))
    // Another sent-by or another branch: another transaction.
    #expect(TransactionKey.server(for: Sample.request("INVITE", sentBy: "pc34.atlanta.com")) != key)
    #expect(TransactionKey.server(for: Sample.request("INVITE", branch: "z9hG4bKx")) != key)
    // CANCEL is a transaction of its own that points at the INVITE (§9.2).
    let cancel = Sample.request("CANCEL")
    #expect(TransactionKey.server(for: cancel) != key)
    #expect(TransactionKey.inviteServer(cancelledBy: cancel) == key)
    // The TU's response finds the transaction by the same fields.
    #expect(TransactionKey.server(for: Sample.response(486, to: invite)) == key)
  }

  @Test func serverKeyRFC2543Fallback() throws {
    let invite = Sample.request("INVITE", branch: "oldstyle1")
    let key = try #require(TransactionKey.server(for: invite))
    #expect(TransactionKey.server(for: Sample.request("INVITE", branch: "oldstyle1")) == key)
    #expect(
      TransactionKey.server(for: Sample.request("ACK", branch: "oldstyle1", toTag: "a6c85cf"))
        == key)
    #expect(
      TransactionKey.server(for: Sample.request("INVITE", branch: "oldstyle1", cseq: 314160))
        != key)
    #expect(TransactionKey.server(for: Sample.request("INVITE", branch: "oldstyle2")) != key)
  }
}

@Suite struct TransactionLayerTests {
  @Test func inviteClientNonSuccessSendsTheACKAndIsDestroyedByTimerD() throws {
    var layer = TransactionLayer()
    let invite = Sample.request("INVITE")
    #expect(
      lines(layer.sendRequest(invite, to: "bob", reliable: false)) == [
        "created INVITE client Calling", "send INVITE sip:bob@biloxi.com SIP/2.0",
        "start A 0.5 seconds", "start B 32.0 seconds",
      ])
    let key = try #require(TransactionKey.client(for: invite))
    #expect(
      lines(layer.timerFired(.a, of: key)) == [
        "fired A", "send INVITE sip:bob@biloxi.com SIP/2.0", "start A 1.0 seconds",
      ])
    #expect(
      lines(layer.receive(Sample.response(180, to: invite), from: "bob", reliable: false)) == [
        "Calling -> Proceeding", "cancel A", "cancel B", "core: 180",
      ])
    let busy = Sample.response(486, to: invite)
    let actions = layer.receive(busy, from: "bob", reliable: false)
    #expect(
      lines(actions) == [
        "Proceeding -> Completed", "send ACK sip:bob@biloxi.com SIP/2.0",
        "start D 32.0 seconds", "core: 486",
      ])
    // The ACK (§17.1.1.3): the INVITE's branch, the response's To, CSeq ACK.
    guard case .send(let ack, _, _) = actions[1] else {
      Issue.record("no ACK")
      return
    }
    #expect(ack.topVia?.branch == "z9hG4bK776asdhds")
    #expect(ack.to?.tag == "a6c85cf")
    #expect(ack.cseq == CSeq(314159, "ACK"))
    #expect(ack.vias.count == 1)
    // Completed keeps the INVITE: each retransmitted final gets an ACK built from it.
    #expect(layer.request(of: key) == invite)
    // A retransmitted 486 gets the ACK again, and is not passed up.
    #expect(
      lines(layer.receive(busy, from: "bob", reliable: false)) == [
        "send ACK sip:bob@biloxi.com SIP/2.0"
      ])
    #expect(
      lines(layer.timerFired(.d, of: key)) == ["fired D", "Completed -> Terminated", "destroyed"])
    #expect(layer.count == 0)
    // After the transaction is gone, a late response is a stray for the core.
    #expect(lines(layer.receive(busy, from: "bob", reliable: false)) == ["core: 486 (stray)"])
  }

  @Test func inviteClientTimeoutCancelsWhatIsArmed() throws {
    var layer = TransactionLayer()
    let invite = Sample.request("INVITE")
    _ = layer.sendRequest(invite, to: "bob", reliable: false)
    let key = try #require(TransactionKey.client(for: invite))
    #expect(
      lines(layer.timerFired(.b, of: key)) == [
        "fired B", "Calling -> Terminated", "cancel A", "destroyed", "core: timeout B",
      ])
    #expect(layer.count == 0)
    // A cancelled timer that fires anyway (a race the owner may lose) does nothing.
    #expect(layer.timerFired(.a, of: key).isEmpty)
  }

  @Test func inviteClientSuccessWaitsInAcceptedForRetransmissionsAndForks() throws {
    var layer = TransactionLayer()
    let invite = Sample.request("INVITE")
    _ = layer.sendRequest(invite, to: "bob", reliable: true)
    let key = try #require(TransactionKey.client(for: invite))
    #expect(layer.request(of: key) == invite)
    let ok = Sample.response(200, to: invite)
    #expect(
      lines(layer.receive(ok, from: "bob", reliable: true)) == [
        "Calling -> Accepted", "cancel B", "start M 32.0 seconds", "core: 200",
      ])
    // Accepted sends nothing more (the 2xx's ACK is the core's): the INVITE is let go.
    #expect(layer.request(of: key) == nil)
    #expect(layer.state(of: key) == .accepted)
    let fork = Sample.response(200, to: invite, toTag: "fork2")
    #expect(lines(layer.receive(fork, from: "bob", reliable: true)) == ["core: 200"])
    #expect(
      lines(layer.timerFired(.m, of: key)) == ["fired M", "Accepted -> Terminated", "destroyed"])
  }

  @Test func nonInviteClientRetransmitsUpToT2() throws {
    var layer = TransactionLayer()
    let options = Sample.request("OPTIONS")
    _ = layer.sendRequest(options, to: "bob", reliable: false)
    let key = try #require(TransactionKey.client(for: options))
    var intervals: [String] = []
    for _ in 0..<5 {
      intervals += lines(layer.timerFired(.e, of: key)).filter { $0.hasPrefix("start") }
    }
    #expect(
      intervals == [
        "start E 1.0 seconds", "start E 2.0 seconds", "start E 4.0 seconds",
        "start E 4.0 seconds", "start E 4.0 seconds",
      ])
    #expect(layer.request(of: key) == options)
    #expect(
      lines(layer.receive(Sample.response(200, to: options), from: "bob", reliable: false)) == [
        "Trying -> Completed", "cancel E", "cancel F", "start K 5.0 seconds", "core: 200",
      ])
    #expect(layer.request(of: key) == nil)
    #expect(layer.state(of: key) == .completed)
  }

  /// §9.1: the TU gives up an INVITE it cancelled: in Proceeding (no timer armed) or in
  /// Calling (A and B disarmed), the transaction ends at once and the core hears nothing; a
  /// key the layer does not hold changes nothing.
  @Test func anAbandonedTransactionEndsAtOnceAndSilently() throws {
    var layer = TransactionLayer()
    let invite = Sample.request("INVITE")
    _ = layer.sendRequest(invite, to: "bob", reliable: false)
    let key = try #require(TransactionKey.client(for: invite))
    _ = layer.receive(Sample.response(180, to: invite), from: "bob", reliable: false)
    var actions: [TransactionLayerAction] = []
    layer.abandon(key, into: &actions)
    #expect(lines(actions) == ["Proceeding -> Terminated", "destroyed"])
    #expect(layer.state(of: key) == nil && layer.count == 0)
    actions = []
    layer.abandon(key, into: &actions)
    #expect(actions.isEmpty)
    let other = Sample.request("INVITE", branch: "z9hG4bKother")
    _ = layer.sendRequest(other, to: "bob", reliable: false)
    let otherKey = try #require(TransactionKey.client(for: other))
    layer.abandon(otherKey, into: &actions)
    #expect(lines(actions) == ["Calling -> Terminated", "cancel A", "cancel B", "destroyed"])
    #expect(layer.count == 0)
  }

  @Test func inviteServerSends100TryingAndAbsorbsRetransmissions() throws {
    var layer = TransactionLayer()
    let invite = Sample.request("INVITE")
    #expect(
      lines(layer.receive(invite, from: "alice", reliable: false)) == [
        "created INVITE server Proceeding", "start Trying 0.2 seconds", "core: INVITE",
      ])
    let key = try #require(TransactionKey.server(for: invite))
    let trying = layer.timerFired(.trying, of: key)
    #expect(lines(trying) == ["fired Trying", "send SIP/2.0 100 Trying"])
    #expect(layer.trying(of: key)?.status == 100)
    if case .send(let response, let peer, _) = trying.last {
      #expect(peer == "alice")
      #expect(response.to?.tag == nil)
      #expect(response.topVia?.branch == "z9hG4bK776asdhds")
    }
    // A retransmitted INVITE gets the 100 again, and the core does not see it.
    #expect(
      lines(layer.receive(invite, from: "alice", reliable: false)) == ["send SIP/2.0 100 Trying"])
    #expect(layer.request(of: key) == invite)
    #expect(
      lines(layer.respond(Sample.response(486, to: invite), in: key)) == [
        "Proceeding -> Completed", "send SIP/2.0 486 Busy Here", "start G 0.5 seconds",
        "start H 32.0 seconds",
      ])
    // Past its final response the 100 is let go and a retransmitted INVITE gets the 486;
    // Completed keeps the INVITE for Timer H's report.
    #expect(layer.trying(of: key) == nil)
    #expect(layer.request(of: key) == invite)
    #expect(
      lines(layer.receive(invite, from: "alice", reliable: false)) == [
        "send SIP/2.0 486 Busy Here"
      ])
    #expect(
      lines(layer.receive(Sample.request("ACK", toTag: "a6c85cf"), from: "alice", reliable: false))
        == ["Completed -> Confirmed", "cancel G", "cancel H", "start I 5.0 seconds"])
    // Confirmed absorbs what comes: the INVITE is let go.
    #expect(layer.request(of: key) == nil)
    #expect(
      lines(layer.timerFired(.i, of: key)) == ["fired I", "Confirmed -> Terminated", "destroyed"])
    #expect(layer.count == 0)
  }

  /// §17.2.3: without the magic cookie, an ACK matches the INVITE server transaction only if
  /// its To tag is the one the transaction's final response carried; another is the core's.
  @Test func anRFC2543ACKMatchesOnlyWithTheResponsesToTag() throws {
    var layer = TransactionLayer()
    let invite = Sample.request("INVITE", branch: "oldstyle1")
    _ = layer.receive(invite, from: "alice", reliable: false)
    let key = try #require(TransactionKey.server(for: invite))
    _ = layer.respond(Sample.response(486, to: invite, toTag: "right"), in: key)
    let stranger = Sample.request("ACK", branch: "oldstyle1", toTag: "wrong")
    #expect(lines(layer.receive(stranger, from: "alice", reliable: false)) == ["core: ACK (stray)"])
    let ack = Sample.request("ACK", branch: "oldstyle1", toTag: "right")
    #expect(
      lines(layer.receive(ack, from: "alice", reliable: false))
        == ["Completed -> Confirmed", "cancel G", "cancel H", "start I 5.0 seconds"])
  }

  @Test func inviteServerAcceptedPassesTheACKOfA2xx() throws {
    var layer = TransactionLayer()
    let invite = Sample.request("INVITE")
    _ = layer.receive(invite, from: "alice", reliable: false)
    let key = try #require(TransactionKey.server(for: invite))
    #expect(layer.request(of: key) == invite)
    #expect(
      lines(layer.respond(Sample.response(200, to: invite), in: key)) == [
        "Proceeding -> Accepted", "cancel Trying", "send SIP/2.0 200 OK", "start L 32.0 seconds",
      ])
    // Accepted absorbs retransmissions (the core resends its 2xx): the INVITE is let go.
    #expect(layer.request(of: key) == nil)
    // The 2xx ACK has its own branch (§13.2.2.4): it matches nothing and goes to the core.
    let ack = Sample.request("ACK", branch: "z9hG4bKack2xx", toTag: "a6c85cf")
    #expect(lines(layer.receive(ack, from: "alice", reliable: false)) == ["core: ACK (stray)"])
    // The core's 2xx retransmission passes through the Accepted transaction.
    #expect(
      lines(layer.respond(Sample.response(200, to: invite), in: key)) == ["send SIP/2.0 200 OK"])
  }

  /// Timer H reaches the core with the INVITE (Completed keeps it to say whose ACK never came),
  /// and a non-INVITE server in Completed answers a retransmission with its final, the request
  /// gone.
  @Test func serverTransactionsLetGoOfTheRequestAfterTheirFinal() throws {
    var layer = TransactionLayer()
    let invite = Sample.request("INVITE")
    _ = layer.receive(invite, from: "alice", reliable: false)
    let key = try #require(TransactionKey.server(for: invite))
    _ = layer.respond(Sample.response(486, to: invite), in: key)
    let timeout = layer.timerFired(.h, of: key)
    #expect(
      lines(timeout) == [
        "fired H", "Completed -> Terminated", "cancel G", "destroyed", "core: timeout H",
      ])
    let reported = timeout.contains { action in
      if case .toCore(.timeout(key, .h, let request)) = action { return request == invite }
      return false
    }
    #expect(reported)
    let bye = Sample.request("BYE", branch: "z9hG4bKbye1", toTag: "a6c85cf")
    _ = layer.receive(bye, from: "alice", reliable: false)
    let byeKey = try #require(TransactionKey.server(for: bye))
    #expect(layer.request(of: byeKey) == bye)
    _ = layer.respond(Sample.response(200, to: bye), in: byeKey)
    #expect(layer.request(of: byeKey) == nil)
    #expect(lines(layer.receive(bye, from: "alice", reliable: false)) == ["send SIP/2.0 200 OK"])
  }

  /// A client transaction's timeout and transport error reach the core with the request, which
  /// the core turns into a 408 or 503 (§8.1.3.1).
  @Test func clientTimeoutsAndTransportErrorsCarryTheRequest() throws {
    func reported(_ actions: [TransactionLayerAction], _ request: SIPMessage) -> Bool {
      actions.contains { action in
        switch action {
        case .toCore(.timeout(_, _, let carried)), .toCore(.transportError(_, let carried)):
          carried == request
        default: false
        }
      }
    }
    var layer = TransactionLayer()
    let options = Sample.request("OPTIONS")
    _ = layer.sendRequest(options, to: "bob", reliable: false)
    let optionsKey = try #require(TransactionKey.client(for: options))
    #expect(reported(layer.timerFired(.f, of: optionsKey), options))
    let invite = Sample.request("INVITE", branch: "z9hG4bKinvite2")
    _ = layer.sendRequest(invite, to: "bob", reliable: false)
    let inviteKey = try #require(TransactionKey.client(for: invite))
    _ = layer.receive(Sample.response(180, to: invite), from: "bob", reliable: false)
    #expect(reported(layer.transportError(for: inviteKey), invite))
    #expect(layer.count == 0)
  }

  @Test func nonInviteServerDiscardsRetransmissionsWhileTrying() throws {
    var layer = TransactionLayer()
    let bye = Sample.request("BYE", toTag: "a6c85cf")
    _ = layer.receive(bye, from: "alice", reliable: false)
    let key = try #require(TransactionKey.server(for: bye))
    #expect(layer.receive(bye, from: "alice", reliable: false).isEmpty)
    #expect(
      lines(layer.respond(Sample.response(200, to: bye), in: nil)) == [
        "Trying -> Completed", "send SIP/2.0 200 OK", "start J 32.0 seconds",
      ])
    #expect(lines(layer.receive(bye, from: "alice", reliable: false)) == ["send SIP/2.0 200 OK"])
    #expect(
      lines(layer.transportError(for: key)) == [
        "Completed -> Terminated", "cancel J", "destroyed", "core: transport error",
      ])
  }

  @Test func strayMessagesAndBadRequestsGoToTheCore() {
    var layer = TransactionLayer()
    let invite = Sample.request("INVITE")
    #expect(
      lines(layer.receive(Sample.response(200, to: invite), from: "bob", reliable: false)) == [
        "core: 200 (stray)"
      ])
    var noVia = invite
    noVia.remove("Via")
    #expect(
      lines(layer.sendRequest(noVia, to: "bob", reliable: false)).first?.hasPrefix("rejected")
        == true)
    #expect(
      lines(layer.receive(noVia, from: "bob", reliable: false)).first?.hasPrefix(
        "core: unmatchable") == true)
    // An ACK is never a client transaction: it is sent as is.
    #expect(
      lines(layer.sendRequest(Sample.request("ACK"), to: "bob", reliable: false)) == [
        "send ACK sip:bob@biloxi.com SIP/2.0"
      ])
    #expect(layer.count == 0)
  }
}

@Suite struct MessageBuildingTests {
  @Test func responseCopiesTheRightHeaders() throws {
    var invite = Sample.request("INVITE")
    invite.prepend("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKproxy")
    invite.append("Timestamp", "54")
    let ringing = invite.response(status: 180, toTag: "xyz")
    #expect(ringing.startLineText == "SIP/2.0 180 Ringing")
    #expect(ringing.vias.map(\.host) == ["proxy.example.com", "pc33.atlanta.com"])
    #expect(ringing.to?.tag == "xyz")
    #expect(ringing.from?.tag == "1928301774")
    #expect(ringing.callID == "a84b4c76e66710@pc33.atlanta.com")
    #expect(ringing.cseq == CSeq(314159, "INVITE"))
    #expect(ringing.timestamp == nil)
    #expect(ringing.maxForwards == nil)
    let trying = invite.response(status: 100, toTag: "xyz")
    #expect(trying.to?.tag == nil)
    #expect(trying.timestamp == "54")
    // It survives the wire.
    #expect(try SIPMessage.parse(ringing.serialized()) == ringing)
  }

  @Test func viaEditing() throws {
    var message = try SIPMessage.parse(
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\nVia: SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    var top = try #require(message.topVia)
    top.parameters.append(SIPParameter("received", "10.0.0.9"))
    message.replaceTopVia(top)
    #expect(message.vias.map(\.host) == ["a.example.com", "b.example.com", "c.example.com"])
    #expect(message.topVia?.received == "10.0.0.9")
    message.removeTopVia()
    #expect(message.vias.map(\.host) == ["b.example.com", "c.example.com"])
    message.removeTopVia()
    message.removeTopVia()
    #expect(message.vias.isEmpty)
    #expect(SIPMessage.defaultReason(for: 487) == "Request Terminated")
    #expect(SIPMessage.defaultReason(for: 499) == "Client Error")
  }
}
