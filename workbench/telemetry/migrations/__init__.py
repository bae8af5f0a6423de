"""The telemetry store's schema migrations (Alembic): ``env.py`` and one script per revision in ``versions/``.

Revision ``0001`` is the schema every store had before migrations existed (the ``events`` table, its indexes
and the append-only triggers); ``0002`` adds the erasure audit log and the gate that lets an audited erasure
delete one learner's events. Run them with :func:`workbench.telemetry.migrate.upgrade_store` or
``workbench telemetry migrate``; stores also upgrade themselves when opened.
"""
