"""The balancing engine: pure Python, no Home Assistant, no I/O, time passed in."""
