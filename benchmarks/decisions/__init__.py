"""One-question records: each measures what a default of the codec or its training costs and saves."""
