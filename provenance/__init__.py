"""Provenance of every image isegan makes, shared by the service and the CLI: synthetic-
media labels (XMP) and provenance records, C2PA Content Credentials, the hash-chained
audit log, the installation's signing key and record numbers, chain-of-custody fields
and the invisible watermark."""
