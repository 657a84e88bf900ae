"""The migrations build exactly the schema `dealerflow/models.py` declares: a table, column, index or
constraint added to one and not the other shows here, not in production."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dealerflow.models import Base


def test_the_migrated_database_matches_the_models(sessions):
    with sessions() as s:
        context = MigrationContext.configure(s.connection(), opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
