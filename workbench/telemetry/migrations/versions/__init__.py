"""Revision scripts (loaded by Alembic from this folder, never imported by Workbench)."""
