-- codevec: embeddings kept in sync with their text by triggers, a durable queue and
-- background workers (or CALL codevec.sync()). Design and costs: docs/sync.md.
--
-- A row needs an embedding when its text is not NULL and its embedding is NULL. A row is
-- found again by the SHA-256 of its text (codevec.text_digest), through a partial index
-- `(codevec.text_digest(text)) WHERE embedding IS NULL` that enable_sync creates on the
-- table: it holds only the rows still waiting, and it needs no key, so tables without a
-- primary key, partitions and inheritance children work alike, and VACUUM FULL, CLUSTER or
-- a dump and restore (which move every ctid) lose nothing. Writing back
-- `SET emb = e WHERE text_digest(text) = d AND emb IS NULL` can only ever write the
-- embedding of the text the row holds at that moment: a text changed while it was queued
-- or being embedded no longer matches, and its new digest is queued by the trigger.
--
-- Everything here runs as the calling user (the workers switch to the table owner, in a
-- security-restricted operation, like autovacuum). The queue tables are shared by all users;
-- row-level security lets a user see and change only the entries of tables they may write.

-- Non-superusers call codevec.embed() & co. as well: the schema must be usable by them.
GRANT USAGE ON SCHEMA codevec TO PUBLIC;

COMMENT ON FUNCTION codevec.text_digest(text) IS 'SHA-256 of a text''s bytes: the key under which codevec sync queues a row and finds it again (through a partial index on this expression)';
COMMENT ON FUNCTION codevec.sync_wake() IS 'codevec sync: wake the background workers of this database when the current transaction commits (no-op without shared_preload_libraries)';
COMMENT ON FUNCTION codevec.sync_report_claim(oid, integer) IS 'codevec sync: record the table and the entries of the batch in progress in this worker''s shared-memory slot (no-op outside a sync worker)';
COMMENT ON FUNCTION codevec.sync_workers() IS 'codevec sync: the running background workers (pid, database, table and entries of the batch in progress); empty without shared_preload_libraries';

