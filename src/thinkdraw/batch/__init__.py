"""Many prompts at once: resumable batch generation on local worker processes or a Ray cluster (docs/scale.md).

``run_batch`` draws; ``pool.run_local`` / ``ray_backend.run_ray`` run any picklable task over many items and
``journal.Journal`` keeps their results on disk whole (``thinkdraw eval`` uses the same three).
"""

from thinkdraw.batch.journal import Journal
from thinkdraw.batch.pool import PoolError, run_local
from thinkdraw.batch.run import (
           BatchError,
           BatchItem,
           BatchRecord,
           BatchSettings,
           BatchSummary,
           load_records,
           read_prompts,
           run_batch,
)

__all__ = ["BatchError", "BatchItem", "BatchRecord", "BatchSettings", "BatchSummary", "Journal", "PoolError",
           "load_records", "read_prompts", "run_batch", "run_local"]
