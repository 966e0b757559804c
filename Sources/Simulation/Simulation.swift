/// Simulation: the SIP-agnostic deterministic kernel.
public enum SimulationLayer {}
