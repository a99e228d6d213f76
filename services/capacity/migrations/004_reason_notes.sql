-- Reasons travel as codes; a person's own words stay here, next to the code, and never on Kafka.
ALTER TABLE proposal ADD COLUMN note text;
ALTER TABLE placement ADD COLUMN escalation_note text;
