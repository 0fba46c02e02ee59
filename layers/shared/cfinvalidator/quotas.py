"""AWS's limits the service plans around, in one place (docs/aws-behaviour.md).

Only limits AWS imposes live here; the service's own bounds and knobs (how far back and how many
pages it reads, sample sizes, backoff) stay with the code that chooses them. This module imports
nothing, so every other module may import it.
"""

from typing import Final

# CloudFront invalidations, per distribution.
MAX_IN_PROGRESS_FILES: Final = 3000  # file (non-wildcard) paths in progress at once
MAX_IN_PROGRESS_WILDCARDS: Final = 15  # wildcard paths in progress at once
MAX_PATHS_PER_REQUEST: Final = 3000  # paths of one request, wildcards included (BatchTooLarge)
MAX_PATH_LENGTH: Final = 4000  # characters of one invalidation path
LIST_INVALIDATIONS_PAGE_SIZE: Final = 100  # ListInvalidations' largest MaxItems

# Step Functions.
MAX_EXECUTION_NAME_LENGTH: Final = 80

# SQS.
MAX_BATCH_ENTRIES: Final = 10  # entries of one ChangeMessageVisibilityBatch / SendMessageBatch
