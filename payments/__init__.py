"""The double-entry ledger: accounts, transactions, postings, deposits, payouts."""
