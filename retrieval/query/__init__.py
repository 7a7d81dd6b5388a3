"""The read path: candidates fused into passages, the answer sentence marked, confidence."""
