import Foundation
import SIPSim
import Simulation
import Testing

/// Runs a bundled topology with its own seed.
func run(_ name: String, _ options: RunOptions = RunOptions()) throws -> RunOutcome {
  try TopologyRun(try TopologyLibrary.load(name), options: options).run()
}

/// Decodes a topology from JSON text, or returns its error.
func decodeError(_ json: String) -> TopologyError? {
  do {
    _ = try TopologyRun(try TopologyLibrary.decode(Data(json.utf8), file: "t.json"))
    return nil
  } catch {
    return error
  }
}

@Suite struct BundledTopologyTests {
  static let names = TopologyLibrary.names()

  @Test func theBundleHoldsEveryPromisedTopology() {
    for name in [
      "default", "rfc3665-2.1", "rfc3665-3.2", "lossy-retransmission", "forking", "redirect",
      "authentication", "glare", "cancel-race", "cancel-no-487", "proxy-cancel-no-487",
      "proxy-recursion", "rfc3665-3.7", "rfc3263-failover", "invite-expires",
      "rfc3263-proxy-failover",
    ] {
      #expect(Self.names.contains(name), "missing \(name)")
    }
  }

  /// RFC 3263: alice finds biloxi's proxies by NAPTR then SRV, in priority order; proxy1 is
  /// down, so Timer B fails her over to proxy2 with the same INVITE (CSeq) on a new branch.
  @Test func aCallerFailsOverToTheNextSRVTarget() throws {
    let outcome = try run("rfc3263-failover")
    #expect(outcome.passed, "\(outcome.failures)")
    let location = try #require(outcome.trace.first { $0.event == "server-location" })
    #expect(location.field("rule")?.description == "NAPTR")
    #expect(
      location.field("queries")?.description
        == "NAPTR biloxi.example.com: SIP+D2U; "
        + "SRV _sip._udp.biloxi.example.com: p1.biloxi.example.com:5060 p2.biloxi.example.com:5060")
    let failOver = try #require(outcome.trace.first { $0.event == "fail-over" })
    #expect(failOver.field("reason")?.description == "Timer B")
    #expect(failOver.time == 33_000_000)
    let invites = outcome.trace.filter {
      $0.event == "send" && $0.field("summary")?.description.hasPrefix("INVITE") == true
        && $0.from?.description.hasPrefix("10.0.0.1:") == true
    }
    let first = try #require(invites.first)
    let last = try #require(invites.last)
    #expect(last.to?.description == "10.0.0.3:5060")
    #expect(first.field("cseq")?.description == last.field("cseq")?.description)
    #expect(first.field("branch")?.description != last.field("branch")?.description)
  }

  /// RFC 3263 at a stateful proxy: atlanta finds biloxi's proxies by SRV; proxy2a is down, so
  /// Timer B fails atlanta's branch over to proxy2b with the same forwarded INVITE (CSeq,
  /// Max-Forwards and all) on a new branch, while alice waits in Proceeding.
  @Test func aProxyFailsItsBranchOverToTheNextSRVTarget() throws {
    let outcome = try run("rfc3263-proxy-failover")
    #expect(outcome.passed, "\(outcome.failures)")
    let location = try #require(
      outcome.trace.first {
        $0.event == "server-location" && $0.field("element")?.description == "atlanta"
      })
    #expect(location.field("rule")?.description == "SRV")
    #expect(location.field("targets")?.description == "10.0.0.3:5060/UDP 10.0.0.4:5060/UDP")
    let failOver = try #require(outcome.trace.first { $0.event == "fail-over" })
    #expect(failOver.field("element")?.description == "atlanta")
    #expect(failOver.field("reason")?.description == "Timer B")
    #expect(failOver.time == 33_010_000)
    let invites = outcome.trace.filter {
      $0.event == "send" && $0.field("summary")?.description.hasPrefix("INVITE") == true
        && $0.from?.description.hasPrefix("10.0.0.2:") == true
    }
    let first = try #require(invites.first)
    let last = try #require(invites.last)
    #expect(first.to?.description == "10.0.0.3:5060")
    #expect(last.to?.description == "10.0.0.4:5060")
    #expect(first.field("cseq")?.description == last.field("cseq")?.description)
    #expect(first.field("branch")?.description != last.field("branch")?.description)
    // Alice sent one INVITE: atlanta's 100 Trying stopped her retransmissions.
    let fromAlice = outcome.trace.filter {
      $0.event == "send" && $0.field("summary")?.description.hasPrefix("INVITE") == true
        && $0.from?.description.hasPrefix("10.0.0.1:") == true
    }
    #expect(fromAlice.count == 1)
  }

  /// §16.7 step 4: the recursing proxy takes the 302 itself; alice is delivered no 3xx, and the
  /// proxy's second INVITE goes to the contact the redirect server named.
  @Test func aRecursingProxyKeepsTheRedirectToItself() throws {
    let outcome = try run("proxy-recursion")
    #expect(outcome.passed, "\(outcome.failures)")
    let delivered = outcome.trace.filter { $0.event == "deliver" }
    let toAlice = delivered.filter { $0.to?.description.hasPrefix("10.0.0.1:") == true }
    let statuses = toAlice.compactMap { $0.field("summary")?.description }
    #expect(statuses.contains("SIP/2.0 200 OK"))
    #expect(!statuses.contains { $0.hasPrefix("SIP/2.0 3") })
    let invitesToBob = delivered.filter {
      $0.to?.description.hasPrefix("10.0.0.4:") == true
        && $0.field("summary")?.description.hasPrefix("INVITE sip:bob@10.0.0.4") == true
    }
    #expect(invitesToBob.count == 1)
  }

  /// §9.1 at a stateful proxy: bob answers biloxi's CANCEL but sends no 487. Alice's own
  /// cancel-wait fires first (her CANCEL left a hop earlier), biloxi's 10 ms later on branch 0;
  /// its 487 finds no transaction at alice, so it is never ACKed and goes out until Timer H.
  /// Bob's late 200 matches no client transaction at biloxi and goes up statelessly (§16.7).
  @Test func aStatefulProxyGivesUpItsCancelledBranch() throws {
    let outcome = try run("proxy-cancel-no-487")
    #expect(outcome.passed, "\(outcome.failures)")
    let fired = outcome.trace.filter {
      $0.event == "timer-fired" && $0.field("timer")?.description == "cancel-wait"
    }
    #expect(fired.map { $0.field("element")?.description ?? "" } == ["alice", "biloxi"])
    #expect(fired.map(\.time) == [35_000_000, 35_010_000])
    #expect(fired.last?.field("branch") == .integer(0))
    let cores = outcome.trace.filter { $0.event == "core" }.map {
      "\($0.field("element")?.description ?? "") \($0.field("what")?.description ?? "")"
    }
    #expect(cores.filter { $0 == "alice 487 (stray)" }.count == 11, "\(cores)")
    #expect(cores.contains("biloxi 200 (stray)") && cores.contains("alice 200 (stray)"))
    #expect(!cores.contains("alice 487"), "\(cores)")
  }

  /// RFC 3261 §13.2.1 and §13.3.1 step 1: in c1 alice's expires timer fires at 5 s and her
  /// CANCEL ends the INVITE, cancelling bob's (armed 0.5 s late, with the retransmitted
  /// INVITE); in c2 her CANCEL is lost and bob's own timer sends the 487, 10 ms after hers.
  @Test func bothAgentsExpireAnInvitation() throws {
    let outcome = try run("invite-expires")
    #expect(outcome.passed, "\(outcome.failures)")
    func timers(_ event: String) -> [String] {
      outcome.trace.filter { $0.event == event && $0.field("timer")?.description == "expires" }
        .map { "\($0.time / 1000) \($0.field("element")?.description ?? "")" }
    }
    #expect(timers("timer-armed") == ["0 alice", "510 bob", "10000 alice", "10010 bob"])
    #expect(timers("timer-fired") == ["5000 alice", "15000 alice", "15010 bob"])
    #expect(timers("timer-cancelled") == ["5010 bob"])
    let ends = outcome.trace.filter { $0.event == "call-ended" }.map {
      "\($0.field("side")?.description ?? "") \($0.field("ending")?.description ?? "")"
    }
    #expect(ends == ["callee CANCEL", "caller expired", "callee expired", "caller expired"])
  }

  @Test(arguments: names) func meetsItsExpectations(name: String) throws {
    let outcome = try run(name)
    #expect(outcome.passed, "\(name): \(outcome.failures)")
    #expect(!outcome.checks.isEmpty, "\(name) checks nothing")
    let topology = try TopologyLibrary.load(name)
    #expect(!topology.summary.isEmpty, "\(name) has no summary for `sipsim list`")
  }

  /// The lossy topology holds for other seeds too: the transactions absorb the loss.
  @Test(arguments: [1, 2, 3, 4, 5] as [UInt64]) func lossyHoldsForOtherSeeds(seed: UInt64) throws {
    let outcome = try run("lossy-retransmission", RunOptions(seed: seed))
    #expect(outcome.passed, "seed \(seed): \(outcome.failures)")
  }

  @Test func anUnmetExpectationIsNamed() throws {
    var topology = try TopologyLibrary.load("rfc3665-3.9")
    topology.expect.calls = [.init(call: "c1", answered: true, status: 200)]
    let outcome = try TopologyRun(topology).run()
    #expect(!outcome.passed)
    #expect(outcome.failures.contains { $0.contains("call 'c1' ends with 200: it got 486") })
  }

  /// A move to an address another host has fails the run at the fault's address, and a move
  /// built in Swift with no address at all is named too (the decoder refuses it in JSON).
  @Test(arguments: [
    ("10.0.0.1", "address 10.0.0.1 already belongs to another host"),
    ("nowhere", "'nowhere' is not an IPv4 or IPv6 address"),
  ])
  func aMoveThatCannotHappenIsNamed(address: String, message: String) throws {
    var topology = try TopologyLibrary.load("rfc3665-3.7")
    topology.faults = [.init(at: TimeSpan(.seconds(8)), .move("bob", address: address))]
    let outcome = try TopologyRun(topology).run()
    #expect(
      outcome.failures.contains { $0 == "$.faults[0].address: \(message)" }, "\(outcome.failures)")
  }

  /// Two moves to one address: both pass when scheduled (nobody has it yet), the second fails
  /// when it comes, and the run names it by its path instead of only tracing it.
  @Test func aMoveThatFailsWhenItComesIsNamed() throws {
    var topology = try TopologyLibrary.load("rfc3665-3.7")
    topology.faults = [
      .init(at: TimeSpan(.seconds(8)), .move("bob", address: "10.0.0.50")),
      .init(at: TimeSpan(.seconds(9)), .move("proxy2", address: "10.0.0.50")),
    ]
    let outcome = try TopologyRun(topology).run()
    #expect(
      outcome.failures.contains {
        $0 == "$.faults[1].address: address 10.0.0.50 already belongs to another host"
      }, "\(outcome.failures)")
  }

  /// A message fault names hosts, not addresses: after bob moves, "the first INVITE from bob"
  /// is his re-INVITE from the new address. (The rule's table of names was made when the run
  /// began, so it knew only bob's first address and never matched.)
  @Test func aMessageFaultFollowsAMovedHost() throws {
    var topology = try TopologyLibrary.load("rfc3665-3.7")
    topology.messageFaults = [.init(.drop, method: "INVITE", from: "bob")]
    let outcome = try TopologyRun(topology).run()
    let faults = outcome.trace.filter { $0.event == "message-fault" }
    #expect(faults.map(\.time) == [8_000_000], "\(faults)")
    #expect(faults.first?.from?.address.description == "10.0.0.33")
  }

  /// Found by `sipsim sweep lossy-retransmission --loss 0.3` (seed 41): alice saw only the
  /// proxy's 100 Trying; bob's 180 and every 200 were lost on their way to her. Bob gave up
  /// (§13.3.1.4) and sent BYE on the dialog his 2xx made, which alice never learned of: 481
  /// (§15.1.2). Her INVITE, in Proceeding, which has no timer, then waited for ever and her
  /// call never ended. The BYE shows the callee ended a dialog of her call: she CANCELs the
  /// INVITE, lets its transaction go, and ends the call unanswered.
  @Test func aCallersLost2xxThenTheCalleesByeEndsTheCall() throws {
    var topology = try TopologyLibrary.load("lossy-retransmission")
    topology.links.pairs = []
    topology.messageFaults = [
      .init(.drop, status: 180, from: "atlanta", to: "alice"),
      .init(.drop, status: 200, from: "atlanta", to: "alice", count: 100),
    ]
    topology.expect.calls = [.init(call: "c1", answered: false)]
    topology.expect.nothingLeftOver = true
    let outcome = try TopologyRun(topology).run()
    #expect(outcome.failures == [])
    let ended = outcome.trace.filter {
      $0.event == "call-ended" && $0.field("side") == .string("caller")
    }
    #expect(ended.count == 1)
    #expect(ended.first?.field("status") == .string("none"))
    #expect(ended.first?.field("ending")?.description.contains("BYE") == true, "\(ended)")
    let aliceSent = outcome.trace.filter {
      $0.event == "send" && $0.from?.address.description == "10.0.0.1"
    }.compactMap { $0.field("summary")?.description }
    #expect(aliceSent.contains { $0.hasPrefix("CANCEL") }, "\(aliceSent)")
    #expect(aliceSent.contains { $0.hasPrefix("SIP/2.0 481") }, "\(aliceSent)")
  }

  /// Found by `sipsim sweep rfc3665-3.9 --loss 0.4` (seed 137): alice had proxy1's 100 Trying,
  /// then every retransmission of the 486 was lost on its way to her. Proxy1 gave up at Timer H;
  /// alice's INVITE, in Proceeding, which has no timer (Figure 5), waited for ever. Her own Timer
  /// C (4 minutes after the last provisional) now CANCELs it; the CANCEL finds no transaction
  /// anywhere (481s), and 64·T1 later the §9.1 give-up ends the call as cancelled.
  @Test func aCallersTimerCEndsAnInviteWhoseFinalResponseWasLost() throws {
    var topology = try TopologyLibrary.load("rfc3665-3.9")
    topology.messageFaults = [.init(.drop, status: 486, from: "proxy1", to: "alice", count: 100)]
    topology.expect.sequences = []
    topology.expect.calls = [.init(call: "c1", answered: false, status: 487)]
    let outcome = try TopologyRun(topology).run()
    #expect(outcome.failures == [])
    let alice = outcome.trace.filter { $0.field("element") == .string("alice") }
    let fired = alice.filter { $0.event == "timer-fired" && $0.field("timer") == .string("C") }
    let trying = outcome.trace.first {
      $0.event == "deliver" && $0.to?.address.description == "10.0.0.1"
        && $0.field("summary") == .string("SIP/2.0 100 Trying")
    }
    #expect(fired.count == 1)
    #expect(fired.first.map(\.time) == trying.map { $0.time + 240_000_000 })
    let cancels = outcome.trace.filter {
      $0.event == "send" && $0.from?.address.description == "10.0.0.1"
        && $0.field("summary")?.description.hasPrefix("CANCEL") == true
    }
    #expect(cancels.first?.time == fired.first?.time)
    let ended = alice.first { $0.event == "call-ended" }
    #expect(ended?.field("ending") == .string("CANCEL (no final response)"))
  }

  /// Found probing RFC 3263 fail-over with message faults. proxy1 is alive, but every response
  /// it sends alice is lost except the 180 answering her last INVITE retransmission (32.5 s),
  /// which is delayed 1 s: Timer B fails her over to proxy2 at 33 s (same CSeq, new branch),
  /// and the 180 arrives at 33.52 s, matching no transaction (a stray). It is not a provisional
  /// for the INVITE now on proxy2: alice, who wanted to CANCEL since 33.2 s, must not CANCEL
  /// that INVITE, which has had no provisional (§9.1), and must make no early dialog from it. So
  /// proxy2 (a callee whose 100 and 180 are lost) rejects with 480 at its own time, and bob's
  /// late 200 through proxy1 (61 s) is ACKed and ended with BYE, as a 2xx for an ended call is.
  @Test func aProvisionalFromTheServerFailedOverFromIsAStray() throws {
    var topology = try TopologyLibrary.load("rfc3263-failover")
    topology.faults = []
    let bob = BindingSpec(aor: "sip:bob@biloxi.example.com", contact: "sip:bob@10.0.0.4")
    topology.hosts = try topology.hosts.map { host in
      var host = host
      switch host.name {
      case "proxy1":
        guard case .proxy(var proxy) = host.role else {
          throw TopologyError(path: "proxy1", message: "not a proxy")
        }
        proxy.bindings = [bob]
        host.role = .proxy(proxy)
      case "proxy2":
        host.role = .userAgent(
          UASpec(
            aor: "sip:bob@biloxi.example.com",
            behaviour: BehaviourSpec(
              kind: .ring, ringFor: TimeSpan(.seconds(20)), status: 480)))
      case "bob":
        host.role = .userAgent(
          UASpec(
            aor: "sip:bob@biloxi.example.com",
            behaviour: BehaviourSpec(kind: .ring, ringFor: TimeSpan(.seconds(60)))))
      default: break
      }
      return host
    }
    topology.scenario = [
      Step(
        at: TimeSpan(.seconds(1)),
        .call(
          from: "alice", to: "sip:bob@biloxi.example.com", call: "c1", hangUpAfter: nil,
          cancelAfter: TimeSpan(.milliseconds(32_200)), offer: true))
    ]
    topology.messageFaults = [
      .init(.drop, status: 100, from: "proxy1", to: "alice", count: 100),
      .init(.drop, status: 180, from: "proxy1", to: "alice", count: 6),
      .init(.delay(TimeSpan(.seconds(1))), status: 180, from: "proxy1", to: "alice", nth: 7),
      .init(.drop, status: 100, from: "proxy2", to: "alice", count: 100),
      .init(.drop, status: 180, from: "proxy2", to: "alice", count: 100),
    ]
    topology.expect.sequences = []
    topology.expect.calls = [.init(call: "c1", answered: false, status: 480)]
    let outcome = try TopologyRun(topology).run()
    #expect(outcome.failures == [])
    let stray = outcome.trace.first {
      $0.event == "deliver" && $0.to?.address.description == "10.0.0.1"
        && $0.field("summary")?.description.hasPrefix("SIP/2.0 180") == true
    }
    #expect(stray?.time == 33_520_000)
    let aliceSent = outcome.trace.filter {
      $0.event == "send" && $0.from?.address.description == "10.0.0.1"
    }.compactMap { $0.field("summary")?.description }
    #expect(!aliceSent.contains { $0.hasPrefix("CANCEL") }, "\(aliceSent)")
    #expect(aliceSent.contains { $0.hasPrefix("BYE") }, "\(aliceSent)")
    let alice = outcome.trace.filter { $0.field("element") == .string("alice") }
    #expect(!alice.contains { $0.event == "dialog-state" }, "no early dialog from the stray")
  }

  @Test func aWrongSequenceIsNamedWithWhatWasSent() throws {
    var topology = try TopologyLibrary.load("rfc3665-3.9")
    topology.expect.sequences = [.init(call: "c1", messages: ["INVITE", "486"])]
    let outcome = try TopologyRun(topology).run()
    #expect(outcome.failures.contains { $0.contains("it sent INVITE, INVITE, 100") })
  }

  /// An empty sequence expects a window in which the call sends nothing, and its line says so
  /// ("sends nothing", not a blank): met after the call ends, unmet over the whole call.
  @Test func anEmptySequenceReadsNothing() throws {
    var topology = try TopologyLibrary.load("rfc3665-3.9")
    topology.expect.sequences = [
      .init(call: "c1", messages: [], from: TimeSpan(.seconds(100))),
      .init(call: "c1", messages: []),
    ]
    let outcome = try TopologyRun(topology).run()
    #expect(outcome.checks.contains("call 'c1' sends nothing"), "\(outcome.checks)")
    #expect(
      outcome.failures.contains { $0.hasPrefix("call 'c1' sends nothing: it sent INVITE, ") },
      "\(outcome.failures)")
  }
}

