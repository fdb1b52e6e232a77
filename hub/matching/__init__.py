"""Match & merge: find the golden record each inbound record belongs to."""
