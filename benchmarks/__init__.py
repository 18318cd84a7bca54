"""The site simulator and the benchmark: the engine's controller against a simulated site."""
