/// The element actors (user agents, proxies, registrar, redirect server, B2BUA). Filled in by the
/// user-agent and server issues.
public enum SIPElementsLayer {}
