// STUB owned by the parser work: replaced by `sipsim parse FILE...`.
enum ParseCommand {
  static func run(_ arguments: [String]) -> Int32 {
    CLI.fail("parse is not built yet")
    return 1
  }
}
