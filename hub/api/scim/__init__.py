"""SCIM 2.0 service provider (RFC 7643/7644): employees as SCIM Users."""
