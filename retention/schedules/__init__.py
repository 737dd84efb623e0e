"""Seed data: well-known records schedule items an agency loads and adapts (`seed.json`)."""
