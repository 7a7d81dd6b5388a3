"""The write path every backend shares: the plan, chunk preparation, the embedding cache."""
