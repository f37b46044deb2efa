"""Package discovery for `pip install .` (everything else is in pyproject.toml).

pyproject.toml alone cannot both find `app`'s subpackages and map a folder outside `app/` into it:
the Alembic scripts live at the root (`migrations/`, where `alembic` and the source tree expect
them) and are installed as `app.migrations`, where app/migrate.py finds them in an installed copy.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["app", "app.*"]), "app.migrations", "app.migrations.versions"],
    package_dir={"app.migrations": "migrations"},
)
