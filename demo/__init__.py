"""Simulated chargers, cars, meters and a building: the demo site and the test doubles."""
