// STUB owned by the parser work: replaced by `sipsim bench parse`.
enum ParseBench {
  static func run(_ arguments: [String]) -> Int32 {
    CLI.fail("bench parse is not built yet")
    return 1
  }
}
