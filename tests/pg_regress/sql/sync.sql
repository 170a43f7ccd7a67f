-- codevec.enable_sync without background workers (this cluster does not preload codevec):
-- triggers + queue, drained by CALL codevec.sync(). The workers are tested in
-- tests/e2e/sync.rs against a cluster that preloads the library.
-- (progress NOTICEs carry timings)
SET client_min_messages = warning;

CREATE TABLE sy (id int PRIMARY KEY, code text, emb embedding(384), note text);
INSERT INTO sy VALUES (1, 'def add(a, b): return a + b', NULL, NULL),
                      (2, 'fn parse_date(s: &str) -> Date', NULL, NULL),
                      (3, NULL, NULL, 'no text: stays NULL'),
                      (4, 'def add(a, b): return a + b', NULL, 'same text as 1'),
                      (5, 'already embedded', codevec.embed('already embedded'), NULL);
-- the rows waiting now are queued once per distinct text (1 and 4 share one)
SELECT codevec.enable_sync('sy', 'code', 'emb') AS queued;
-- idempotent: nothing new to queue, settings may change
SELECT codevec.enable_sync('sy', 'code', 'emb', batch_size => 2) AS queued_again;
SELECT "table", text_column, embedding_column, "precision", batch_size, pending, in_progress, done, failed
FROM codevec.sync_status;
CALL codevec.sync();
SELECT id, emb IS NULL AS no_emb, emb = codevec.embed(code) AS matches FROM sy ORDER BY id;
SELECT pending, done, failed, last_error FROM codevec.sync_status;

-- a new row and a changed text wait (the old embedding is cleared at once); an update of
-- another column does not queue anything
INSERT INTO sy VALUES (6, 'SELECT 1', NULL, NULL);
UPDATE sy SET code = 'def sub(a, b): return a - b' WHERE id = 1;
UPDATE sy SET note = 'touched' WHERE id = 2;
SELECT id, emb IS NULL AS waiting FROM sy ORDER BY id;
SELECT pending FROM codevec.sync_status;
-- setting the embedding to NULL by hand queues the row again
UPDATE sy SET emb = NULL WHERE id = 5;
CALL codevec.sync('sy');
SELECT id, emb IS NULL AS no_emb, emb = codevec.embed(code) AS matches FROM sy ORDER BY id;
-- an update that writes both text and embedding keeps nothing stale: the text changed,
-- so the row is embedded again from its new text
UPDATE sy SET code = 'x = 1', emb = codevec.embed('something else') WHERE id = 6;
CALL codevec.sync('sy');
SELECT emb = codevec.embed('x = 1') AS from_new_text FROM sy WHERE id = 6;
-- deleted rows: their entries drain without errors
INSERT INTO sy VALUES (7, 'gone soon', NULL, NULL);
DELETE FROM sy WHERE id = 7;
SELECT pending FROM codevec.sync_status;
CALL codevec.sync();
SELECT pending, last_error FROM codevec.sync_status;
-- a queue emptied by hand (pg_dump does not keep it) loses nothing: sync() first queues
-- what waits
INSERT INTO sy VALUES (9, 'lost entry', NULL, NULL);
DELETE FROM codevec.sync_queue;
CALL codevec.sync('sy');
SELECT id, emb = codevec.embed(code) AS matches FROM sy WHERE id = 9;
-- TRUNCATE empties the queue
INSERT INTO sy VALUES (8, 'queued then truncated', NULL, NULL);
TRUNCATE sy;
SELECT pending FROM codevec.sync_status;

-- renames: of the table (the index is found by what it is) and of the synced columns
-- (the configuration and the triggers follow); writes keep working and keep syncing
ALTER TABLE sy RENAME TO sy_renamed;
ALTER TABLE sy_renamed RENAME COLUMN code TO body;
ALTER TABLE sy_renamed RENAME COLUMN emb TO vec;
SELECT "table", text_column, embedding_column FROM codevec.sync_status WHERE "table" = 'sy_renamed'::regclass;
INSERT INTO sy_renamed VALUES (10, 'after the renames', NULL, NULL), (11, 'to be changed', NULL, NULL);
CALL codevec.sync('sy_renamed');
UPDATE sy_renamed SET body = 'changed after the renames' WHERE id = 11;
SELECT id, vec IS NULL AS waiting FROM sy_renamed ORDER BY id;
CALL codevec.sync('sy_renamed');
SELECT id, body, vec = codevec.embed(body) AS matches FROM sy_renamed ORDER BY id;
ALTER TABLE sy_renamed RENAME COLUMN body TO code;
ALTER TABLE sy_renamed RENAME COLUMN vec TO emb;
ALTER TABLE sy_renamed RENAME TO sy;
SELECT text_column, embedding_column, codevec.sync_index('sy') IS NOT NULL AS has_index
FROM codevec.sync_config WHERE relid = 'sy'::regclass;

