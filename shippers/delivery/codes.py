"""Dead-letter codes: why the core put an event in a sink's DLQ (metric label values, a closed set)."""

CODE_INVALID = "invalid_for_destination"  # check_item refused it before sending, or the adapter failed on it
CODE_REJECTED = "rejected_by_destination"  # the destination refused this item
CODE_REQUEST_REJECTED = "request_rejected"  # the destination refused the whole request
CODE_TOO_LARGE = "too_large"  # a single item still too large after splitting
CODE_UNDECODABLE = "undecodable"  # the stored bytes do not decode (bit rot, a foreign writer): kept as stored, withheld
