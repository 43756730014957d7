"""Oversight across the agency tree: who holds every late document, from the city down to a
ward, a unit and a person (mandates, the oversight projection, its queries and reports)."""