CREATE TABLE codevec.sync_config (
    relid regclass PRIMARY KEY,
    text_column name NOT NULL,
    embedding_column name NOT NULL,
    "precision" text NOT NULL DEFAULT 'f32' CHECK ("precision" IN ('f32', 'int8')),
    batch_size integer NOT NULL DEFAULT 32 CHECK (batch_size BETWEEN 1 AND 1000),
    enabled_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE codevec.sync_config IS 'tables whose embedding column codevec keeps in sync with a text column (codevec.enable_sync)';

CREATE TABLE codevec.sync_queue (
    id bigserial PRIMARY KEY,
    relid oid NOT NULL,
    digest bytea NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    attempts integer NOT NULL DEFAULT 0,
    not_before timestamptz NOT NULL DEFAULT '-infinity',
    last_error text
);
COMMENT ON SEQUENCE codevec.sync_queue_id_seq IS 'ids of codevec.sync_queue entries (the order batches take them in)';
CREATE INDEX sync_queue_relid_id ON codevec.sync_queue (relid, id);
CREATE INDEX sync_queue_relid_digest ON codevec.sync_queue (relid, digest);
COMMENT ON TABLE codevec.sync_queue IS 'texts waiting to be embedded: one entry per written row (relid of the enabled table, SHA-256 of the text); retried entries wait until not_before';

CREATE TABLE codevec.sync_failed (
    relid oid NOT NULL,
    digest bytea NOT NULL,
    attempts integer NOT NULL,
    error text,
    text_start text,
    failed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (relid, digest)
);
COMMENT ON TABLE codevec.sync_failed IS 'texts whose embedding failed codevec.sync_max_retries times, with the last error and the start of the text; codevec.sync_retry() queues them again';

CREATE TABLE codevec.sync_stats (
    relid oid PRIMARY KEY,
    rows_done bigint NOT NULL DEFAULT 0,
    batches bigint NOT NULL DEFAULT 0,
    last_batch_at timestamptz,
    last_error text,
    last_error_at timestamptz
);
COMMENT ON TABLE codevec.sync_stats IS 'per synced table: rows embedded by sync, batches, the last error';

CREATE TABLE codevec.sync_rate (
    relid oid NOT NULL,
    at timestamptz NOT NULL,
    rows integer NOT NULL
);
CREATE INDEX sync_rate_relid_at ON codevec.sync_rate (relid, at);
COMMENT ON TABLE codevec.sync_rate IS 'batches of the last minute per synced table (for rows/s in codevec.sync_status)';

-- Row-level security: the entries of a table are visible to, and changed by, whoever may
-- write that table; the configuration of a table is changed by its owner.
ALTER TABLE codevec.sync_config ENABLE ROW LEVEL SECURITY;
CREATE POLICY sync_config_read ON codevec.sync_config FOR SELECT
    USING (pg_catalog.has_table_privilege(relid, 'SELECT, INSERT, UPDATE'));
CREATE POLICY sync_config_owner ON codevec.sync_config FOR ALL
    USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'));
DO $rls$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['sync_queue', 'sync_failed', 'sync_stats', 'sync_rate'] LOOP
    EXECUTE pg_catalog.format('ALTER TABLE codevec.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE pg_catalog.format(
      'CREATE POLICY %I ON codevec.%I FOR ALL USING (pg_catalog.has_table_privilege(relid, ''INSERT, UPDATE'')) WITH CHECK (pg_catalog.has_table_privilege(relid, ''INSERT, UPDATE''))',
      t || '_writers', t);
  END LOOP;
END
$rls$;
GRANT SELECT, INSERT, UPDATE, DELETE ON codevec.sync_config, codevec.sync_queue,
    codevec.sync_failed, codevec.sync_stats, codevec.sync_rate TO PUBLIC;
GRANT USAGE ON SEQUENCE codevec.sync_queue_id_seq TO PUBLIC;

-- pg_dump keeps the configuration (relid is a regclass, dumped by name). The queue and the
-- failures hold plain oids, which a restore would make stale: they are not dumped; after a
-- restore the workers (or CALL codevec.sync()) queue the waiting rows again
-- (codevec.sync_requeue), and parked failures are simply tried again.
SELECT pg_catalog.pg_extension_config_dump('codevec.sync_config', '');

-- ---------------------------------------------------------------------------------------
-- Triggers (installed by enable_sync with the column names baked into their WHEN clauses)

-- BEFORE UPDATE OF <text>: a changed text makes the old embedding stale; clear it, so that
-- the row waits (invisible to vector search) instead of being found by its old meaning.
CREATE FUNCTION codevec.sync_clear_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  -- TG_ARGV[0]: the embedding column. Only its value changes; every other column is kept.
  NEW := pg_catalog.jsonb_populate_record(NEW, pg_catalog.jsonb_build_object(TG_ARGV[0], NULL));
  RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION codevec.sync_clear_trigger() IS 'trigger of codevec.enable_sync: clears the embedding of a row whose text changed';

-- AFTER INSERT / AFTER UPDATE, per row, when the row now waits for an embedding.
CREATE FUNCTION codevec.sync_enqueue_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE d bytea;
BEGIN
  -- TG_ARGV[0]: the oid of the enabled table (a partition's parent); TG_ARGV[1]: the text column
  EXECUTE pg_catalog.format('SELECT codevec.text_digest(($1).%I)', TG_ARGV[1]) INTO d USING NEW;
  INSERT INTO codevec.sync_queue (relid, digest) VALUES (TG_ARGV[0]::oid, d);
  -- the workers of this database start (or look now) once this transaction commits
  PERFORM codevec.sync_wake();
  RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION codevec.sync_enqueue_trigger() IS 'trigger of codevec.enable_sync: queues a row that waits for an embedding';

-- AFTER TRUNCATE: nothing of the table waits any more.
CREATE FUNCTION codevec.sync_truncate_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  DELETE FROM codevec.sync_queue WHERE relid OPERATOR(pg_catalog.=) TG_ARGV[0]::oid;
  DELETE FROM codevec.sync_failed WHERE relid OPERATOR(pg_catalog.=) TG_ARGV[0]::oid;
  RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION codevec.sync_truncate_trigger() IS 'trigger of codevec.enable_sync: empties the queue of a truncated table';

-- The table and, for an inheritance parent, every descendant (partitions of a partitioned
-- table get the parent's row triggers and indexes from PostgreSQL itself).
CREATE FUNCTION codevec.sync_members(tbl regclass) RETURNS SETOF regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  WITH RECURSIVE tree(rel) AS (
    SELECT tbl::oid
    UNION
    SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent OPERATOR(pg_catalog.=) tree.rel
    WHERE (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl) OPERATOR(pg_catalog.<>) 'p')
  SELECT rel::regclass FROM tree;
$fn$;
COMMENT ON FUNCTION codevec.sync_members(regclass) IS 'a synced table and its inheritance children (which carry their own copies of the sync triggers and index)';

-- Everything sync knows of some tables: configuration, queue, failures, statistics. Used
-- by disable_sync, by the event trigger below and by the workers (for tables dropped while
-- event triggers did not fire). Runs as the caller, so row-level security limits it to
-- tables the caller may write.
CREATE FUNCTION codevec.sync_forget(relids oid[]) RETURNS void
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  DELETE FROM codevec.sync_queue x WHERE x.relid OPERATOR(pg_catalog.=) ANY (relids);
  DELETE FROM codevec.sync_failed x WHERE x.relid OPERATOR(pg_catalog.=) ANY (relids);
  DELETE FROM codevec.sync_stats x WHERE x.relid OPERATOR(pg_catalog.=) ANY (relids);
  DELETE FROM codevec.sync_rate x WHERE x.relid OPERATOR(pg_catalog.=) ANY (relids);
  DELETE FROM codevec.sync_config x WHERE x.relid::pg_catalog.oid OPERATOR(pg_catalog.=) ANY (relids);
END
$fn$;
COMMENT ON FUNCTION codevec.sync_forget(oid[]) IS 'codevec sync: deletes the configuration, queue, failures and statistics of tables (by oid); what disable_sync and dropping a table do';

-- A dropped table takes its configuration, queue, failures and statistics with it.
-- SECURITY DEFINER: after the DROP the table is gone, so row-level security (which asks
-- about the table) no longer lets its owner see these rows; only rows of the objects this
-- very command dropped are deleted.
CREATE FUNCTION codevec.sync_forget_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE gone oid[];
BEGIN
  SELECT pg_catalog.array_agg(d.objid) INTO gone FROM pg_catalog.pg_event_trigger_dropped_objects() d
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid OPERATOR(pg_catalog.=) 0;
  PERFORM codevec.sync_forget(gone);
END
$fn$;
COMMENT ON FUNCTION codevec.sync_forget_dropped() IS 'event trigger of codevec sync: forgets the sync state of dropped tables';
REVOKE ALL ON FUNCTION codevec.sync_forget_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER codevec_sync_forget_dropped ON sql_drop
  EXECUTE FUNCTION codevec.sync_forget_dropped();
COMMENT ON EVENT TRIGGER codevec_sync_forget_dropped IS 'codevec sync: forgets the configuration, queue, failures and statistics of dropped tables';

-- Queue every text that some row waits for and that is neither queued nor parked: what
-- enable_sync does first, and what the workers (at start) and CALL codevec.sync() do, so that
-- rows are never stranded without an entry (after a dump and restore, which does not carry
-- the queue because its oids would be stale, or if the queue was emptied by hand). Reads the
-- waiting rows through the partial index, so it costs what is waiting, not the table.
-- No SET search_path: the table's row-level security policies may call the owner's
-- functions; every name here is schema-qualified instead.
CREATE FUNCTION codevec.sync_requeue(tbl pg_catalog.regclass) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
  cfg codevec.sync_config;
  queued bigint;
BEGIN
  SELECT * INTO cfg FROM codevec.sync_config c WHERE c.relid OPERATOR(pg_catalog.=) tbl;
  IF NOT FOUND THEN
    RAISE EXCEPTION '"%" is not synced', tbl USING ERRCODE = 'undefined_object';
  END IF;
  EXECUTE pg_catalog.format(
    'INSERT INTO codevec.sync_queue (relid, digest) '
    'SELECT $1, w.d FROM (SELECT DISTINCT codevec.text_digest(%2$I) AS d FROM %1$s WHERE %3$I IS NULL AND %2$I IS NOT NULL) w '
    'WHERE NOT EXISTS (SELECT 1 FROM codevec.sync_queue q WHERE q.relid OPERATOR(pg_catalog.=) $1 AND q.digest OPERATOR(pg_catalog.=) w.d) '
    'AND NOT EXISTS (SELECT 1 FROM codevec.sync_failed f WHERE f.relid OPERATOR(pg_catalog.=) $1 AND f.digest OPERATOR(pg_catalog.=) w.d)',
    tbl, cfg.text_column, cfg.embedding_column) USING tbl::pg_catalog.oid;
  GET DIAGNOSTICS queued = ROW_COUNT;
  IF queued OPERATOR(pg_catalog.>) 0 THEN
    PERFORM codevec.sync_wake();
  END IF;
  RETURN queued;
END
$fn$;
COMMENT ON FUNCTION codevec.sync_requeue(regclass) IS
  'queue the texts that rows of a synced table wait for and that are neither queued nor parked (returns how many); the workers run it when they start';

-- The sync index of a table (found by what it is, not by name: the table may have been
-- renamed since), NULL if it has none.
CREATE FUNCTION codevec.sync_index(member pg_catalog.regclass) RETURNS pg_catalog.regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT i.indexrelid::pg_catalog.regclass FROM pg_catalog.pg_index i
  WHERE i.indrelid OPERATOR(pg_catalog.=) member AND i.indpred IS NOT NULL
    AND pg_catalog.strpos(pg_catalog.pg_get_indexdef(i.indexrelid), 'codevec.text_digest(') OPERATOR(pg_catalog.>) 0
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid OPERATOR(pg_catalog.=) i.indexrelid)
  ORDER BY i.indexrelid LIMIT 1;
$fn$;
COMMENT ON FUNCTION codevec.sync_index(regclass) IS 'the partial digest index codevec.enable_sync created on a table, or NULL';

-- ALTER TABLE ... RENAME COLUMN of a synced column: the configuration and the triggers'
-- arguments name the columns, so follow the rename (the triggers' WHEN clauses and the
-- index refer to column numbers and need nothing). The columns are found again through
-- the triggers' dependencies, which stay right across renames, dumps and restores.
CREATE FUNCTION codevec.sync_follow_renames() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  cfg codevec.sync_config;
  t_att int2;
  e_att int2;
  t_name name;
  e_name name;
BEGIN
  FOR cfg IN SELECT c.* FROM codevec.sync_config c
             WHERE c.relid::oid IN (SELECT d.objid FROM pg_catalog.pg_event_trigger_ddl_commands() d
                                    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass) LOOP
    SELECT tg.tgattr[0] INTO t_att FROM pg_catalog.pg_trigger tg
      WHERE tg.tgrelid OPERATOR(pg_catalog.=) cfg.relid AND tg.tgname OPERATOR(pg_catalog.=) 'codevec_sync_clear';
    SELECT dp.refobjsubid::int2 INTO e_att FROM pg_catalog.pg_trigger tg
      JOIN pg_catalog.pg_depend dp ON dp.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_trigger'::pg_catalog.regclass
                                  AND dp.objid OPERATOR(pg_catalog.=) tg.oid
      WHERE tg.tgrelid OPERATOR(pg_catalog.=) cfg.relid AND tg.tgname OPERATOR(pg_catalog.=) 'codevec_sync_insert'
        AND dp.refobjid OPERATOR(pg_catalog.=) cfg.relid AND dp.refobjsubid OPERATOR(pg_catalog.>) 0
        AND dp.refobjsubid OPERATOR(pg_catalog.<>) t_att
      LIMIT 1;
    SELECT a.attname INTO t_name FROM pg_catalog.pg_attribute a
      WHERE a.attrelid OPERATOR(pg_catalog.=) cfg.relid AND a.attnum OPERATOR(pg_catalog.=) t_att;
    SELECT a.attname INTO e_name FROM pg_catalog.pg_attribute a
      WHERE a.attrelid OPERATOR(pg_catalog.=) cfg.relid AND a.attnum OPERATOR(pg_catalog.=) e_att;
    IF t_name IS NOT NULL AND e_name IS NOT NULL
       AND (t_name OPERATOR(pg_catalog.<>) cfg.text_column OR e_name OPERATOR(pg_catalog.<>) cfg.embedding_column) THEN
      UPDATE codevec.sync_config c SET text_column = t_name, embedding_column = e_name
        WHERE c.relid OPERATOR(pg_catalog.=) cfg.relid;
      -- recreates the triggers with the new names (idempotent otherwise)
      PERFORM codevec.enable_sync(cfg.relid, t_name, e_name, cfg."precision", cfg.batch_size);
    END IF;
  END LOOP;
END
$fn$;
COMMENT ON FUNCTION codevec.sync_follow_renames() IS 'event trigger of codevec sync: follows ALTER TABLE ... RENAME COLUMN of a synced text or embedding column';
CREATE EVENT TRIGGER codevec_sync_follow_renames ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
  EXECUTE FUNCTION codevec.sync_follow_renames();
COMMENT ON EVENT TRIGGER codevec_sync_follow_renames IS 'codevec sync: follows renames of synced columns';

-- ---------------------------------------------------------------------------------------
-- enable_sync / disable_sync

CREATE FUNCTION codevec.enable_sync(
    tbl regclass, text_column name, embedding_column name,
    "precision" text DEFAULT 'f32', batch_size integer DEFAULT 32)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  kind "char";
  t_type regtype; t_gen "char";
  e_type regtype; e_mod integer; e_gen "char";
  old codevec.sync_config;
  prec text := pg_catalog.lower("precision");
  member regclass;
  idx text;
  queued bigint;
BEGIN
  IF tbl IS NULL OR text_column IS NULL OR embedding_column IS NULL THEN
    RAISE EXCEPTION 'codevec.enable_sync: table and column names must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT c.relkind INTO kind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl;
  IF kind IS NULL OR kind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '"%" is not a table', tbl
      USING ERRCODE = 'wrong_object_type',
            HINT = 'codevec.enable_sync works on tables, partitioned tables and inheritance parents, not on views, materialized views or foreign tables.';
  END IF;
  SELECT a.atttypid, a.attgenerated INTO t_type, t_gen FROM pg_catalog.pg_attribute a
    WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) text_column
      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
  IF t_type IS NULL THEN
    RAISE EXCEPTION 'column "%" of "%" does not exist', text_column, tbl USING ERRCODE = 'undefined_column';
  END IF;
  IF t_type NOT IN ('pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype) THEN
    RAISE EXCEPTION 'column "%" of "%" is of type %, not text', text_column, tbl, t_type
      USING ERRCODE = 'datatype_mismatch', HINT = 'The text column must be of type text or varchar.';
  END IF;
  SELECT a.atttypid, a.atttypmod, a.attgenerated INTO e_type, e_mod, e_gen FROM pg_catalog.pg_attribute a
    WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) embedding_column
      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
  IF e_type IS NULL THEN
    RAISE EXCEPTION 'column "%" of "%" does not exist', embedding_column, tbl USING ERRCODE = 'undefined_column';
  END IF;
  IF e_type NOT IN ('@extschema@.embedding'::regtype, '@extschema@.halfembedding'::regtype) THEN
    RAISE EXCEPTION 'column "%" of "%" is of type %, not embedding', embedding_column, tbl, e_type
      USING ERRCODE = 'datatype_mismatch', HINT = 'The embedding column must be of type embedding(384) or halfembedding(384).';
  END IF;
  IF e_mod NOT IN (-1, 384) THEN
    RAISE EXCEPTION 'column "%" of "%" has % dimensions, the encoder gives 384', embedding_column, tbl, e_mod
      USING ERRCODE = 'datatype_mismatch';
  END IF;
  IF e_gen OPERATOR(pg_catalog.<>) '' THEN
    RAISE EXCEPTION 'column "%" of "%" is a generated column', embedding_column, tbl
      USING ERRCODE = 'invalid_column_definition',
            HINT = 'A generated column is already computed on every write; sync needs a plain embedding column (ALTER TABLE ... ALTER COLUMN ... DROP EXPRESSION).';
  END IF;
  IF text_column OPERATOR(pg_catalog.=) embedding_column THEN
    RAISE EXCEPTION 'the text column and the embedding column must differ' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF prec IS NULL OR prec NOT IN ('f32', 'int8') THEN
    RAISE EXCEPTION 'invalid encoder precision: "%"', "precision"
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ''f32'' (the default) or ''int8''.';
  END IF;
  IF batch_size IS NULL OR batch_size OPERATOR(pg_catalog.<) 1 OR batch_size OPERATOR(pg_catalog.>) 1000 THEN
    RAISE EXCEPTION 'batch_size must be between 1 and 1000, not %', batch_size
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT 1 FROM codevec.sync_config c, codevec.sync_members(c.relid) m
             WHERE m OPERATOR(pg_catalog.=) tbl AND c.relid OPERATOR(pg_catalog.<>) tbl)
     OR EXISTS (SELECT 1 FROM codevec.sync_members(tbl) m JOIN codevec.sync_config c ON c.relid OPERATOR(pg_catalog.=) m
                WHERE m OPERATOR(pg_catalog.<>) tbl)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_partition_ancestors(tbl) a
                JOIN codevec.sync_config c ON c.relid OPERATOR(pg_catalog.=) a.relid
                WHERE a.relid OPERATOR(pg_catalog.<>) tbl) THEN
    RAISE EXCEPTION 'a parent or a child of "%" is already synced', tbl
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Sync either the parent (which covers its children) or the children, not both.';
  END IF;

  SELECT * INTO old FROM codevec.sync_config c WHERE c.relid OPERATOR(pg_catalog.=) tbl;
  IF FOUND AND (old.text_column OPERATOR(pg_catalog.<>) text_column
                OR old.embedding_column OPERATOR(pg_catalog.<>) embedding_column) THEN
    RAISE EXCEPTION '"%" is already synced from column "%" into "%"', tbl, old.text_column, old.embedding_column
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Call codevec.disable_sync first.';
  END IF;
  INSERT INTO codevec.sync_config AS c (relid, text_column, embedding_column, "precision", batch_size)
    VALUES (tbl, text_column, embedding_column, prec, batch_size)
    ON CONFLICT (relid) DO UPDATE SET "precision" = excluded."precision", batch_size = excluded.batch_size;
  INSERT INTO codevec.sync_stats (relid) VALUES (tbl) ON CONFLICT DO NOTHING;

  FOR member IN SELECT m FROM codevec.sync_members(tbl) m LOOP
    -- the rows waiting, found by the digest of their text
    IF codevec.sync_index(member) IS NULL THEN
      idx := pg_catalog.left((SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) member), 48)
             OPERATOR(pg_catalog.||) '_codevec_sync';
      EXECUTE pg_catalog.format('CREATE INDEX %I ON %s (codevec.text_digest(%I)) WHERE %I IS NULL',
                                idx, member, text_column, embedding_column);
    END IF;
    EXECUTE pg_catalog.format(
      'CREATE OR REPLACE TRIGGER codevec_sync_clear BEFORE UPDATE OF %2$I ON %1$s FOR EACH ROW '
      'WHEN (OLD.%2$I IS DISTINCT FROM NEW.%2$I AND NEW.%3$I IS NOT NULL) '
      'EXECUTE FUNCTION codevec.sync_clear_trigger(%4$L)',
      member, text_column, embedding_column, embedding_column);
    EXECUTE pg_catalog.format(
      'CREATE OR REPLACE TRIGGER codevec_sync_insert AFTER INSERT ON %1$s FOR EACH ROW '
      'WHEN (NEW.%3$I IS NULL AND NEW.%2$I IS NOT NULL) '
      'EXECUTE FUNCTION codevec.sync_enqueue_trigger(%4$L, %5$L)',
      member, text_column, embedding_column, tbl::oid, text_column);
    EXECUTE pg_catalog.format(
      'CREATE OR REPLACE TRIGGER codevec_sync_update AFTER UPDATE ON %1$s FOR EACH ROW '
      'WHEN (NEW.%3$I IS NULL AND NEW.%2$I IS NOT NULL AND (OLD.%3$I IS NOT NULL OR OLD.%2$I IS DISTINCT FROM NEW.%2$I)) '
      'EXECUTE FUNCTION codevec.sync_enqueue_trigger(%4$L, %5$L)',
      member, text_column, embedding_column, tbl::oid, text_column);
    EXECUTE pg_catalog.format(
      'CREATE OR REPLACE TRIGGER codevec_sync_truncate AFTER TRUNCATE ON %1$s FOR EACH STATEMENT '
      'EXECUTE FUNCTION codevec.sync_truncate_trigger(%2$L)',
      member, tbl::oid);
  END LOOP;

  queued := codevec.sync_requeue(tbl);
  PERFORM codevec.sync_wake();
  RETURN queued;
