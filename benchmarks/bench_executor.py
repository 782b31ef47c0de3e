"""End-to-end forward latency against ONNX Runtime, PyTorch eager and the numpy reference.

Run: ``python benchmarks/bench_executor.py [--quick]`` (the same as ``shapegraph bench``).
The harness itself is ``shapegraph.tools.bench``; results are in benchmarks/README.md.
"""

from shapegraph.tools.bench import main

if __name__ == "__main__":
    main()
