// swift-tools-version: 6.0
// SIPSim: an actor-based, deterministic simulation framework for SIP (RFC 3261).
// The toolchain only: no package dependencies, by design.
import PackageDescription

/// Settings shared by every target: Swift 6 language mode is the package default (see
/// `swiftLanguageModes` below); release builds check exclusivity only where the compiler
/// cannot prove it, like any optimized Swift build.
let strict: [SwiftSetting] = [
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
  name: "SIPSim",
  products: [
    .executable(name: "sipsim", targets: ["sipsim"]),
    .library(name: "SIPSim", targets: ["SIPSim"]),
    .library(name: "SIPCore", targets: ["SIPCore"]),
    .library(name: "Simulation", targets: ["Simulation"]),
  ],
  targets: [
    // RFC 3261 §7, §19, §20, §25; RFC 4566; RFC 2617 / 7616. Pure values, no Foundation.
    .target(name: "SIPCore", swiftSettings: strict),
    // RFC 3261 §17 and RFC 6026: the four transaction state machines. Pure.
    .target(
      name: "SIPTransaction", dependencies: ["SIPCore", "SIPTransport"], swiftSettings: strict),
    // RFC 3261 §12–15: dialogs and INVITE sessions. Pure.
    .target(name: "SIPDialog", dependencies: ["SIPCore", "SIPTransaction"], swiftSettings: strict),
    // RFC 3261 §10, §16, §22, §8.3: location service, registrar, proxy rules, response context,
    // digest server. Pure.
    .target(name: "SIPServers", dependencies: ["SIPCore", "SIPDialog"], swiftSettings: strict),
    // RFC 3261 §18 and RFC 3581: the Transport protocol and its rules. No simulator types.
    .target(name: "SIPTransport", dependencies: ["SIPCore"], swiftSettings: strict),
    // The SIP-agnostic deterministic kernel: executor, virtual clock, network, faults, trace.
    .target(name: "Simulation", swiftSettings: strict),
    // The element actors: user agents, proxies, registrar, redirect server, B2BUA.
    .target(
      name: "SIPElements",
      dependencies: [
        "SIPCore", "SIPTransaction", "SIPDialog", "SIPServers", "SIPTransport", "Simulation",
      ],
      swiftSettings: strict),
    // The face users script against: topologies, scenarios, renderers.
    .target(
      name: "SIPSim",
      dependencies: [
        "SIPCore", "SIPTransaction", "SIPDialog", "SIPServers", "SIPTransport", "Simulation",
        "SIPElements",
      ],
      swiftSettings: strict),
    // The command-line tool.
    .executableTarget(
      name: "sipsim",
      dependencies: [
        "SIPSim", "SIPCore", "Simulation", "SIPElements", "SIPTransaction", "SIPTransport",
      ], swiftSettings: strict),

    // Runnable examples (`swift run <Name>`), one short teaching file each.
    .executableTarget(
      name: "BasicCall", dependencies: ["SIPSim"], path: "Examples/BasicCall",
      swiftSettings: strict),
    .executableTarget(
      name: "RegisterAndCall", dependencies: ["SIPSim"], path: "Examples/RegisterAndCall",
      swiftSettings: strict),
    .executableTarget(
      name: "LossyRetransmission", dependencies: ["SIPSim"], path: "Examples/LossyRetransmission",
      swiftSettings: strict),
    .executableTarget(
      name: "ForkingProxy", dependencies: ["SIPSim"], path: "Examples/ForkingProxy",
      swiftSettings: strict),
    .executableTarget(
      name: "RedirectServer", dependencies: ["SIPSim"], path: "Examples/RedirectServer",
      swiftSettings: strict),
    .executableTarget(
      name: "DigestAuthentication", dependencies: ["SIPSim"], path: "Examples/DigestAuthentication",
      swiftSettings: strict),
    .executableTarget(
      name: "CancelRace", dependencies: ["SIPSim"], path: "Examples/CancelRace",
      swiftSettings: strict),
    .executableTarget(
      name: "Glare", dependencies: ["SIPSim"], path: "Examples/Glare",
      swiftSettings: strict),
    .executableTarget(
      name: "CustomElement", dependencies: ["SIPSim", "SIPCore", "SIPElements", "SIPTransaction"],
      path: "Examples/CustomElement",
      swiftSettings: strict),

    .testTarget(
      name: "SIPCoreTests", dependencies: ["SIPCore"], resources: [.copy("Resources")],
      swiftSettings: strict),
    .testTarget(name: "SimulationTests", dependencies: ["Simulation"], swiftSettings: strict),
    .testTarget(
      name: "SIPTransactionTests", dependencies: ["SIPTransaction", "SIPCore", "SIPTransport"],
      swiftSettings: strict),
    .testTarget(
      name: "SIPDialogTests", dependencies: ["SIPDialog", "SIPCore"], swiftSettings: strict),
    .testTarget(
      name: "SIPServersTests", dependencies: ["SIPServers", "SIPDialog", "SIPCore"],
      swiftSettings: strict),
    .testTarget(
      name: "SIPTransportTests", dependencies: ["SIPTransport", "SIPCore"], swiftSettings: strict),
    .testTarget(
      name: "SIPElementsTests",
      dependencies: [
        "SIPElements", "SIPCore", "SIPTransaction", "SIPDialog", "SIPServers", "SIPTransport",
        "Simulation",
      ],
      resources: [.copy("Resources")], swiftSettings: strict),
    .testTarget(
      name: "SIPSimTests", dependencies: ["SIPSim", "Simulation", "sipsim"],
      resources: [.copy("Golden")], swiftSettings: strict),
    // Scans Sources/ for the APIs that break the determinism contract (ARCHITECTURE.md).
    .testTarget(name: "TidyTests", swiftSettings: strict),
  ],
  swiftLanguageModes: [.v6]
)
