/// A `Clock` in virtual time, so scenario code can `try await clock.sleep(for: .seconds(3))` and
/// wake exactly three simulated seconds later, however long the host machine takes.
public struct SimulationClock: Clock, Sendable {
  public typealias Instant = SimInstant

  let simulation: Simulation

  public var now: SimInstant { simulation.now }

  /// The trace resolution: one microsecond.
  public var minimumResolution: Duration { .microseconds(1) }

  /// Suspends until `deadline` in virtual time. The wake-up is an ordinary scheduled event, so
  /// it is ordered by (time, sequence) with every other event. Cancellation does not wake the
  /// sleeper early (the event is already queued); it is checked when it wakes.
  public func sleep(until deadline: SimInstant, tolerance: Duration? = nil) async throws {
    let simulation = self.simulation
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      simulation.schedule(at: deadline) { continuation.resume() }
    }
    try Task.checkCancellation()
  }
}

extension SimInstant: InstantProtocol {
  public typealias Duration = Swift.Duration

  public func duration(to other: SimInstant) -> Swift.Duration {
    .microseconds(other.microseconds - microseconds)
  }
}
