-- A maatwerk contract may carry out a doorbraak decision of capacity's expert team (issue 16):
-- one contract per decision, so a retried POST /v1/contracts finds the contract it made.
ALTER TABLE contract ADD COLUMN decision_id uuid;
CREATE UNIQUE INDEX contract_one_per_decision ON contract (decision_id) WHERE decision_id IS NOT NULL;
