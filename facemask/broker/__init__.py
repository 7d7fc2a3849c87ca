"""Many machines: camera workers, an aggregator and image tasks on RabbitMQ.

* ``connection``: the broker URL and credentials, the topology (exchange and queues), reconnects;
* ``publisher``: a thread that publishes persistent, confirmed messages and buffers them while
  the broker is away;
* ``worker``: ``python -m facemask worker``, cameras (one durable message each, kept unacknowledged
  while the camera runs) and image tasks;
* ``aggregate``: ``python -m facemask aggregate``, events and samples into SQLite, idempotently,
  and the web page for every camera of every worker;
* ``tasks``: ``python -m facemask submit``, an image folder split into tasks, results merged;
* ``control``: ``python -m facemask camera add|remove|update``, cameras changed by a message.
"""
