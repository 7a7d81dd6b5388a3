"""Tools that write shipped files (see README.md here)."""
