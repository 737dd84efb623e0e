"""Test session plumbing: real SeaweedFS (S3 with Object Lock) and PostgreSQL fixtures."""

pytest_plugins = ["tests.fixtures.seaweed", "tests.fixtures.backends"]
