/// SIPCore: SIP messages as bytes (RFC 3261 §7, §19, §20, §25), SDP (RFC 4566) and digest math
/// (RFC 2617 / 7616). Pure value types; no Foundation, no time, no I/O.
public enum SIPCoreLayer {}
