"""Own, offer, agree and enforce: participants, policies, agreements, the read door, audit."""
