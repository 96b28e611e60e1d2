"""API of the qualification app: `requester` (define tests, manage grants) and `work` (take tests).

No worker-facing response carries answer keys, question ids, or which answers were right (a per-question verdict
would let a worker recover the keys over retakes): workers get their score only.
"""
