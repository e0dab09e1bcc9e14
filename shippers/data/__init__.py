"""Data shipped with the package: the built-in catalog, and the demo's tiny MaxMind databases.

``demo-city.mmdb`` / ``demo-asn.mmdb`` are demo data (their metadata says so): made-up places and
networks for the documentation address ranges the samples use, so ``authlog demo`` shows geo.
``python -m shippers.testing.geo_databases`` rebuilds them. Never use them for real traffic.
"""

from pathlib import Path

FOLDER = Path(__file__).parent
DEMO_CITY_FILE = "demo-city.mmdb"
DEMO_ASN_FILE = "demo-asn.mmdb"
