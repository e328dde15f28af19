"""What the tests and the benchmarks share, outside the course's package: scratch databases."""
