# This folder is also the package cs20lib.benchmark_results (pyproject.toml's package-dir): the wheel carries the
# benchmarks' figures of record, which the notebooks and the README quote (cs20lib.course.recorded_result).
