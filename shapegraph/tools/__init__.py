"""The command line (``shapegraph check/explain/demo/bench``), the demo and the benchmark
harness."""
