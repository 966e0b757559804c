import Simulation
import Synchronization
import Testing

/// An element-like actor pinned to a simulation's executor.
actor Recorder {
  nonisolated let unownedExecutor: UnownedSerialExecutor
  /// Readable from the test's thread after the run (awaiting the actor then would wait for an
  /// executor nobody drives any more).
  let log = Log()

  init(_ simulation: Simulation) { unownedExecutor = simulation.executor.asUnownedSerialExecutor() }

  func record(_ entry: String) { log.append(entry) }
}

/// An element-like actor that knows its simulation: entered with `onDrivingThread`.
actor Counter: SimulationActor {
  nonisolated let simulationExecutor: SimulationExecutor
  nonisolated var unownedExecutor: UnownedSerialExecutor {
    simulationExecutor.asUnownedSerialExecutor()
  }
  var count = 0
  let log = Log()

  init(_ simulation: Simulation) { simulationExecutor = simulation.executor }

  func bump(_ label: String) -> Int {
    count += 1
    log.append("\(label) \(count)")
    return count
  }
}

/// A log a test reads after driving the simulation on its own thread.
final class Log: Sendable {
  private let entries = Mutex<[String]>([])
  func append(_ entry: String) { entries.withLock { $0.append(entry) } }
  var all: [String] { entries.withLock { $0 } }
}

struct SimulationRunTests {
  @Test func clockSleepsInVirtualTime() {
    let simulation = Simulation(seed: 1)
    let log = Log()
    let clock = simulation.clock
    simulation.spawn {
      log.append("start \(clock.now.microseconds)")
      try? await clock.sleep(for: .seconds(3))
      log.append("woke \(clock.now.microseconds)")
      try? await clock.sleep(for: .milliseconds(500))
      log.append("woke \(clock.now.microseconds)")
    }
    simulation.runUntilIdle()
    #expect(log.all == ["start 0", "woke 3000000", "woke 3500000"])
    #expect(simulation.now == SimInstant(microseconds: 3_500_000))
    #expect(simulation.timersArmed == 0)
  }

  @Test func runUntilStopsAtTheInstantAndLeavesLaterEvents() {
    let simulation = Simulation()
    let log = Log()
    simulation.schedule(after: .seconds(1)) { log.append("1s") }
    simulation.schedule(after: .seconds(5)) { log.append("5s") }
    simulation.run(for: .seconds(2))
    #expect(log.all == ["1s"])
    #expect(simulation.now == SimInstant(microseconds: 2_000_000))
    #expect(simulation.timersArmed == 1)
    simulation.run(until: SimInstant(microseconds: 5_000_000))
    #expect(log.all == ["1s", "5s"])
    #expect(simulation.timersArmed == 0)
  }

  @Test func tiesBreakByInsertionAndNestedEventsAreOrdered() {
    let simulation = Simulation()
    let log = Log()
    simulation.schedule(after: .seconds(1)) {
      log.append("a")
      // Scheduled during an event at the same instant: runs after everything already queued.
      simulation.schedule(after: .zero) { log.append("nested") }
    }
    simulation.schedule(after: .seconds(1)) { log.append("b") }
    let cancelled = simulation.schedule(after: .seconds(1)) { log.append("cancelled") }
    simulation.cancel(cancelled)
    simulation.cancel(cancelled)  // twice is harmless
    simulation.runUntilIdle()
    #expect(log.all == ["a", "b", "nested"])
  }

  @Test func stepRunsOneEventAtATime() {
    let simulation = Simulation()
    let log = Log()
    simulation.schedule(after: .seconds(1)) { log.append("1") }
    simulation.schedule(after: .seconds(2)) { log.append("2") }
    #expect(simulation.step())
    #expect(log.all == ["1"])
    #expect(simulation.step())
    #expect(!simulation.step())
    #expect(log.all == ["1", "2"])
  }

  @Test func pinnedActorRunsOnTheExecutorAndTimersEnterItWithoutATask() {
    let simulation = Simulation()
    let recorder = Recorder(simulation)
    let clock = simulation.clock
    simulation.spawn {
      await recorder.record("entry at \(clock.now.microseconds)")
      try? await clock.sleep(for: .milliseconds(250))
      await recorder.record("after sleep at \(clock.now.microseconds)")
    }
    simulation.schedule(at: SimInstant(microseconds: 100_000), into: recorder) { actor in
      actor.record("timer at 100000")
    }
    simulation.runUntilIdle()
    #expect(recorder.log.all == ["entry at 0", "timer at 100000", "after sleep at 250000"])
  }

  /// A `SimulationActor` is entered synchronously from whatever the driving thread runs: an
  /// `inspect` block, a plain callback, and its own timers (`schedule(at:into:)`), in time order,
  /// returning values.
  @Test func simulationActorsAreEnteredOnTheDrivingThread() {
    let simulation = Simulation()
    let counter = Counter(simulation)
    let first = simulation.inspect { counter.onDrivingThread { $0.bump("inspect") } }
    simulation.schedule(at: SimInstant(microseconds: 200)) {
      _ = counter.onDrivingThread { $0.bump("callback") }
    }
    simulation.schedule(at: SimInstant(microseconds: 100), into: counter) { actor in
      _ = actor.bump("timer")
    }
    simulation.runUntilIdle()
    #expect(first == 1)
    #expect(counter.log.all == ["inspect 1", "timer 2", "callback 3"])
    #expect(simulation.inspect { counter.onDrivingThread { $0.count } } == 3)
  }

  /// Many simulations side by side, each driven by its own thread, give identical results.
  @Test func simulationsRunInParallelIndependently() async {
    let results = await withTaskGroup(of: [String].self) { group in
      for _ in 0..<8 {
        group.addTask {
          let simulation = Simulation(seed: 7)
          let log = Log()
          var random = simulation.random(stream: "host a")
          for index in 0..<200 {
            let delay = Duration.microseconds(Int64(random.next() % 1_000_000))
            simulation.schedule(after: delay) {
              log.append("\(index)@\(simulation.now.microseconds)")
            }
          }
          simulation.runUntilIdle()
          return log.all
        }
      }
      var all: [[String]] = []
      for await result in group { all.append(result) }
      return all
    }
    #expect(results.count == 8)
    #expect(results.allSatisfy { $0 == results[0] })
    #expect(results[0].count == 200)
  }

  @Test func subStreamsAreIndependentOfOtherStreams() {
    let one = Simulation(seed: 99)
    var link = one.random(stream: "link a->b")
    let first = (0..<8).map { _ in link.next() }
    // Drawing from another stream (as a newly added host would) leaves this link's draws alone.
    var host = one.random(stream: "host c")
    _ = host.next()
    var again = one.random(stream: "link a->b")
    #expect((0..<8).map { _ in again.next() } == first)
    var other = Simulation(seed: 100).random(stream: "link a->b")
    #expect((0..<8).map { _ in other.next() } != first)
  }
}
