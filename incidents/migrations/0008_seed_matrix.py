"""The jurisdiction matrix: every US state, DC and the territories, the sector regimes and
the countries beyond the EU, from incidents/regime_data.py (readable there as a table).

`manage.py seed_regimes` runs the same loader again after a data correction.
"""

from django.db import migrations


def seed(apps, schema_editor):
    from incidents.regime_data import regimes_seed

    regimes_seed(apps)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0007_jurisdiction_matrix")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
