-- The Kafka headers of each event, fixed when it is enqueued: the CloudEvents attributes
-- (ce_type, ce_id, ce_correlationid) and the W3C trace context (traceparent, tracestate) of the
-- transaction that wrote it, which the relay, running later in a task of its own, cannot know.
-- Rows written before this column have none; the relay derives their CloudEvents headers.
ALTER TABLE outbox ADD COLUMN headers jsonb;