@Suite struct DeterminismTests {
  @Test func sameSeedSameTraceOtherSeedOtherTrace() throws {
    let a = try run("lossy-retransmission").trace.map(\.jsonLine)
    let b = try run("lossy-retransmission").trace.map(\.jsonLine)
    let c = try run("lossy-retransmission", RunOptions(seed: 8)).trace.map(\.jsonLine)
    #expect(a == b)
    #expect(a != c)
  }

  /// Every JSON Lines object starts with the documented keys, in order.
  @Test func jsonLinesKeys() throws {
    let lines = try run("default").trace.map(\.jsonLine)
    #expect(lines.count > 50)
    for line in lines {
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
      for key in ["t", "event", "from", "to", "transport", "bytes"] {
        #expect(object[key] != nil, "\(key) missing in \(line)")
      }
      let order = ["\"t\":", "\"event\":", "\"from\":", "\"to\":", "\"transport\":", "\"bytes\":"]
        .compactMap { line.range(of: $0)?.lowerBound }
      #expect(order == order.sorted() && order.count == 6, "\(line)")
    }
    let events = Set(try run("default").trace.map(\.event))
    for event in [
      "host", "scenario", "send", "deliver", "timer-fired", "transaction-state", "call-state",
      "call-ended", "dialog-state", "binding",
    ] {
      #expect(events.contains(event), "no \(event) event")
    }
  }
}

