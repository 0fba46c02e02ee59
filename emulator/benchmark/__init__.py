"""The benchmark: workloads x strategies on the simulation, the handler's own figures, and the
report and chart written to docs/benchmarks.md."""
