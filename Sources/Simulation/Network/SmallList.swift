/// A list whose first two members sit inline, beside its owner; any more go to an array.
///
/// A host record keeps lists that nearly always hold one or two members (its datagram sockets,
/// its listening points). An array each cost a heap block of 48 to 64 bytes per host, and a
/// scenario of a million agents has a million hosts. Order is the order of appending, so
/// iterating one is as deterministic as iterating an array.
struct SmallList<Element>: Sequence {
  // Invariant: `second` is set only when `first` is, and `more` is not empty only when both are.
  private(set) var first: Element?
  private var second: Element?
  private var more: [Element] = []

  init() {}

  var isEmpty: Bool { first == nil }

  var count: Int { first == nil ? 0 : second == nil ? 1 : 2 + more.count }

  var underestimatedCount: Int { count }

  mutating func append(_ element: Element) {
    if first == nil {
      first = element
    } else if second == nil {
      second = element
    } else {
      more.append(element)
    }
  }

  /// Removes the members for which `isRemoved` holds; the others keep their order.
  mutating func removeAll(where isRemoved: (Element) -> Bool) {
    var kept = SmallList()
    for element in self where !isRemoved(element) { kept.append(element) }
    self = kept
  }

  func makeIterator() -> Iterator { Iterator(list: self) }

  struct Iterator: IteratorProtocol {
    let list: SmallList
    var position = 0

    mutating func next() -> Element? {
      defer { position += 1 }
      switch position {
      case 0: return list.first
      case 1: return list.second
      default:
        let index = position - 2
        return index < list.more.count ? list.more[index] : nil
      }
    }
  }
}
