"""What the file connectors (csv, fixedwidth, xml) share: the file connector base, atomic
rewrites, drop folders, batching with a content hash, the key index and text decoding."""