END
$fn$;
COMMENT ON FUNCTION codevec.enable_sync(regclass, name, name, text, integer) IS
  'keep a table''s embedding column in sync with its text column: installs triggers and a partial index, queues the rows whose embedding is NULL (returns how many texts), and lets the background workers (or CALL codevec.sync()) embed them; idempotent';

CREATE FUNCTION codevec.disable_sync(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE cfg codevec.sync_config; member regclass;
BEGIN
  IF tbl IS NULL THEN
    RAISE EXCEPTION 'codevec.disable_sync: table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT * INTO cfg FROM codevec.sync_config c WHERE c.relid OPERATOR(pg_catalog.=) tbl;
  IF NOT FOUND THEN
    RAISE EXCEPTION '"%" is not synced', tbl
      USING ERRCODE = 'undefined_object', HINT = 'codevec.sync_status lists the synced tables.';
  END IF;
  FOR member IN SELECT m FROM codevec.sync_members(tbl) m LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS codevec_sync_clear ON %s', member);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS codevec_sync_insert ON %s', member);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS codevec_sync_update ON %s', member);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS codevec_sync_truncate ON %s', member);
    IF codevec.sync_index(member) IS NOT NULL THEN
      EXECUTE pg_catalog.format('DROP INDEX %s', codevec.sync_index(member));
    END IF;
  END LOOP;
  PERFORM codevec.sync_forget(ARRAY[tbl::oid]);
