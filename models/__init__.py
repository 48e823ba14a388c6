"""Shipped model files and their cards; installed as the package ``flowzip.models``."""
