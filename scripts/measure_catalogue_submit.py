"""Time the submit of a 10,000-row catalogue-fill job (issue 7's catalogue_submit_s).

Uses the ASSETGEN_* configuration (migrated first); unset means the embedded defaults. Prints JSON:
the wall time of service.submit (validate, one bucket listing, plan, one transaction with the job, its
items, outbox rows, 10,000 row outcomes and 10,000 SKU upserts) for a fresh catalogue and for the
same catalogue again. Usage: python scripts/measure_catalogue_submit.py [ROWS]
"""
import json
import sys
import time
import uuid

from jobs import service
from jobs.db.engine import create_db_engine, create_session_factory, upgrade
from jobs.settings import load_settings


def main(n: int) -> None:
    settings = load_settings()
    upgrade(settings)
    sf = create_session_factory(create_db_engine(settings))
    run = uuid.uuid4().hex[:6]
    spec = {"kind": "catalogue_fill", "priority": "bulk", "mapping": {"Sneakers": "sneaker", "Bags": "bag"},
            "rows": [{"sku": f"M{run}-{i:05d}", "category": ("Sneakers", "Bags", "dress")[i % 3],
                      "title": f"Product {i}"} for i in range(n)]}
    out = {"rows": n, "database": settings.database_url.split("://")[0], "storage": settings.bucket_url()[:5]}
    for label in ("fresh", "again"):
        start = time.perf_counter()
        job = service.submit(sf, settings, spec)
        out[f"{label}_submit_s"] = round(time.perf_counter() - start, 3)
        out[f"{label}_items"] = job.total_items
    print(json.dumps(out))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