@Suite struct FaultTests {
  static func topology(_ extra: (inout Topology) -> Void) -> Topology {
    var topology = Topology(
      name: "t",
      hosts: [
        HostSpec(name: "alice", role: .userAgent(UASpec(aor: "sip:alice@a.example.com"))),
        HostSpec(
          name: "bob",
          role: .userAgent(
            UASpec(aor: "sip:bob@b.example.com", behaviour: BehaviourSpec(kind: .answer)))),
      ],
      scenario: [
        Step(
          at: TimeSpan(.zero),
          .call(
            from: "alice", to: "sip:bob@10.0.0.2", call: "c1",
            hangUpAfter: TimeSpan(.seconds(1)), cancelAfter: nil, offer: true))
      ],
      expect: Expectations(calls: [.init(call: "c1", answered: true, status: 200)]))
    extra(&topology)
    return topology
  }

  static func sends(_ outcome: RunOutcome, _ method: String) -> [Int64] {
    outcome.trace.filter {
      $0.event == "send" && $0.field("summary")?.description.hasPrefix(method + " ") == true
    }.map(\.time)
  }

  /// Every message from alice dropped, with a count that would overflow `nth + count`.
  @Test func aHugeCountDoesNotOverflow() throws {
    let outcome = try TopologyRun(
      Self.topology {
        $0.messageFaults = [MessageFault(.drop, from: "alice", nth: 2, count: Int.max)]
        $0.expect = Expectations(nothingLeftOver: true)
      }
    ).run()
    #expect(outcome.trace.filter { $0.event == "drop" }.count >= 6)
  }

