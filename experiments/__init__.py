"""Experiments that shipped nothing, kept so their figures can be reproduced (see README.md)."""
