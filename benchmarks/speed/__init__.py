"""Speed, memory and load benchmarks (see ../README.md)."""
