#!/usr/bin/env bash
# Development secrets for `docker compose`, made once per machine into var/docker/ (never committed),
# as `make demo` makes var/demo/intake-secrets.env: compose refuses to start without these files.
#   postgres.env        POSTGRES_PASSWORD for the postgres container, PGPASSWORD (the same) for the
#                       services, which leave the password out of their database URLs
#   intake-secrets.env  SCHAKEL_CLIENT_REF_SECRET and SCHAKEL_ENCRYPTION_KEY (intake only)
#   grafana.env         GF_SECURITY_ADMIN_PASSWORD
# An existing file is kept: a new PostgreSQL password would not match the initialised database, and a
# new pseudonym key would unlink every client_ref (docs/operations.md, "Intake's secrets").
# SCHAKEL_DOCKER_SECRETS puts the files elsewhere.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${SCHAKEL_DOCKER_SECRETS:-$REPO/var/docker}"
mkdir -p "$DIR"
umask 077

hex() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
# A Fernet key: URL-safe base64 of 32 random bytes.
fernet() { head -c 32 /dev/urandom | base64 | tr '+/' '-_'; }

write() {  # file, then its lines; only when the file is missing or empty
    local file="$DIR/$1"
    shift
    if [[ -s "$file" ]]; then
        echo "kept    $file"
    else
        printf '%s\n' "$@" >"$file"
        echo "created $file"
    fi
}

password="$(hex)"
write postgres.env "POSTGRES_PASSWORD=$password" "PGPASSWORD=$password"
write intake-secrets.env "SCHAKEL_CLIENT_REF_SECRET=$(hex)" "SCHAKEL_ENCRYPTION_KEY=$(fernet)"
write grafana.env "GF_SECURITY_ADMIN_PASSWORD=$(hex)"
