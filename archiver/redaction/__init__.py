"""Redaction for public-records responses: a layer over archived records that never change.

A response set names the capture records that answer a request; redactions mark what of
them is withheld (text spans, author fields, whole media or image regions), each citing an
exemption code, reviewed by a second person. The response package is built from the
redacted content only (`package.py`), so nothing withheld can be recovered from it.
"""
