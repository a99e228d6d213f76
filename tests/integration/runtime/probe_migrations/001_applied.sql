CREATE TABLE applied (seq bigserial PRIMARY KEY, event_id uuid NOT NULL, setting text NOT NULL);