-- no primary key, a varchar text column, halfembedding, int8
CREATE TABLE nokey (code varchar(200), emb halfembedding(384));
INSERT INTO nokey VALUES ('a b c'), ('a b c'), ('d e f');
SELECT codevec.enable_sync('nokey', 'code', 'emb', 'int8') AS queued;
CALL codevec.sync('nokey');
SELECT code, emb::embedding <=> codevec.embed(code, 'int8') < 1e-3 AS matches FROM nokey ORDER BY code;

-- a partitioned table: rows inserted through the parent and straight into a partition,
-- partitions created after enable_sync, rows moving between partitions
CREATE TABLE parted (lang text, code text, emb embedding(384)) PARTITION BY LIST (lang);
CREATE TABLE parted_py PARTITION OF parted FOR VALUES IN ('py');
SELECT codevec.enable_sync('parted', 'code', 'emb') AS queued;
CREATE TABLE parted_rs PARTITION OF parted FOR VALUES IN ('rs');
INSERT INTO parted VALUES ('py', 'def f(): pass'), ('rs', 'fn f() {}');
INSERT INTO parted_rs VALUES ('rs', 'fn g() {}');
CALL codevec.sync('parted');
UPDATE parted SET lang = 'rs', code = 'fn h() {}' WHERE code = 'def f(): pass';
SELECT tableoid::regclass, code, emb IS NULL AS waiting FROM parted ORDER BY code;
CALL codevec.sync('parted');
SELECT tableoid::regclass, code, emb = codevec.embed(code) AS matches FROM parted ORDER BY code;
-- a partition of a synced table cannot be synced on its own
SELECT codevec.enable_sync('parted_rs', 'code', 'emb');

-- inheritance: the parent's sync covers its existing children
CREATE TABLE sync_inh (code text, emb embedding(384));
CREATE TABLE sync_inh_child (extra int) INHERITS (sync_inh);
SELECT codevec.enable_sync('sync_inh', 'code', 'emb') AS queued;
INSERT INTO sync_inh VALUES ('parent row');
INSERT INTO sync_inh_child VALUES ('child row', NULL, 1);
CALL codevec.sync('sync_inh');
SELECT tableoid::regclass, code, emb = codevec.embed(code) AS matches FROM sync_inh ORDER BY code;
SELECT codevec.enable_sync('sync_inh_child', 'code', 'emb');

-- failures: a row the table refuses is retried with backoff and parked after
-- codevec.sync_max_retries tries; it never holds up the rows behind it
CREATE TABLE picky (id int, code text, emb embedding(384));
CREATE FUNCTION picky_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.code LIKE '%poison%' THEN RAISE EXCEPTION 'picky refuses %', NEW.id; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER picky_check BEFORE UPDATE ON picky FOR EACH ROW EXECUTE FUNCTION picky_check();
INSERT INTO picky VALUES (1, 'fine one'), (2, 'poison pill'), (3, 'fine two');
SET codevec.sync_max_retries = 1;
SELECT codevec.enable_sync('picky', 'code', 'emb') AS queued;
CALL codevec.sync('picky');
SELECT id, emb IS NOT NULL AS embedded FROM picky ORDER BY id;
SELECT pending, failed, last_error FROM codevec.sync_status WHERE "table" = 'picky'::regclass;
SELECT relid::regclass, attempts, error, text_start FROM codevec.sync_failed;
DROP TRIGGER picky_check ON picky;
SELECT codevec.sync_retry('picky') AS requeued;
CALL codevec.sync('picky');
SELECT id, emb = codevec.embed(code) AS matches FROM picky ORDER BY id;
SELECT failed FROM codevec.sync_status WHERE "table" = 'picky'::regclass;
RESET codevec.sync_max_retries;

