-- One database per service plus the shared API-key store, as deploy/local/postgres.sh creates them.
CREATE DATABASE schakel_intake;
CREATE DATABASE schakel_contracting;
CREATE DATABASE schakel_capacity;
CREATE DATABASE schakel_monitoring;
CREATE DATABASE schakel_auth;
