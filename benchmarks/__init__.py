"""Measurements of the product: ``speed/`` (how fast, how much memory) and ``quality/`` (how
well it answers). Run each from the repository root as a module, e.g.
``python -m benchmarks.speed.query_latency``; see README.md here.
"""
