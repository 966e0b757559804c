// STUB owned by the kernel work: replaced by `sipsim bench kernel`.
enum KernelBench {
  static func run(_ arguments: [String]) -> Int32 {
    CLI.fail("bench kernel is not built yet")
    return 1
  }
}