END
$fn$;
COMMENT ON FUNCTION codevec.disable_sync(regclass) IS
  'stop keeping a table''s embeddings in sync: drops the sync triggers and index and the table''s queue, failures and statistics (embeddings already written stay)';

-- ---------------------------------------------------------------------------------------
-- One batch: claim queued entries, embed the distinct texts that still wait, write them
-- back, and retry (with backoff) or park what fails.

CREATE FUNCTION codevec.sync_batch(tbl pg_catalog.regclass, OUT claimed integer, OUT embedded integer)
LANGUAGE plpgsql AS $fn$
-- No SET search_path here: the UPDATE of the table fires its own triggers, index expressions
-- and constraints, which must see the session's search_path (the owner's, in a worker), not
-- ours. So every name below is schema-qualified instead, types included.
DECLARE
  cfg codevec.sync_config;
  ids bigint[];
  digests pg_catalog.bytea[];
  m integer;
  retries integer := COALESCE(
    NULLIF(pg_catalog.current_setting('codevec.sync_max_retries', true), '')::integer, 3);
  d pg_catalog.bytea;
  msg pg_catalog.text;
  write_sql pg_catalog.text;
BEGIN
  claimed := 0;
  embedded := 0;
  SELECT * INTO cfg FROM codevec.sync_config c WHERE c.relid OPERATOR(pg_catalog.=) tbl;
  IF NOT FOUND THEN
    RAISE EXCEPTION '"%" is not synced', tbl USING ERRCODE = 'undefined_object';
  END IF;
  BEGIN
    -- Take up to batch_size ready entries (rows locked, others skip them), then keep those
    -- whose text no other batch holds: a transaction-level advisory lock per digest, so that
    -- two workers never embed the same text twice or deadlock on its rows. The lock is taken
    -- on the claimed entries only (the MATERIALIZED CTE keeps it out of the scan), so a
    -- batch holds at most batch_size advisory locks however long the queue is.
    WITH claim AS MATERIALIZED (
      SELECT s.id, s.digest FROM codevec.sync_queue s
      WHERE s.relid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid AND s.not_before OPERATOR(pg_catalog.<=) pg_catalog.now()
      ORDER BY s.relid, s.id LIMIT cfg.batch_size FOR UPDATE SKIP LOCKED)
    SELECT pg_catalog.array_agg(q.id), pg_catalog.array_agg(DISTINCT q.digest) INTO ids, digests
      FROM claim q
      WHERE pg_catalog.pg_try_advisory_xact_lock(
              pg_catalog.hashtext('codevec.sync'), pg_catalog.hashtext(pg_catalog.encode(q.digest, 'hex')));
    IF ids IS NULL THEN
      RETURN;
    END IF;
    claimed := pg_catalog.cardinality(ids);
    PERFORM codevec.sync_report_claim(tbl::pg_catalog.oid, claimed);
    -- Embed each distinct text that some row still waits for, and write it into every row
    -- that holds exactly that text and still has no embedding.
    write_sql := pg_catalog.format($q$
      WITH waiting AS (
        SELECT DISTINCT ON (w.d) w.d, w.t FROM (
          SELECT codevec.text_digest(%2$I) AS d, %2$I::pg_catalog.text AS t FROM %1$s
          WHERE codevec.text_digest(%2$I) OPERATOR(pg_catalog.=) ANY ($1) AND %3$I IS NULL) w),
      embedded AS (
        SELECT pg_catalog.unnest(pg_catalog.array_agg(d ORDER BY d)) AS d,
               pg_catalog.unnest(codevec.embed_batch(pg_catalog.array_agg(t ORDER BY d), $2)) AS e
        FROM waiting)
      UPDATE %1$s r SET %3$I = embedded.e FROM embedded
      WHERE codevec.text_digest(r.%2$I) OPERATOR(pg_catalog.=) embedded.d AND r.%3$I IS NULL
      $q$, tbl, cfg.text_column, cfg.embedding_column);
    BEGIN
      EXECUTE write_sql USING digests, cfg."precision";
      GET DIAGNOSTICS m = ROW_COUNT;
    EXCEPTION WHEN OTHERS THEN
      m := NULL;
    END;
    IF m IS NOT NULL THEN
      embedded := m;
    ELSE
      -- Something in the batch failed: one text at a time, so that one bad row (an encoder
      -- error, a constraint or trigger of the table) cannot hold up the others.
      FOREACH d IN ARRAY digests LOOP
        BEGIN
          EXECUTE write_sql USING ARRAY[d], cfg."precision";
          GET DIAGNOSTICS m = ROW_COUNT;
          embedded := embedded OPERATOR(pg_catalog.+) m;
        EXCEPTION WHEN OTHERS THEN
          GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
          UPDATE codevec.sync_queue s
            SET attempts = s.attempts OPERATOR(pg_catalog.+) 1, last_error = msg,
                not_before = pg_catalog.now() OPERATOR(pg_catalog.+) pg_catalog.make_interval(
                  secs => LEAST(600, 2 OPERATOR(pg_catalog.^) s.attempts))
            WHERE s.id OPERATOR(pg_catalog.=) ANY (ids) AND s.digest OPERATOR(pg_catalog.=) d;
          UPDATE codevec.sync_stats s SET last_error = msg, last_error_at = pg_catalog.now()
            WHERE s.relid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid;
          -- out of retries: park it (with every other entry of the same text)
          IF EXISTS (SELECT 1 FROM codevec.sync_queue s WHERE s.id OPERATOR(pg_catalog.=) ANY (ids)
                     AND s.digest OPERATOR(pg_catalog.=) d AND s.attempts OPERATOR(pg_catalog.>=) retries) THEN
            EXECUTE pg_catalog.format(
              'INSERT INTO codevec.sync_failed AS f (relid, digest, attempts, error, text_start) '
              'SELECT $1, $2, $3, $4, (SELECT pg_catalog.left(%2$I::pg_catalog.text, 200) FROM %1$s '
              'WHERE codevec.text_digest(%2$I) OPERATOR(pg_catalog.=) $2 LIMIT 1) '
              'ON CONFLICT (relid, digest) DO UPDATE SET attempts = excluded.attempts, error = excluded.error, '
              'text_start = excluded.text_start, failed_at = pg_catalog.now()',
              tbl, cfg.text_column) USING tbl::pg_catalog.oid, d, retries, msg;
            DELETE FROM codevec.sync_queue s
              WHERE s.relid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid AND s.digest OPERATOR(pg_catalog.=) d;
          END IF;
          -- these entries stay queued (or were parked): keep them out of the DELETE below
          ids := ARRAY(SELECT i FROM pg_catalog.unnest(ids) i
                                  WHERE i OPERATOR(pg_catalog.<>) ALL (
                                    SELECT s.id FROM codevec.sync_queue s
                                    WHERE s.relid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid AND s.digest OPERATOR(pg_catalog.=) d));
        END;
      END LOOP;
    END IF;
    DELETE FROM codevec.sync_queue s WHERE s.id OPERATOR(pg_catalog.=) ANY (ids);
    UPDATE codevec.sync_stats s SET rows_done = s.rows_done OPERATOR(pg_catalog.+) embedded,
        batches = s.batches OPERATOR(pg_catalog.+) 1, last_batch_at = pg_catalog.now()
      WHERE s.relid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid;
    INSERT INTO codevec.sync_rate (relid, at, rows) VALUES (tbl::pg_catalog.oid, pg_catalog.clock_timestamp(), embedded);
    DELETE FROM codevec.sync_rate r WHERE r.relid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid
      AND r.at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 minute');
  EXCEPTION WHEN OTHERS THEN
    -- not a row's fault (e.g. the table was altered under the batch): the batch is undone,
    -- its entries stay queued, the error is shown in sync_status, the caller goes on
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
    RAISE WARNING 'codevec.sync_batch(%): %', tbl, msg;
    UPDATE codevec.sync_stats s SET last_error = msg, last_error_at = pg_catalog.now()
      WHERE s.relid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid;
    claimed := 0;
    embedded := 0;
  END;
