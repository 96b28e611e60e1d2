"""The ledger's rules, held by PostgreSQL itself (as django-hordak's `check_leg` trigger does):

- the postings of a transaction sum to zero in every currency, and a transaction has at least two postings:
  deferred constraint triggers, checked at COMMIT, so the postings may be inserted one by one;
- a posting's currency is its account's;
- postings and transactions are append-only: UPDATE and DELETE are refused (TRUNCATE, used only by test flushes,
  fires no row triggers).

Errors carry SQLSTATE class 23 (integrity), which Django raises as `IntegrityError`. SQLite, the embedded
development database, gets none of this; the Python writer (`ledger_post`) checks the same rules everywhere.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION payments_posting_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT currency, SUM(amount) AS total INTO bad
      FROM payments_posting WHERE transaction_id = NEW.transaction_id
     GROUP BY currency HAVING SUM(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: postings of transaction % sum to % %, not zero',
            NEW.transaction_id, bad.total, bad.currency USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER payments_posting_balanced
    AFTER INSERT ON payments_posting DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payments_posting_check_balanced();

CREATE FUNCTION payments_transaction_check_legs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COUNT(*) FROM payments_posting WHERE transaction_id = NEW.id) < 2 THEN
        RAISE EXCEPTION 'ledger: transaction % has fewer than two postings', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER payments_transaction_has_legs
    AFTER INSERT ON payments_transaction DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payments_transaction_check_legs();

CREATE FUNCTION payments_posting_check_currency() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.currency IS DISTINCT FROM (SELECT currency FROM payments_account WHERE id = NEW.account_id) THEN
        RAISE EXCEPTION 'ledger: posting in % on an account in another currency', NEW.currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER payments_posting_currency
    BEFORE INSERT ON payments_posting
    FOR EACH ROW EXECUTE FUNCTION payments_posting_check_currency();

CREATE FUNCTION payments_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % on % refused; rows are append-only, post a reversing transaction',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER payments_posting_append_only
    BEFORE UPDATE OR DELETE ON payments_posting
    FOR EACH ROW EXECUTE FUNCTION payments_refuse_change();

CREATE TRIGGER payments_transaction_append_only
    BEFORE UPDATE OR DELETE ON payments_transaction
    FOR EACH ROW EXECUTE FUNCTION payments_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS payments_transaction_append_only ON payments_transaction;
DROP TRIGGER IF EXISTS payments_posting_append_only ON payments_posting;
DROP FUNCTION IF EXISTS payments_refuse_change();
DROP TRIGGER IF EXISTS payments_posting_currency ON payments_posting;
DROP FUNCTION IF EXISTS payments_posting_check_currency();
DROP TRIGGER IF EXISTS payments_transaction_has_legs ON payments_transaction;
DROP FUNCTION IF EXISTS payments_transaction_check_legs();
DROP TRIGGER IF EXISTS payments_posting_balanced ON payments_posting;
DROP FUNCTION IF EXISTS payments_posting_check_balanced();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # None: the "%" in the messages are not placeholders

    return run


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)]
