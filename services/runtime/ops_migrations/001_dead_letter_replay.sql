-- Every replay of a dead letter: which one, by whom and why (python -m services.runtime.deadletters).
CREATE TABLE dead_letter_replay (
    id             bigserial PRIMARY KEY,
    dead_letter    text NOT NULL,          -- <dlq topic>/<partition>/<offset>
    original_topic text NOT NULL,
    event_id       text,                   -- the envelope's id, when the message had one
    replayed_by    text NOT NULL,          -- a team handle
    reason         text NOT NULL,
    replayed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letter_replay_ref ON dead_letter_replay (dead_letter);
