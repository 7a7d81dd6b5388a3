"""Quality evaluations: figures of how well the product answers (see ../README.md)."""
