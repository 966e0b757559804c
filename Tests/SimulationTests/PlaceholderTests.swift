import Simulation
import Testing

// Replaced by the kernel tests.
@Test func simulationModuleLinks() {
  #expect(String(describing: SimulationLayer.self) == "SimulationLayer")
}
