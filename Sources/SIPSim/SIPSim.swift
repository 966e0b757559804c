/// The layer users script against: topologies, scenarios and trace renderers. Filled in by the
/// topology issue.
public enum SIPSimLayer {}