-- a batch holds at most batch_size advisory locks, however long the queue (and whatever
-- plan reads it: here a sequential scan)
CREATE TABLE many (code text, emb embedding(384));
INSERT INTO many SELECT 'def f' || i || '(): pass' FROM generate_series(1, 300) i;
SELECT codevec.enable_sync('many', 'code', 'emb', batch_size => 2) AS queued;
BEGIN;
SET LOCAL enable_indexscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT claimed, embedded FROM codevec.sync_batch('many');
SELECT count(*) AS advisory_locks FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
ROLLBACK;
SELECT codevec.disable_sync('many');
DROP TABLE many;

-- bad input: clear errors
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT codevec.enable_sync('no_such_table', 'code', 'emb');
SELECT codevec.enable_sync(NULL, 'code', 'emb');
SELECT codevec.enable_sync('sy', 'nope', 'emb');
SELECT codevec.enable_sync('sy', 'id', 'emb');
SELECT codevec.enable_sync('sy', 'code', 'note');
SELECT codevec.enable_sync('sy', 'code', 'code');
SELECT codevec.enable_sync('sy', 'code', 'emb', 'fp16');
SELECT codevec.enable_sync('sy', 'code', 'emb', batch_size => 0);
CREATE VIEW sy_view AS SELECT * FROM sy;
SELECT codevec.enable_sync('sy_view', 'code', 'emb');
CREATE TABLE gen (code text, emb embedding(384) GENERATED ALWAYS AS (codevec.embed(code)) STORED);
SELECT codevec.enable_sync('gen', 'code', 'emb');
CREATE TABLE dims (code text, emb embedding(3));
SELECT codevec.enable_sync('dims', 'code', 'emb');
CREATE TABLE sy2 (code text, other text, emb embedding(384), emb2 embedding(384));
SELECT codevec.enable_sync('sy2', 'code', 'emb');
SELECT codevec.enable_sync('sy2', 'other', 'emb2');
SELECT codevec.disable_sync('dims');
CALL codevec.sync('dims');
\set VERBOSITY terse
\set SHOW_CONTEXT errors

-- a hostile search_path changes nothing: every name inside is schema-qualified
CREATE SCHEMA sync_evil;
CREATE FUNCTION sync_evil.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'int8' $$;
CREATE FUNCTION sync_evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '-infinity'::timestamptz $$;
CREATE DOMAIN sync_evil.numeric AS int CHECK (VALUE < 0);
CREATE DOMAIN sync_evil.regclass AS int CHECK (VALUE < 0);
SET search_path = sync_evil, public, pg_catalog;
INSERT INTO sy2 VALUES ('under a hostile search_path');
CALL codevec.sync('sy2');
RESET search_path;
SELECT emb = codevec.embed(code) AS matches FROM sy2;
DROP SCHEMA sync_evil CASCADE;

-- disable_sync removes triggers, index and queue; embeddings written stay
INSERT INTO sy2 VALUES ('queued, then sync disabled');
SELECT codevec.disable_sync('sy2');
SELECT count(*) AS sync_triggers FROM pg_trigger WHERE tgrelid = 'sy2'::regclass;
SELECT count(*) AS sync_indexes FROM pg_index WHERE indrelid = 'sy2'::regclass;
SELECT count(*) AS entries FROM codevec.sync_queue q WHERE q.relid = 'sy2'::regclass;
SELECT code, emb IS NOT NULL AS embedded FROM sy2 ORDER BY code;

-- the status view and the worker list without preloading
SELECT count(*) AS workers FROM codevec.sync_workers();
SELECT "table", pending, in_progress, failed FROM codevec.sync_status ORDER BY "table"::text;

DROP TABLE sy, nokey, parted, sync_inh, sync_inh_child, picky, gen, dims, sy2 CASCADE;
DROP FUNCTION picky_check();
SELECT (SELECT count(*) FROM codevec.sync_config) AS configs, (SELECT count(*) FROM codevec.sync_queue) AS entries,
       (SELECT count(*) FROM codevec.sync_stats) AS stats;
RESET client_min_messages;