  @Test func theNthMatchingMessageIsDropped() throws {
    let outcome = try TopologyRun(
      Self.topology {
        $0.messageFaults = [MessageFault(.drop, method: "INVITE", from: "alice", nth: 2, count: 2)]
        $0.links.default.latency = TimeSpan(.seconds(1))  // slower than T1: INVITE goes again
      }
    ).run()
    // The first INVITE is delivered; its retransmissions at 0.5 s and 1.5 s are dropped.
    let drops = outcome.trace.filter { $0.event == "drop" }
    #expect(drops.map { $0.field("reason")?.description } == ["fault", "fault"])
    #expect(drops.map(\.time) == [500_000, 1_500_000])
    #expect(outcome.passed, "\(outcome.failures)")
  }

  @Test func aDelayedAckIsRetransmittedAround() throws {
    let outcome = try TopologyRun(
      Self.topology {
        $0.messageFaults = [MessageFault(.delay(TimeSpan(.seconds(2))), method: "ACK")]
      }
    ).run()
    // The ACK is late: bob retransmits his 200 (T1) and alice ACKs the copy (RFC 3261 §13.2.2.4).
    let oks = outcome.trace.filter {
      $0.event == "send" && $0.field("summary")?.description == "SIP/2.0 200 OK"
        && $0.field("cseq")?.description == "1 INVITE"
    }
    #expect(oks.count >= 2)
    #expect(outcome.trace.contains { $0.event == "message-fault" })
    #expect(outcome.passed, "\(outcome.failures)")
  }

