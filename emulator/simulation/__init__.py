"""A deterministic discrete-event simulation of the whole pipeline, in simulated time.

S3 uploads -> SQS (standard queue with a redrive policy) -> the Lambda event source mapping
(batch size, batching window, maximum concurrency) -> a batch handler (by default this service's
``process_batch`` with its real ``Boto3InvalidationApi``) -> CloudFront (moto behind
:class:`~emulator.local_aws.cloudfront.FaithfulCloudFront`) -> the completion tracker ->
notifications.

Nothing waits in real time: the event loop jumps the simulated clock to the next instant at
which something can happen (an upload is delivered, an invisible message becomes visible again,
a batching window closes, an invocation ends, a scheduled action is due), so 100,000 uploads take
seconds plus the handler's own CPU time. Everything is deterministic given ``SimSettings.seed``:
message IDs, the service's jitter, CloudFront completion samples and moto's invalidation IDs
(moto's global ``mock_random`` is seeded when the simulation starts).

What is faithful to AWS (see docs/aws-behaviour.md):

- Each upload is one SQS message whose body is an S3 event notification with one record, as S3
  writes it: ``eventTime`` in milliseconds with ``Z``, the key form-encoded (space as ``+``,
  ``+`` as ``%2B``, ``/`` kept), a ``sequencer`` that increases with every change.
- The queue: a receive hides a message for the visibility timeout, increments its
  ApproximateReceiveCount and issues a new receipt handle; ChangeMessageVisibility works on
  in-flight messages with their latest receipt handle; a receive that would take a message past
  ``maxReceiveCount`` moves it to the dead-letter queue instead (the redrive policy).
- The event source mapping gathers visible messages from the moment the first is available and
  invokes when ``batch_size`` records (or about 6 MB of payload) are gathered or the batching
  window has elapsed (window 0: at once); at most ``max_concurrency`` invocations run at a time.
  After an invocation, records not reported in ``batchItemFailures`` are deleted; if the handler
  raises, runs past the function timeout or names IDs outside the batch, nothing is deleted.
- The tracker polls GetInvalidation at its start and then every ``poll_interval_seconds``; it
  notifies COMPLETED at the first poll at or after the invalidation completes, or TIMED_OUT at
  the first poll once ``completion_timeout_seconds`` have been waited. StartExecution with a name
  already used is idempotent (True) while that execution runs with the same input, and otherwise
  fails with ExecutionAlreadyExists (False), as on AWS.

Approximations (each documented where it is made):

- An invocation's handler runs atomically at its start instant: its AWS calls happen at the
  start plus whatever it slept (retry backoff). The invocation then lasts
  ``invocation_seconds`` plus that sleep; its records are deleted at its end. With concurrent
  invocations the clock therefore steps back to the event loop's time after a handler slept, so
  a concurrent invocation that starts during that sleep sees the effects of calls made "later".
- A handler that runs past the function timeout is not cut short: its calls all happen, but
  Lambda's view (timed out, nothing deleted) is applied.
- The invocation payload is estimated as each body, JSON-escaped, plus a fixed record overhead.
- Receives hand out the oldest-visible messages first, and one poller gathers for all
  invocation slots (a new window opens when an invocation takes the records gathered so far).

The modules: ``settings`` (uploads, settings, limits), ``uploads`` (the S3 event an upload
becomes), ``queue`` (SQS), ``services`` (tracker and topic), ``handler`` (what a batch handler
is, and this service's), ``report`` (judging a finished run), ``engine`` (the event loop),
``workloads`` (seeded upload workloads).

Using it: ``with Simulation(uploads, SimSettings(...), handler=...) as sim`` starts moto,
creates the distributions, installs the fake and builds the service's ``Config`` and ``Ports``;
prepare with ``sim.occupy(...)``, ``sim.at(t, action)``, ``sim.cloudfront_fake.inject(...)`` or
``.throttle_after(...)``, ``sim.tracker.fail_next``; then ``report = sim.run()``. ``simulate``
does all of that in one call. A handler is any :class:`BatchHandler`: the default,
:class:`ServiceHandler`, runs ``process_batch``; a benchmark strategy can call CloudFront itself
through ``context.cloudfront`` and start trackers through ``context.tracker``.

The report judges outcomes from CloudFront's side, whatever the handler claims: an upload is
covered when each of its viewer paths (``paths_for_key``) is named, on every distribution, by an
invalidation created at or after the upload (exactly, or by a wildcard's prefix; compared
decoded); a covered or dead-lettered upload is not lost; every other one is.
"""
