import Testing

@testable import sipsim

/// What benchmarks report as the allocator's cache depth comes from `GLIBC_TUNABLES` as glibc
/// reads it: colon-separated `name=value` pairs, the default (7) when the cache's is absent.
@Test(arguments: [
  ("glibc.malloc.tcache_count=1000", 1000),
  ("", 7),
  ("glibc.malloc.mxfast=160", 7),
  ("glibc.malloc.mxfast=160:glibc.malloc.tcache_count=64", 64),
  ("glibc.malloc.tcache_count=lots", 7),
])
func allocatorCacheCountIsReadFromTheTunables(tunables: String, expected: Int) {
  #expect(AllocatorTuning.cacheCount(in: tunables) == expected)
}

/// The setting `sipsim` restarts itself with is one glibc reads as a cache of 1,000 blocks.
@Test func theSettingGivesAThousandBlocks() {
  #expect(AllocatorTuning.cacheCount(in: AllocatorTuning.setting) == 1000)
}
