/// The RFC 3261 §17 transaction layer (and RFC 6026): four pure state machines and the
/// matching rules. Filled in by the transport-and-transaction issue; the namespace exists so the
/// package has its final shape from the start.
public enum SIPTransactionLayer {}
