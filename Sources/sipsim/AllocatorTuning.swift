#if canImport(Glibc)
  import Glibc
#endif

/// The allocator setting `sipsim` runs with: glibc's per-thread cache of freed blocks holds 7
/// blocks of each size by default, and a simulation frees messages, header arrays and
/// transactions in bursts far longer than that, so most frees and allocations fell through to
/// the allocator's shared bins (`_int_malloc`, `_int_free`, `malloc_consolidate`: about a tenth
/// of the time of every benchmark). A cache of 1,000 blocks per size measured 7–9% more calls,
/// transactions and registrations per second; nothing observable changes (the trace never
/// depends on where memory lies).
///
/// glibc reads the setting from the environment (`GLIBC_TUNABLES`) only when a process starts,
/// so `sipsim` starts itself again once with it set. A `GLIBC_TUNABLES` already in the
/// environment, even empty, is left as it is and nothing is restarted: that is how to run
/// without the setting, or with one's own.
enum AllocatorTuning {
  static let variable = "GLIBC_TUNABLES"
  static let setting = "glibc.malloc.tcache_count=1000"
  /// glibc's default cache depth, reported when the environment sets none.
  static let defaultCacheCount = 7

  /// Restarts the process with ``setting`` when the environment has no `GLIBC_TUNABLES`;
  /// returns (and the process goes on as it is) when it has one or the restart fails.
  static func restartIfUntuned() {
    #if canImport(Glibc)
      guard getenv(variable) == nil else { return }
      setenv(variable, setting, 1)
      // Replaces this process on success; `/proc/self/exe` is this very program whatever
      // path or name it was started by.
      execv("/proc/self/exe", CommandLine.unsafeArgv)
      // Still here: run untuned, and do not hand the setting to anything started later.
      unsetenv(variable)
    #endif
  }

  /// The cache depth in effect: the `glibc.malloc.tcache_count` the environment gives, or
  /// glibc's default. Benchmarks report it with their figures.
  static var cacheCount: Int {
    #if canImport(Glibc)
      guard let raw = getenv(variable) else { return defaultCacheCount }
      return cacheCount(in: String(cString: raw))
    #else
      return defaultCacheCount
    #endif
  }

  /// The `glibc.malloc.tcache_count` of a `GLIBC_TUNABLES` value (colon-separated
  /// `name=value` pairs), or glibc's default when it has none.
  static func cacheCount(in tunables: String) -> Int {
    for pair in tunables.split(separator: ":") {
      let parts = pair.split(separator: "=", maxSplits: 1)
      if parts.count == 2, parts[0] == "glibc.malloc.tcache_count", let value = Int(parts[1]) {
        return value
      }
    }
    return defaultCacheCount
  }
}
