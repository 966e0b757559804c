/// RFC 3261 §18 and RFC 3581: the `Transport` seam between elements and a network (simulated or
/// real). Filled in by the transport-and-transaction issue.
public enum SIPTransportLayer {}
