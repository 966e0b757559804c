import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The one executor of a simulation: a FIFO `SerialExecutor & TaskExecutor` whose jobs run only
/// when the thread driving the simulation drains it (ARCHITECTURE.md, "Determinism contract").
///
/// Element actors pin themselves to it (`nonisolated let unownedExecutor =
/// simulation.executor.asUnownedSerialExecutor()`), and entry tasks start with
/// `Task(executorPreference: simulation.executor)`, so every job of a simulation runs on one
/// thread, in the order it was enqueued. Many simulations run side by side, each on its own.
public final class SimulationExecutor: SerialExecutor, TaskExecutor {
  /// Ready jobs in FIFO order. Enqueue may come from any thread (a task resumed from outside),
  /// so the queue is behind a lock; jobs run only on the driving thread.
  private let ready = Mutex<[UnownedJob]>([])
  /// The thread draining this executor, or 0 when none is; lets `checkIsolated` tell whether
  /// a timer callback runs "on" this executor (callbacks run between jobs, on the same thread).
  private let drivingThread = Atomic<UInt>(0)
  /// Jobs enqueued and not yet taken, so the driving loop can skip the lock when idle (it checks
  /// between every event).
  private let readyCount = Atomic<Int>(0)

  /// Makes an executor with no jobs.
  public init() {}

  public func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    ready.withLock { $0.append(job) }
    readyCount.add(1, ordering: .releasing)
  }

  public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
    UnownedSerialExecutor(ordinary: self)
  }

  /// Called by the runtime when `assumeIsolated` finds no job of this executor running: the
  /// simulation's timer callbacks run on the driving thread between jobs, and they are isolated
  /// to this executor too. Anything else is a programming error and traps here.
  public func checkIsolated() {
    precondition(
      drivingThread.load(ordering: .acquiring) == Self.currentThread,
      "not on the thread driving this simulation")
  }

  /// Whether jobs are waiting.
  public var hasReadyJobs: Bool { ready.withLock { !$0.isEmpty } }

  /// Marks the calling thread as the one driving this executor (for `checkIsolated`).
  func beginDriving() { drivingThread.store(Self.currentThread, ordering: .releasing) }
  /// Whether the calling thread is the one driving this executor: code running there (a job, a
  /// timer callback, an `inspect` block) is isolated to every actor pinned to it.
  public var isDrivenByCurrentThread: Bool {
    drivingThread.load(ordering: .acquiring) == Self.currentThread
  }
  func endDriving() { drivingThread.store(0, ordering: .releasing) }

  /// Runs every ready job in FIFO order, including jobs those jobs enqueue; returns how many ran.
  @discardableResult
  func drain() -> Int {
    var count = 0
    while readyCount.load(ordering: .acquiring) > 0 {
      let batch = ready.withLock { queue -> [UnownedJob] in
        let batch = queue
        queue.removeAll(keepingCapacity: true)
        return batch
      }
      readyCount.subtract(batch.count, ordering: .releasing)
      for job in batch {
        job.runSynchronously(
          isolatedTo: asUnownedSerialExecutor(), taskExecutor: asUnownedTaskExecutor())
        count += 1
      }
    }
    return count
  }

  static var currentThread: UInt { UInt(bitPattern: Int(bitPattern: pthread_self())) }
}

/// An actor pinned to a simulation's executor (every SIP element is one). Code the simulation
/// runs on its driving thread (a timer callback, a delivery, an `inspect` block) enters it
/// synchronously with ``onDrivingThread(_:)``.
public protocol SimulationActor: Actor {
  /// The executor the actor is pinned to: its `unownedExecutor` must be this one's (derive one
  /// from the other, as the SIP elements do), since ``onDrivingThread(_:)`` checks only this.
  nonisolated var simulationExecutor: SimulationExecutor { get }
}

extension SimulationActor {
  /// Runs `body` isolated to this actor, from code running on the thread that drives its
  /// simulation; traps anywhere else. What `assumeIsolated` does, for an actor whose executor is
  /// known: `assumeIsolated` asked the runtime which executor is current (about 420
  /// instructions) and allocated twice to re-type its throwing closure, and a basic call through
  /// a proxy crosses into an actor this way over a hundred times.
  @inlinable @inline(__always)
  public nonisolated func onDrivingThread<T>(_ body: (isolated Self) -> T) -> T {
    precondition(
      simulationExecutor.isDrivenByCurrentThread,
      "not on the thread driving this actor's simulation")
    // The same cast `assumeIsolated` makes: on the driving thread the actor's state is ours.
    return withoutActuallyEscaping(body) { escapable in
      unsafeBitCast(escapable, to: ((Self) -> T).self)(self)
    }
  }

  /// ``onDrivingThread(_:)`` for the crossings that happen per packet and per timer: `body`
  /// gets `argument` instead of capturing it, so a `body` that captures nothing has no context
  /// and the crossing allocates nothing. (``onDrivingThread(_:)`` re-types a non-escaping
  /// closure through `withoutActuallyEscaping`, which put its context and a reabstraction thunk
  /// on the heap: two allocations per crossing, four per transaction.)
  @inlinable @inline(__always)
  public nonisolated func onDrivingThread<Argument, T>(
    passing argument: consuming Argument, _ body: @escaping (isolated Self, consuming Argument) -> T
  ) -> T {
    precondition(
      simulationExecutor.isDrivenByCurrentThread,
      "not on the thread driving this actor's simulation")
    // The argument is handed over, not lent: a message passed on and changed on the other side
    // (a request the endpoint puts its Via on) stays the only reference to its storage, where
    // a lent one was copied there.
    typealias Call = (Self, consuming Argument) -> T
    return unsafeBitCast(body, to: Call.self)(self, argument)
  }
}