  @Test func aPartitionDropsExactlyInsideItsWindowAndACrashedHostComesBack() throws {
    let outcome = try TopologyRun(
      Self.topology {
        $0.faults = [
          FaultSpec(
            at: TimeSpan(.zero), until: TimeSpan(.seconds(2)),
            .partition("alice", "bob", oneWay: false))
        ]
      }
    ).run()
    let drops = outcome.trace.filter { $0.event == "drop" }
    #expect(!drops.isEmpty && drops.allSatisfy { $0.field("reason")?.description == "partition" })
    #expect(drops.allSatisfy { $0.time < 2_000_000 })
    #expect(outcome.passed, "\(outcome.failures)")

    // bob is down from 0 to 3 s: alice's INVITEs are lost until he restarts and rebinds.
    let crashed = try TopologyRun(
      Self.topology {
        $0.faults = [FaultSpec(at: TimeSpan(.zero), until: TimeSpan(.seconds(3)), .crash("bob"))]
      }
    ).run()
    #expect(
      crashed.trace.contains {
        $0.event == "drop" && $0.field("reason")?.description == "host-down"
      })
    #expect(crashed.passed, "\(crashed.failures)")
  }

  @Test func commandLineOverridesReachTheLinks() throws {
    let lossless = try run("default", RunOptions(loss: 0))
    #expect(!lossless.trace.contains { $0.event == "drop" })
    let slow = try run("default", RunOptions(latency: .milliseconds(200)))
    let first = try #require(slow.trace.first { $0.event == "deliver" })
    let sent = try #require(slow.trace.first { $0.event == "send" })
    #expect(first.time - sent.time >= 200_000)
  }
}

@Suite struct TopologyErrorTests {
  static let minimal = #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}]"#