END
$fn$;
COMMENT ON FUNCTION codevec.sync_batch(regclass) IS
  'embed one batch of a synced table''s queue (entries ready now, skipping those other sessions hold); returns the entries claimed and the rows written; failures are retried with backoff up to codevec.sync_max_retries, then parked in codevec.sync_failed';

-- Drain the queues in this session, committing after every batch (for pg_cron, or without
-- shared_preload_libraries = 'codevec').
CREATE PROCEDURE codevec.sync(tbl pg_catalog.regclass DEFAULT NULL)
LANGUAGE plpgsql AS $proc$
-- A procedure with a SET clause cannot COMMIT: every name below is schema-qualified instead
-- (types included), so nothing resolves through the caller's search_path.
DECLARE
  t pg_catalog.regclass;
  n pg_catalog.int4;
  ready_before pg_catalog.int8;
  ready_after pg_catalog.int8;
  done pg_catalog.int8 := 0;
  waiting pg_catalog.int8;
  started pg_catalog.timestamptz := pg_catalog.clock_timestamp();
BEGIN
  IF tbl IS NOT NULL AND NOT EXISTS (SELECT 1 FROM codevec.sync_config c WHERE c.relid OPERATOR(pg_catalog.=) tbl) THEN
    RAISE EXCEPTION '"%" is not synced', tbl
      USING ERRCODE = 'undefined_object', HINT = 'Call codevec.enable_sync first.';
  END IF;
  FOR t IN SELECT c.relid FROM codevec.sync_config c
           WHERE tbl IS NULL OR c.relid OPERATOR(pg_catalog.=) tbl LOOP
    PERFORM codevec.sync_requeue(t);
  END LOOP;
  LOOP
    SELECT pg_catalog.count(*) INTO ready_before FROM codevec.sync_queue q
      WHERE (tbl IS NULL OR q.relid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid)
        AND q.not_before OPERATOR(pg_catalog.<=) pg_catalog.now();
    EXIT WHEN ready_before OPERATOR(pg_catalog.=) 0;
    FOR t IN SELECT c.relid FROM codevec.sync_config c
             WHERE tbl IS NULL OR c.relid OPERATOR(pg_catalog.=) tbl ORDER BY c.relid::pg_catalog.oid LOOP
      SELECT b.embedded INTO n FROM codevec.sync_batch(t) b;
      COMMIT;
      IF n OPERATOR(pg_catalog.>) 0 THEN
        done := done OPERATOR(pg_catalog.+) n;
        RAISE NOTICE 'codevec.sync: % rows embedded (% rows/s)', done,
          pg_catalog.round((done::pg_catalog.float8 OPERATOR(pg_catalog./) GREATEST(
            pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started),
            0.001::pg_catalog.float8))::pg_catalog.numeric, 1);
      END IF;
    END LOOP;
    SELECT pg_catalog.count(*) INTO ready_after FROM codevec.sync_queue q
      WHERE (tbl IS NULL OR q.relid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid)
        AND q.not_before OPERATOR(pg_catalog.<=) pg_catalog.now();
    -- entries that are ready but could not be claimed are held by other sessions
    EXIT WHEN ready_after OPERATOR(pg_catalog.>=) ready_before;
  END LOOP;
  SELECT pg_catalog.count(*) INTO waiting FROM codevec.sync_queue q
    WHERE tbl IS NULL OR q.relid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid;
  IF waiting OPERATOR(pg_catalog.>) 0 THEN
    RAISE NOTICE 'codevec.sync: done, % rows embedded; % entries wait for a retry or are held by other sessions', done, waiting;
  ELSE
    RAISE NOTICE 'codevec.sync: done, % rows embedded', done;
  END IF;
