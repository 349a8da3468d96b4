"""Create Neutron's tables from its models (run with the services venv's python).

Neutron's alembic migrations ALTER constraints, which SQLite cannot do; the lab builds
the schema from the models instead and then stamps alembic at ``heads``.
usage: python neutron_schema.py sqlite:////abs/path/neutron.db
"""

import sys

import sqlalchemy
from neutron.db.migration.models import head

engine = sqlalchemy.create_engine(sys.argv[1])
head.get_metadata().create_all(engine)
print("neutron tables:", len(sqlalchemy.inspect(engine).get_table_names()))
