"""On-demand benchmarks: ltv against pyHanko's own API, measured side by side in one run.

Run ``python -m benchmarks.run [--quick] [--only verify|sign|startup] [--json FILE]``; see
``benchmarks/README.md``. Nothing here is a test: no timing is ever asserted.
"""
