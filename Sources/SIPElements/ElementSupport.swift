import SIPTransaction
import Simulation
import Synchronization

/// How an element writes to the trace: every event carries its `element` name, and the fields
/// are built only when the trace records (they cost more than the rest of a transaction when
/// it does not). One for every actor, so the trace looks the same whoever writes it.
struct ElementTrace: Sendable {
  let network: Network
  let element: String

  func record(_ event: String, _ fields: @autoclosure () -> [(String, TraceValue)]) {
    let trace = network.trace
    guard trace.isRecording else { return }
    trace.record(
      TraceEvent(
        time: network.simulation.now.microseconds, event: event,
        fields: [("element", .string(element))] + fields()))
  }

  func log(_ text: @autoclosure () -> String) {
    record("log", [("text", .string(text()))])
  }
}

/// How callbacks set up in an actor's `init` (sockets, an endpoint's core) find the actor, which
/// does not exist yet when they are made; set once every stored property is. Weak: the owner of
/// an element keeps it alive, not its sockets. Used on the driving thread only.
final class WeakBox<Element: AnyObject>: @unchecked Sendable {
  weak var value: Element?
}

extension SIPEndpoint {
  /// Makes `box`'s element the core of `endpoint`: every ``TransactionEvent`` runs its `handle(_:)`
  /// isolated to it, on the driving thread, without a `Task`.
  ///
  /// Inlined into each element's `init`, so the isolated call is specialized for the element's
  /// type: run generically, it allocated twice for every event.
  @inline(__always)
  static func attach<Element: TransactionCore>(
    _ endpoint: SIPEndpoint, on simulation: Simulation, to box: WeakBox<Element>
  ) {
    simulation.inspect {
      endpoint.onDrivingThread { endpoint in
        endpoint.setCore { _, event in
          // A body that captures nothing: the handler passed along with the event (a function
          // value in a generic argument) was reabstracted into a new context every event.
          box.value?.onDrivingThread(passing: event) { element, event in element.handle(event) }
        }
      }
    }
  }
}

/// An element whose endpoint hands it every ``TransactionEvent``, isolated to it.
protocol TransactionCore: SimulationActor {
  func handle(_ event: TransactionEvent)
}

/// Immutable settings that the elements of one network share by reference. A topology's
/// elements mostly have equal settings, and a million agents each holding its own copy cost
/// tens of bytes apiece for each kind of setting.
///
/// Per network and per kind, the last box made is reused while elements keep being made with
/// equal values. Boxes are immutable, so sharing one changes nothing a run can observe; keeping
/// them per network keeps simulations that run side by side from trading boxes. Bounded: the
/// table is emptied when it holds many entries (an entry is only a hint).
enum SharedSettings {
  private struct Key: Hashable {
    let network: ObjectIdentifier
    let kind: ObjectIdentifier
  }
  private static let lastBox = Mutex<[Key: any AnyObject & Sendable]>([:])

  /// The last `Box` made on `network` when `reusable` accepts it, else a new one from `make`.
  static func box<Box: AnyObject & Sendable>(
    on network: Network, reusable: (Box) -> Bool, make: () -> Box
  ) -> Box {
    lastBox.withLock { table in
      let key = Key(network: ObjectIdentifier(network), kind: ObjectIdentifier(Box.self))
      if let box = table[key] as? Box, reusable(box) { return box }
      let box = make()
      if table.count >= 256 { table.removeAll() }
      table[key] = box
      return box
    }
  }
}
