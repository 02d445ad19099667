#!/bin/bash
# PostgreSQL's first start (docker-entrypoint-initdb.d): the dose database and Orthanc's own index
# and storage database, each owned by a user of its own (neither a superuser), so that the
# extraction workers' credentials cannot touch Orthanc's index, nor Orthanc's the dose data.
# The passwords come from the files *_FILE names (postgres:15) or, read by the entrypoint of
# docker/Dockerfile.postgres, from the variables themselves.
set -euo pipefail
dose_password="${DOSE_DB_PASSWORD:-$(<"$DOSE_DB_PASSWORD_FILE")}"
index_password="${ORTHANC_INDEX_PASSWORD:-$(<"$ORTHANC_INDEX_PASSWORD_FILE")}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v dose_password="$dose_password" -v index_password="$index_password" <<'SQL'
CREATE USER orthanc_rem WITH PASSWORD :'dose_password';
CREATE DATABASE orthanc_rem OWNER orthanc_rem ENCODING 'UTF8';
CREATE USER orthanc WITH PASSWORD :'index_password';
CREATE DATABASE orthanc_index OWNER orthanc ENCODING 'UTF8';
SQL
