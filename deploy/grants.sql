-- The app role's rights, run as clinic_owner after every `manage.py migrate` (docker-compose
-- service "grants"; by hand: psql "postgres://clinic_owner@host/clinic" -f deploy/grants.sql).
-- Everything the app needs; the audit trail and its checkpoints: INSERT and SELECT only.
DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO clinic_app', current_database()); END $$;
GRANT USAGE ON SCHEMA public TO clinic_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO clinic_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO clinic_app;
REVOKE UPDATE, DELETE, TRUNCATE ON clinic_auditevent FROM clinic_app;
DO $$
BEGIN
  IF to_regclass('public.clinic_auditcheckpoint') IS NOT NULL THEN
    REVOKE UPDATE, DELETE, TRUNCATE ON clinic_auditcheckpoint FROM clinic_app;
  END IF;
END $$;
