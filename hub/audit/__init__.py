"""The audit trail: every transfer and every sensitive act, hash-chained and signed."""
