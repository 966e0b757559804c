// STUB owned by the kernel work: replaced by a small built-in demo of the simulation kernel.
enum KernelDemo {
  static func run(_ arguments: [String]) -> Int32 {
    print("SIPSim: the simulation kernel is not built yet.")
    return 0
  }
}
