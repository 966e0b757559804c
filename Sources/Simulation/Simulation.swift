/// One deterministic simulation: an executor, a virtual clock, a scheduler and a seed.
///
/// Driving: whichever thread calls `run(until:)`, `run(for:)`, `runUntilIdle()` or `step()`
/// drives the simulation. The loop drains every ready job, then advances `now` to the next
/// scheduled event and runs it; events run in (time, sequence) order, so ties break by the order
/// they were scheduled. A `Simulation` belongs to one driving thread at a time: schedule from
/// jobs and callbacks of this simulation (or before running it), never from another thread
/// while it runs.
public final class Simulation: @unchecked Sendable {
  /// The executor every element actor of this simulation pins to.
  public let executor = SimulationExecutor()
  /// The seed every random sub-stream derives from (`random(stream:)`).
  public let seed: UInt64
  // Unchecked: the scheduler is touched only by the driving thread, and nothing holds an access
  // to it across a call out (actions are taken out before they run). Checking each access
  // dynamically was a fifth of the kernel's cost.
  @exclusivity(unchecked) private var scheduler = EventScheduler()

  /// Makes a simulation at virtual time zero.
  public init(seed: UInt64 = 0) { self.seed = seed }

  /// The current virtual time.
  public var now: SimInstant { scheduler.now }

  /// The virtual clock, for `sleep` in scenario code.
  public var clock: SimulationClock { SimulationClock(simulation: self) }

  /// Timers armed and not yet fired or cancelled (part of the "nothing left over" check).
  public var timersArmed: Int { scheduler.pendingCount }

  /// A random generator for the stable stream `name` (a link, a host): adding a stream never
  /// changes another stream's draws.
  public func random(stream name: String) -> SimRandom { SimRandom(seed: seed, stream: name) }

  /// Runs `action` on the driving thread at `instant` (now, if it is in the past). No `Task` is
  /// made: a callback into an element actor pinned to `executor` may use `assumeIsolated`.
  @discardableResult
  public func schedule(at instant: SimInstant, _ action: @escaping () -> Void) -> TimerHandle {
    scheduler.schedule(at: instant, action)
  }

  /// Runs `action` after `delay` of virtual time.
  @discardableResult
  public func schedule(after delay: Duration, _ action: @escaping () -> Void) -> TimerHandle {
    scheduler.schedule(after: delay, action)
  }

  /// Arms a timer that calls `target.timerFired(token)` at `instant`: no allocation per timer.
  /// An element keeps one target (its transaction layer) and tells its timers apart by token.
  @discardableResult
  public func schedule(at instant: SimInstant, target: any TimerTarget, token: UInt64)
    -> TimerHandle
  {
    scheduler.schedule(at: instant, target: target, token: token)
  }

  /// A datagram's arrival (``Network`` is the target, the token its in-flight slot): a path of
  /// its own, so the public entry above keeps the one shape every element timer takes (called
  /// with a concrete network as well, it was specialized behind a thunk that cost the element
  /// timers ~2%), and so the scheduler knows to tell the network shortly before it is due.
  func scheduleArrival(at instant: SimInstant, of network: Network, token: UInt64) {
    _ = scheduler.schedule(at: instant, .target(network, token), arrival: true)
  }

  /// Cancels a scheduled callback; a fired or unknown handle is ignored.
  public func cancel(_ handle: TimerHandle) { scheduler.cancel(handle) }

  /// Calls `action` on a pinned `actor` at `instant`, isolated to it, without a `Task`.
  @discardableResult
  public func schedule<A: Actor>(
    at instant: SimInstant, into actor: A, _ action: @escaping @Sendable (isolated A) -> Void
  ) -> TimerHandle {
    scheduler.schedule(at: instant) { actor.assumeIsolated { action($0) } }
  }

  /// ``schedule(at:into:_:)`` for an actor that knows its simulation: entered with
  /// ``SimulationActor/onDrivingThread(_:)``, without `assumeIsolated`'s cost.
  /// Inlinable so it is specialized for the element's type: unspecialized, the isolated call
  /// allocated twice per timer.
  @inlinable @discardableResult
  public func schedule<A: SimulationActor>(
    at instant: SimInstant, into actor: A, _ action: @escaping @Sendable (isolated A) -> Void
  ) -> TimerHandle {
    schedule(at: instant) {
      actor.onDrivingThread(passing: action) { actor, action in action(actor) }
    }
  }

  /// Runs `body` as the driver of this simulation, so a pinned actor's state can be read with
  /// `assumeIsolated` between runs (awaiting the actor instead would wait for an executor nobody
  /// drives). Call it from the thread that drives the simulation, never while it runs.
  ///
  /// Nested calls (an element created inside a timer callback, which already runs as the driver)
  /// are fine: only the outermost call hands the executor back.
  public func inspect<R>(_ body: () throws -> R) rethrows -> R {
    let outermost = !executor.isDrivenByCurrentThread
    if outermost { executor.beginDriving() }
    defer { if outermost { executor.endDriving() } }
    return try body()
  }

  /// Starts `body` as an entry task on this simulation's executor. It runs when the simulation
  /// is driven.
  @discardableResult
  public func spawn(_ body: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
    Task(executorPreference: executor) { await body() }
  }

  /// Runs ready jobs, or else the next event and the jobs it makes ready. Returns false when
  /// nothing is left to do.
  @discardableResult
  public func step() -> Bool {
    executor.beginDriving()
    defer { executor.endDriving() }
    if executor.drain() > 0 { return true }
    guard let action = scheduler.next() else { return false }
    action.run()
    executor.drain()
    return true
  }

  /// Runs every job and event up to and including `instant`, then sets `now` to `instant`.
  public func run(until instant: SimInstant) {
    executor.beginDriving()
    defer { executor.endDriving() }
    while true {
      executor.drain()
      guard let action = scheduler.next(until: instant) else { break }
      action.run()
    }
    scheduler.advance(to: instant)
  }

  /// Runs for `duration` of virtual time from `now`.
  public func run(for duration: Duration) { run(until: now.advanced(by: duration)) }

  /// Runs until no job is ready and no event is scheduled; `now` is the time of the last event.
  public func runUntilIdle() {
    executor.beginDriving()
    defer { executor.endDriving() }
    while true {
      executor.drain()
      guard let action = scheduler.next() else { break }
      action.run()
    }
  }
}
