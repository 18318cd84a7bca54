"""Live benchmarks: a real Home Assistant with the integration, simulated OCPP charge points and
a Modbus meter, all over loopback. See `scripts/benchmark-live` and
benchmarks/results/live.md.
"""
