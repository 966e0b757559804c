/// Checks what decoding cannot: that names refer to things that exist and are unique, so an
/// error points at the JSON path of the mistake before anything runs.
struct TopologyValidator {
  let topology: Topology

  init(_ topology: Topology) { self.topology = topology }

  func validate() throws(TopologyError) {
    var names: [String] = []
    var uaNames: [String] = []
    if topology.hosts.isEmpty { throw TopologyError(path: "$.hosts", message: "no hosts") }
    for (index, host) in topology.hosts.enumerated() {
      if names.contains(host.name) {
        throw TopologyError(
          path: "$.hosts[\(index)].name", message: "a second host named '\(host.name)'")
      }
      names.append(host.name)
      if case .userAgent = host.role { uaNames.append(host.name) }
    }
    try validateDNS(hostNames: names)
    func host(_ name: String, _ path: String) throws(TopologyError) {
      guard names.contains(name) else {
        throw TopologyError(
          path: path,
          message: "no host named '\(name)' (hosts: \(names.joined(separator: ", ")))")
      }
    }
    func ua(_ name: String, _ path: String) throws(TopologyError) {
      guard uaNames.contains(name) else {
        throw TopologyError(
          path: path,
          message: "no user agent named '\(name)' (user agents: \(uaNames.joined(separator: ", ")))"
        )
      }
    }
    for (index, pair) in topology.links.pairs.enumerated() {
      try host(pair.from, "$.links.pairs[\(index)].from")
      try host(pair.to, "$.links.pairs[\(index)].to")
    }
    var calls: [String] = []
    var requests: [String] = []
    var previous = Duration.zero
    for (index, step) in topology.scenario.enumerated() {
      let path = "$.scenario[\(index)]"
      if step.at.duration < previous {
        throw TopologyError(
          path: "\(path).at",
          message: "steps are in time order; \(step.at) comes before the previous step's "
            + TimeSpan.format(previous))
      }
      previous = step.at.duration
      switch step.action {
      case .register(let name, _, _, _), .unregister(let name, _), .query(let name),
        .behaviour(let name, _):
        try ua(name, "\(path).ua")
      case .call(let from, _, let call, _, _, _):
        try ua(from, "\(path).from")
        if calls.contains(call) {
          throw TopologyError(path: "\(path).call", message: "a second call named '\(call)'")
        }
        calls.append(call)
      case .cancel(let call), .hangUp(let call, nil), .reinvite(let call, nil, _):
        if !calls.contains(call) {
          throw TopologyError(
            path: "\(path).call", message: "no earlier step places a call named '\(call)'")
        }
      case .hangUp(let call, let by?), .reinvite(let call, let by?, _):
        if !calls.contains(call) {
          throw TopologyError(
            path: "\(path).call", message: "no earlier step places a call named '\(call)'")
        }
        try ua(by, "\(path).by")
      case .options(let from, _, let request):
        try ua(from, "\(path).from")
        if requests.contains(request) {
          throw TopologyError(
            path: "\(path).request", message: "a second request named '\(request)'")
        }
        requests.append(request)
      }
    }
    for (index, fault) in topology.faults.enumerated() {
      let path = "$.faults[\(index)]"
      switch fault.kind {
      case .partition(let a, let b, _):
        try host(a, "\(path).hosts[0]")
        try host(b, "\(path).hosts[1]")
      case .crash(let name), .restart(let name), .move(let name, _):
        try host(name, "\(path).host")
      case .link(let from, let to, _, _):
        if let from { try host(from, "\(path).from") }
        if let to { try host(to, "\(path).to") }
      }
    }
    for (index, fault) in topology.messageFaults.enumerated() {
      if let from = fault.from { try host(from, "$.messageFaults[\(index)].from") }
      if let to = fault.to { try host(to, "$.messageFaults[\(index)].to") }
    }
    for (index, outcome) in topology.expect.calls.enumerated() where !calls.contains(outcome.call) {
      throw TopologyError(
        path: "$.expect.calls[\(index)].call",
        message: "no step places a call named '\(outcome.call)'")
    }
    for (index, sequence) in topology.expect.sequences.enumerated() {
      if let call = sequence.call, !calls.contains(call) {
        throw TopologyError(
          path: "$.expect.sequences[\(index)].call",
          message: "no step places a call named '\(call)'")
      }
      if let name = sequence.registration {
        try ua(name, "$.expect.sequences[\(index)].registration")
      }
    }
    for (index, outcome) in topology.expect.requests.enumerated()
    where !requests.contains(outcome.name) {
      throw TopologyError(
        path: "$.expect.requests[\(index)].request",
        message: "no step sends a request named '\(outcome.name)'")
    }
    for (index, outcome) in topology.expect.registrations.enumerated() {
      try ua(outcome.name, "$.expect.registrations[\(index)].ua")
    }
  }
}
