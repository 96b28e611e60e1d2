"""The services of the payments app: the only code that writes to the ledger. Import from the topic modules:

- `payments.services.ledger`: `ledger_post`, `ledger_lock`, `account_*` get-or-create helpers, `transaction_reverse`;
- `payments.services.escrow`: `escrow_fund`, `escrow_reserve`, `escrow_pay_worker`, `escrow_pay_reward`,
  `escrow_refund`, `bonus_pay`;
- `payments.services.deposits`: `deposit_create`;
- `payments.services.payouts`: `payout_request`, `payout_send`, `payout_record_outcome`, `payout_resume_stuck`.
"""