  @Test(arguments: [
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "colour": 1}]}"#,
      "$.hosts[0].colour", "unknown key 'colour'"
    ),
    (#"{"hosts": [{"name": "a", "role": "phone"}]}"#, "$.hosts[0].role", "unknown role 'phone'"),
    (#"{"hosts": [{"name": "a", "role": "ua"}]}"#, "$.hosts[0].aor", "missing required key"),
    (#"{"hosts": [{"name": "a", "role": "ua", "aor": 5}]}"#, "$.hosts[0].aor", "expected a string"),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "behaviour": "dance"}]}"#,
      "$.hosts[0].behaviour", "unknown behaviour 'dance'"
    ),
    (
      #"{"links": {"default": {"latency": "fast"}}, "hosts": []}"#, "$.links.default.latency",
      "'fast' is not a time span"
    ),
    (#"{"links": {"default": {"loss": 2}}, "hosts": []}"#, "$.links.default.loss", "not in 0...1"),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "scenario": [{"at": "1s", "action": "call", "from": "zed", "to": "a", "call": "c"}]}"#,
      "$.scenario[0].from", "no user agent named 'zed'"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "scenario": [{"at": "1s", "action": "hangup", "call": "c"}]}"#,
      "$.scenario[0].call", "no earlier step places a call named 'c'"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}, {"name": "a", "role": "none"}]}"#,
      "$.hosts[1].name", "a second host named 'a'"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "faults": [{"at": "1s", "kind": "crash", "host": "b"}]}"#,
      "$.faults[0].host", "no host named 'b'"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "faults": [{"at": "1s", "kind": "move", "host": "a", "address": "10.0.0.300"}]}"#,
      "$.faults[0].address", "'10.0.0.300' is not an IPv4 or IPv6 address"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "faults": [{"at": "1s", "kind": "move", "host": "b", "address": "10.0.0.9"}]}"#,
      "$.faults[0].host", "no host named 'b'"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "faults": [{"at": "1s", "kind": "move", "host": "a", "address": "10.0.0.9", "until": "2s"}]}"#,
      "$.faults[0].until", "unknown key 'until'"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "expect": {"calls": [{"call": "c"}]}}"#,
      "$.expect.calls[0].call", "no step places a call named 'c'"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "not a uri"}]}"#, "$.hosts[0].aor",
      "is not a SIP URI"
    ),
    (#"{"timers": {"t1": "0ms"}, "hosts": []}"#, "$.timers.t1", "at least 1ms"),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "addresses": ["192.0.2.1"]}, {"name": "b", "role": "none", "addresses": ["192.0.2.1"]}]}"#,
      "$.hosts[1].addresses", "already belongs to another host"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "proxy", "bindings": [{"aor": "sip:b@x", "contact": "sip:b@"}]}]}"#,
      "$.hosts[0].bindings[0].contact", "is not a SIP URI"
    ),
    (#"{"timers": {"t1": "5s", "t2": "1s"}, "hosts": []}"#, "$.timers.t2", "cannot be below T1"),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "messageFaults": [{"action": "drop", "nth": 0}]}"#,
      "$.messageFaults[0].nth", "counts from 1"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "messageFaults": [{"action": "drop", "delay": "2s"}]}"#,
      "$.messageFaults[0].delay", "'delay' applies to a 'delay' fault, not to 'drop'"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "behaviour": "ignoreCancel"}]}"#,
      "$.hosts[0].behaviour", "'ignoreCancel' needs 'for'"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "behaviour": {"kind": "ignoreCancel", "for": "40s", "status": 486}}]}"#,
      "$.hosts[0].behaviour.status", "'status' does not apply to 'ignoreCancel' (it takes 'for')"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "behaviour": {"kind": "busy", "talk": "5s"}}]}"#,
      "$.hosts[0].behaviour.talk", "'talk' does not apply to 'busy' (it takes no other key)"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "behaviour": {"kind": "answer", "for": "5s"}}]}"#,
      "$.hosts[0].behaviour.for", "'for' does not apply to 'answer' (it takes 'after')"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "scenario": [{"at": "1s", "action": "behaviour", "ua": "a", "behaviour": {"kind": "ignoreCancel"}}]}"#,
      "$.scenario[0].behaviour", "'ignoreCancel' needs 'for'"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "inviteExpires": -1}]}"#,
      "$.hosts[0].inviteExpires", "a whole number of seconds from 0 to 4294967295"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "inviteExpires": 4294967296}]}"#,
      "$.hosts[0].inviteExpires", "a whole number of seconds from 0 to 4294967295"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "inviteExpires": 1.5}]}"#,
      "$.hosts[0].inviteExpires", "a whole number of seconds from 0 to 4294967295"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "inviteExpires": "30s"}]}"#,
      "$.hosts[0].inviteExpires", "4294967295 (RFC 3261 §20.19), not '30s'"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "timerC": "soon"}]}"#,
      "$.hosts[0].timerC", "'soon' is not a time span"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "timerC": -5}]}"#,
      "$.hosts[0].timerC", "is not a time span"
    ),
    (
      #"{"seed": -1, "hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}]}"#, "$.seed",
      "expected an integer from 0 to 18446744073709551615"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "scenario": [{"at": "1s", "action": "register", "ua": "a", "expires": 99999999999}]}"#,
      "$.scenario[0].expires", "expected an integer from 0 to 4294967295"
    ),
    (
      #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "messageFaults": [{"action": "drop", "nth": 1.5}]}"#,
      "$.messageFaults[0].nth", "expected an integer from"
    ),
    (
      #"{"hosts": [{"name": "r", "role": "registrar", "minExpires": -60}]}"#,
      "$.hosts[0].minExpires", "expected an integer from 0 to 4294967295"
    ),
  ])
  func namesThePathAndTheProblem(json: String, path: String, message: String) {
    let error = decodeError(json)
    #expect(error?.path == path, "\(String(describing: error))")
    #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    #expect(error?.description.hasPrefix("t.json: \(path)") == true || error?.file == nil)
  }

  /// A user agent's Timer C from the topology: a time span, `"off"` (wait for ever, as Figure 5
  /// does), or left out (the agent's 4 minutes).
  @Test func aUserAgentsTimerCIsSetOffOrLeftAlone() throws {
    let json = #"""
      {"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "timerC": "2m"},
                 {"name": "b", "role": "ua", "aor": "sip:b@y", "timerC": "off"},
                 {"name": "c", "role": "ua", "aor": "sip:c@z"}]}
      """#
    let run = try TopologyRun(try TopologyLibrary.decode(Data(json.utf8)))
    let settings = run.agents.map { $0.agent.configuration.timerC }
    #expect(settings == [.seconds(120), nil, .seconds(240)])
  }

  /// DNS records (RFC 3263 server location): each mistake named at its path in `dns`.
  @Test(arguments: [
    (
      #"{"srv": [{"name": "biloxi.example.com", "port": 5060, "target": "a"}]}"#,
      "$.dns.srv[0].name", "is not an SRV name"
    ),
    (
      #"{"srv": [{"name": "_sip._udp.b", "port": 0, "target": "a"}]}"#, "$.dns.srv[0].port",
      "1 to 65535"
    ),
    (
      #"{"srv": [{"name": "_sip._udp.b", "port": 5060, "weight": 70000, "target": "a"}]}"#,
      "$.dns.srv[0].weight", "0 to 65535, not 70000"
    ),
    (
      #"{"srv": [{"name": "_sip._udp.b", "port": 5060}]}"#, "$.dns.srv[0].target",
      "missing required key"
    ),
    (
      #"{"srv": [{"name": "_sip._udp.b", "port": 5060, "target": "nowhere"}]}"#,
      "$.dns.srv[0].target", "'nowhere' resolves to nothing"
    ),
    (
      #"{"srv": [{"name": "_sip._udp.b", "port": 5060, "target": "a", "ttl": 5}]}"#,
      "$.dns.srv[0].ttl", "unknown key 'ttl'"
    ),
    (
      #"{"a": [{"name": "backup.b", "addresses": ["10.0.0.300"]}]}"#, "$.dns.a[0].addresses[0]",
      "not an IPv4 or IPv6 address"
    ),
    (
      #"{"a": [{"name": "backup.b", "addresses": []}]}"#, "$.dns.a[0].addresses", "needs an address"
    ),
    (
      #"{"naptr": [{"name": "b", "order": 10, "service": "SIP+D2U", "replacement": "_sip._udp.b"}]}"#,
      "$.dns.naptr[0].replacement", "no SRV record named '_sip._udp.b'"
    ),
    (
      #"{"naptr": [{"name": "b", "order": 10, "flags": "x", "service": "SIP+D2U", "replacement": "_sip._udp.b"}]}"#,
      "$.dns.naptr[0].flags", "not 'x'"
    ),
    (
      #"{"naptr": [{"name": "b", "service": "SIP+D2U", "replacement": "_sip._udp.b"}]}"#,
      "$.dns.naptr[0].order", "missing required key"
    ),
    (#"{"mx": []}"#, "$.dns.mx", "unknown key 'mx'"),
  ])
  func dnsRecordErrorsNameTheirPath(dns: String, path: String, message: String) {
    let json = #"{"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"}], "dns": "# + dns + "}"
    let error = decodeError(json)
    #expect(error?.path == path, "\(String(describing: error))")
    #expect(error?.message.contains(message) == true, "\(String(describing: error))")
  }

  /// A file's DNS records reach the network's name service (SRV targets naming a host, a
  /// host's domain or an `a` record), each traced at 0 as a `dns` event.
  @Test func dnsRecordsReachTheNameService() throws {
    let json = #"""
      {"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x"},
                 {"name": "p1", "role": "none", "domains": ["p1.b"]}],
       "dns": {"a": [{"name": "backup.b", "addresses": ["192.0.2.9"]}],
               "srv": [{"name": "_sip._udp.b", "priority": 20, "weight": 5, "port": 5070, "target": "backup.b"},
                       {"name": "_sip._udp.b", "priority": 10, "port": 5060, "target": "p1.b"},
                       {"name": "_sip._tcp.b", "port": 5060, "target": "a"}],
               "naptr": [{"name": "b", "order": 10, "preference": 5, "service": "SIP+D2T",
                          "replacement": "_sip._tcp.b"}]}}
      """#
    let run = try TopologyRun(try TopologyLibrary.decode(Data(json.utf8)))
    let network = run.network
    #expect(network.hasServiceRecords)
    #expect(network.resolve("backup.b").map(\.description) == ["192.0.2.9"])
    #expect(network.services("_sip._udp.b").map(\.target) == ["p1.b", "backup.b"])
    #expect(network.services("_sip._udp.b").map(\.weight) == [0, 5])
    let pointer = try #require(network.namingAuthorityRecords("b").first)
    #expect(pointer.service == "SIP+D2T" && pointer.flags == "s" && pointer.preference == 5)
    let traced = network.trace.events.filter { $0.event == "dns" }.map {
      "\($0.field("type")?.description ?? "") \($0.field("name")?.description ?? ""): \($0.field("value")?.description ?? "")"
    }
    #expect(
      traced == [
        "A backup.b: 192.0.2.9", "SRV _sip._udp.b: 20 5 5070 backup.b",
        "SRV _sip._udp.b: 10 0 5060 p1.b",
        "SRV _sip._tcp.b: 0 0 5060 a", "NAPTR b: 10 5 \"s\" \"SIP+D2T\" _sip._tcp.b",
      ])
  }

  /// `{"kind": "ignoreCancel", "for": …}` is the broken callee of `cancel-no-487`: it decodes
  /// to `UABehaviour.ignoreCancel(ringing:)` with its `for`, as a string or in a scenario step.
  @Test func ignoreCancelDecodes() throws {
    let json = #"""
      {"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x",
                  "behaviour": {"kind": "ignoreCancel", "for": "40s"}}],
       "scenario": [{"at": "1s", "action": "behaviour", "ua": "a",
                     "behaviour": {"kind": "ignoreCancel", "for": "1.5s"}}]}
      """#
    let topology = try TopologyLibrary.decode(Data(json.utf8))
    guard case .userAgent(let ua) = try #require(topology.hosts.first).role else {
      Issue.record("not a user agent")
      return
    }
    #expect(ua.behaviour.kind == .ignoreCancel && ua.behaviour.ringFor == TimeSpan(.seconds(40)))
    guard case .ignoreCancel(let ringing) = ua.behaviour.behaviour else {
      Issue.record("\(ua.behaviour.behaviour)")
      return
    }
    #expect(ringing == .seconds(40))
    guard case .behaviour(_, let spec) = try #require(topology.scenario.first).action,
      case .ignoreCancel(let later) = spec.behaviour
    else {
      Issue.record("\(topology.scenario)")
      return
    }
    #expect(later == .milliseconds(1500))
  }

  /// `inviteExpires` is the user agent's ``UAConfiguration/inviteExpires``: whole seconds, the
  /// Expires of RFC 3261 §13.2.1, from 0 to 2^32 − 1 (§20.19); absent, none.
  @Test func inviteExpiresDecodes() throws {
    let json = #"""
      {"hosts": [{"name": "a", "role": "ua", "aor": "sip:a@x", "inviteExpires": 4294967295},
                 {"name": "b", "role": "ua", "aor": "sip:b@x", "inviteExpires": 0},
                 {"name": "c", "role": "ua", "aor": "sip:c@x"}]}
      """#
    let topology = try TopologyLibrary.decode(Data(json.utf8))
    let values = topology.hosts.map { host -> UInt32?? in
      guard case .userAgent(let ua) = host.role else { return nil }
      return .some(ua.inviteExpires)
    }
    #expect(values == [.some(4_294_967_295), .some(0), .some(nil)])
  }

  /// A topology's `inviteExpires` reaches the agent: alice's INVITE says `Expires: 3` and, bob
  /// only ringing, she CANCELs it at exactly 3 s.
  @Test func inviteExpiresReachesTheAgent() throws {
    let json = #"""
      {"hosts": [{"name": "alice", "role": "ua", "aor": "sip:alice@x", "inviteExpires": 3},
                 {"name": "bob", "role": "ua", "aor": "sip:bob@y", "behaviour": "noAnswer"}],
       "scenario": [{"at": "0s", "action": "call", "from": "alice", "to": "sip:bob@10.0.0.2",
                     "call": "c1"}],
       "expect": {"calls": [{"call": "c1", "answered": false, "status": 487}]}}
      """#
    let outcome = try TopologyRun(try TopologyLibrary.decode(Data(json.utf8))).run()
    #expect(outcome.passed, "\(outcome.failures)")
    let sent = outcome.trace.filter { $0.event == "send" }
    let invite = sent.first { $0.field("summary")?.description.hasPrefix("INVITE ") == true }
    #expect(
      invite?.payload.map { String(decoding: $0, as: UTF8.self).contains("\r\nExpires: 3\r\n") }
        == true)
    let cancels = sent.filter { $0.field("summary")?.description.hasPrefix("CANCEL ") == true }
    #expect(cancels.map(\.time) == [3_000_000])
  }

  /// A file's errors name it as the user wrote it: a relative path stays relative.
  @Test func aFileIsNamedAsGiven() {
    do {
      _ = try TopologyLibrary.load("./no-such-topology.json")
      Issue.record("loaded a file that does not exist")
    } catch {
      #expect(error.file == "./no-such-topology.json", "\(error)")
      #expect(error.description.hasPrefix("./no-such-topology.json: $: cannot read the file"))
    }
  }

  @Test func brokenJSONGetsItsLineAndColumn() {
    let error = decodeError("{\n  \"hosts\": [\n    {\"name\": \"a\",, }\n  ]\n}")
    #expect(error?.message.contains("line 3, column 18") == true, "\(String(describing: error))")
    #expect(decodeError(Self.minimal + "}") == nil)
    #expect(decodeError(Self.minimal)?.message.contains("end of file") == true)
  }

  @Test func unknownNamesAndFilesAreErrors() {
    #expect(throws: TopologyError.self) { try TopologyLibrary.load("no-such-topology") }
    #expect(throws: TopologyError.self) { try TopologyLibrary.load("/nonexistent/x.json") }
  }

  @Test func timeSpans() {
    #expect(TimeSpan.parse("1.5s") == .milliseconds(1500))
    #expect(TimeSpan.parse("250ms") == .milliseconds(250))
    #expect(TimeSpan.parse("20us") == .microseconds(20))
    #expect(TimeSpan.parse("2m") == .seconds(120))
    #expect(TimeSpan.parse("3") == .seconds(3))
    #expect(TimeSpan.parse("-1s") == nil)
    #expect(TimeSpan.parse("soon") == nil)
    #expect(TimeSpan.format(.milliseconds(1500)) == "1500ms")
  }
}

/// Nothing a topology file says crashes the tool: mutated copies of every bundled topology
/// (numbers swapped for extremes, strings emptied, text cut short) either fail with a
/// `TopologyError` or run.
@Suite struct TopologyRobustnessTests {
  static let extremes = ["-1", "0", "1e308", "18446744073709551616", "9223372036854775807", "0.5"]

  static func mutations(of text: String, seed: UInt64) -> [String] {
    var random = SimRandom(seed: seed, stream: "mutations")
    let bytes = Array(text.utf8)
    var results: [String] = []
    // Numbers replaced by extremes.
    let numbers = text.matches(of: /: (-?[0-9][0-9.e]*)/).map {
      $0.output.1.startIndex..<$0.output.1.endIndex
    }
    for _ in 0..<8 where !numbers.isEmpty {
      let range = numbers[Int(random.next() % UInt64(numbers.count))]
      let value = extremes[Int(random.next() % UInt64(extremes.count))]
      results.append(text.replacingCharacters(in: range, with: value))
    }
    // String values emptied.
    let strings = text.matches(of: /: ("[^"]*")/).map {
      $0.output.1.startIndex..<$0.output.1.endIndex
    }
    for _ in 0..<8 where !strings.isEmpty {
      let range = strings[Int(random.next() % UInt64(strings.count))]
      results.append(text.replacingCharacters(in: range, with: "\"\""))
    }
    // Cut short.
    for _ in 0..<2 {
      results.append(
        String(decoding: bytes.prefix(Int(random.next() % UInt64(bytes.count))), as: UTF8.self))
    }
    return results
  }

  @Test(arguments: TopologyLibrary.names()) func mutatedTopologiesNeverCrash(name: String) throws {
    let folder = try #require(TopologyLibrary.folder)
    let text = try String(
      contentsOf: folder.appendingPathComponent(name + ".json"), encoding: .utf8)
    var ran = 0
    var refused = 0
    for (index, mutated) in Self.mutations(of: text, seed: 1).enumerated() {
      do {
        let topology = try TopologyLibrary.decode(Data(mutated.utf8), file: "\(name)#\(index)")
        _ = try TopologyRun(topology, options: RunOptions(duration: .seconds(5))).run()
        ran += 1
      } catch {
        refused += 1
        #expect(!error.path.isEmpty && !error.message.isEmpty)
      }
    }
    #expect(ran > 0 && refused > 0, "\(name): \(ran) ran, \(refused) refused")
  }
}
