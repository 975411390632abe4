"""The Alembic migrations, shipped inside the installed package so ``flask db upgrade`` works
outside a checkout (``core.MIGRATIONS_DIR`` finds them next to ``core``)."""
