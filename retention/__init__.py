"""Retention rules as pure code: policies, legal holds, what a disposition run may do.

Imports nothing of `archiver`'s I/O (no Flask, SQL or boto3): rules over plain data,
readable and testable alone (tests/retention/test_layering.py holds it to that).
"""
