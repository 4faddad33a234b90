"""Time the submit of a 50,000-product Shopify export against a bucket of 50,000 catalogue objects
(`assetgen bench`'s catalogue_submit_s, without the other phases).

Uses the ASSETGEN_* configuration (migrated first); unset means the embedded defaults. Fills the
bucket first (untimed; fixed keys, so a rerun adds only what is missing: real photos for one
product in five, the rest other SKUs'), then times service.submit of the export's text (read it,
list the bucket's catalogue once, plan, one transaction with the job, its items, outbox rows, the
row outcomes by COPY on PostgreSQL and the SKU upserts), and cancels the job. Prints JSON.
Usage: python scripts/measure_catalogue_submit.py [PRODUCTS [OBJECTS]]
"""

import json
import sys

from jobs.bench.inproc import catalogue_submit
from jobs.db.engine import create_db_engine, create_session_factory, upgrade
from jobs.settings import load_settings
from jobs.storage import create_store


def main(products: int, objects: int) -> None:
    settings = load_settings()
    upgrade(settings)
    sf = create_session_factory(create_db_engine(settings))
    out = catalogue_submit(sf, settings, create_store(settings), products, objects, "t-shirt")
    out["database"] = settings.database_url.split("://")[0]
    out["storage"] = settings.bucket_url()[:5]
    print(json.dumps(out))


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args + [50_000, 50_000][len(args) :]))