END
$proc$;
COMMENT ON PROCEDURE codevec.sync(regclass) IS
  'embed everything queued for one synced table (or all) in this session, committing after every batch, with progress NOTICEs; for use without the background workers';

CREATE FUNCTION codevec.sync_retry(tbl regclass DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE n bigint;
BEGIN
  WITH moved AS (
    DELETE FROM codevec.sync_failed f WHERE tbl IS NULL OR f.relid OPERATOR(pg_catalog.=) tbl::oid
    RETURNING f.relid, f.digest)
  INSERT INTO codevec.sync_queue (relid, digest) SELECT relid, digest FROM moved;
  GET DIAGNOSTICS n = ROW_COUNT;
  UPDATE codevec.sync_queue q SET not_before = '-infinity', attempts = 0
    WHERE (tbl IS NULL OR q.relid OPERATOR(pg_catalog.=) tbl::oid) AND q.attempts OPERATOR(pg_catalog.>) 0;
  PERFORM codevec.sync_wake();
  RETURN n;
END
$fn$;
COMMENT ON FUNCTION codevec.sync_retry(regclass) IS
  'queue the failed texts of a table (or of all tables) again and make waiting retries due now; returns how many failed texts were queued';

CREATE VIEW codevec.sync_status AS
  SELECT c.relid AS "table",
         c.text_column, c.embedding_column, c."precision", c.batch_size,
         q.pending, COALESCE(w.rows, 0)::bigint AS in_progress,
         COALESCE(s.rows_done, 0) AS done,
         (SELECT pg_catalog.count(*) FROM codevec.sync_failed f WHERE f.relid OPERATOR(pg_catalog.=) c.relid::oid) AS failed,
         pg_catalog.now() OPERATOR(pg_catalog.-) q.oldest AS oldest_pending_age,
         (SELECT pg_catalog.round((pg_catalog.sum(r.rows)::numeric OPERATOR(pg_catalog./) 60), 2) FROM codevec.sync_rate r
           WHERE r.relid OPERATOR(pg_catalog.=) c.relid::oid
             AND r.at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 minute')) AS rows_per_second,
         s.last_batch_at, s.last_error, s.last_error_at
  FROM codevec.sync_config c
  LEFT JOIN codevec.sync_stats s ON s.relid OPERATOR(pg_catalog.=) c.relid::oid
  CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS pending, pg_catalog.min(x.enqueued_at) AS oldest
                      FROM codevec.sync_queue x WHERE x.relid OPERATOR(pg_catalog.=) c.relid::oid) q
  LEFT JOIN (SELECT a.relid, pg_catalog.sum(a.rows) AS rows FROM codevec.sync_workers() a
             WHERE a.datid OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d
                                                   WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
             GROUP BY a.relid) w
    ON w.relid OPERATOR(pg_catalog.=) c.relid::oid;
COMMENT ON VIEW codevec.sync_status IS
  'per synced table: queued entries (pending), rows in batches of the background workers right now (in_progress), rows embedded by sync (done), parked failures, age of the oldest entry, rows/s over the last minute, the last error';
GRANT SELECT ON codevec.sync_status TO PUBLIC;
