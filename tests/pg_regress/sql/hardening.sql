-- Regression tests of the hardening review (issue #10), one block per item.
-- (embed_table's progress NOTICEs carry timings)
SET client_min_messages = warning;

-- item 0 / 4: exact answers on every CPU, right for every finite input
SELECT '[1,0]'::embedding <=> '[-1,0]' AS opposite_is_2,
       '[3,4,5]'::embedding <=> '[-3,-4,-5]' AS opposite3_is_2,
       '[1,0]'::halfembedding <=> '[-1,0]' AS half_opposite_is_2;
SELECT '[2e19,0]'::embedding <=> '[-1,0]' AS huge_norm_cosine,
       round(('[1e-20,1e-20]'::embedding <=> '[1e-20,-2e-20]')::numeric, 6) AS tiny_norm_cosine,
       '[3e19,4e19]'::embedding <-> '[0,0]' AS huge_l2,
       '[3e19,4e19]'::embedding <#> '[3e19,4e19]' AS huge_ip,
       '[1e-30,0]'::embedding <-> '[0,0]' AS tiny_l2;
-- a huge-norm row and a tiny query do not break a cosine index scan
CREATE TABLE h_cos (id int, v embedding(2));
INSERT INTO h_cos VALUES (1,'[1,0]'),(2,'[0,1]'),(3,'[-1,0.1]'),(4,'[2e19,1]');
CREATE INDEX ON h_cos USING ivf (v embedding_cosine_ops);
SET enable_seqscan = off;
SELECT id, v <=> '[-1,0]' AS d FROM h_cos ORDER BY v <=> '[-1,0]', id LIMIT 4;
SELECT id, v <=> '[-1e-20,0]' AS d FROM h_cos ORDER BY v <=> '[-1e-20,0]', id LIMIT 4;
RESET enable_seqscan;

-- item 1: types are never resolved through search_path
CREATE DOMAIN pg_temp.embedding AS int8;
SELECT codevec.embed_batch(ARRAY['hi'])::text LIKE '{"[%' AS real_vectors,
       pg_typeof(codevec.embed_batch(ARRAY['hi'])) AS result_type,
       (codevec.embed_batch(ARRAY['hi']))[1] = codevec.embed('hi') AS element_ok;
DROP DOMAIN pg_temp.embedding;
SET search_path = pg_catalog;
SELECT cardinality(codevec.embed_batch(ARRAY['x', NULL])) AS works_without_public;
RESET search_path;

-- item 2: embed_table on partitions and inheritance children writes each row's own embedding
CREATE TABLE docs (part int, id int, body text, emb embedding(384)) PARTITION BY LIST (part);
CREATE TABLE docs_a PARTITION OF docs FOR VALUES IN (1);
CREATE TABLE docs_b PARTITION OF docs FOR VALUES IN (2);
INSERT INTO docs VALUES (1,1,'how to parse json in rust',NULL),(1,2,'sorting a list in python',NULL),
                        (2,3,'postgres vacuum internals',NULL),(2,4,'reading a file line by line in go',NULL);
CALL codevec.embed_table('docs', 'body', 'emb', 64);
SELECT id, emb = codevec.embed(body) AS own_embedding FROM docs ORDER BY id;
-- an already embedded row is never overwritten
UPDATE docs SET emb = codevec.embed('something else') WHERE id = 2;
UPDATE docs SET emb = NULL WHERE id = 3;
CALL codevec.embed_table('docs', 'body', 'emb', 64);
SELECT id, emb = codevec.embed(body) AS own, emb = codevec.embed('something else') AS kept FROM docs ORDER BY id;
CREATE TABLE inh_parent (id int, body text, emb embedding(384));
CREATE TABLE inh_child () INHERITS (inh_parent);
INSERT INTO inh_parent VALUES (1, 'alpha', NULL), (2, 'beta', NULL);
INSERT INTO inh_child VALUES (3, 'gamma', NULL), (4, 'delta', NULL);
CALL codevec.embed_table('inh_parent', 'body', 'emb', 1);
SELECT id, emb = codevec.embed(body) AS own FROM inh_parent ORDER BY id;
-- a hostile search_path does not change what embed_table calls
CREATE SCHEMA evil;
CREATE FUNCTION evil.count(anyelement) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
SET search_path = evil, public;
UPDATE docs SET emb = NULL WHERE id = 4;
CALL codevec.embed_table('docs', 'body', 'emb', 64);
RESET search_path;
SELECT count(*) FILTER (WHERE emb = codevec.embed(body)) AS all_own FROM docs;
DROP SCHEMA evil CASCADE;
SELECT try($$CALL codevec.embed_table(NULL, 'body', 'emb')$$);

-- item 5: no non-finite vector can be made
SELECT try($$SELECT embedding_sum_final('{1,NaN,Infinity}')$$);
SELECT try($$SELECT embedding_avg_final('{0.0000001,1}')$$);
SELECT try($$SELECT embedding_avg_final('{-1,1}')$$);
SELECT try($$SELECT halfembedding_sum_final('{1,NaN}')$$);
SELECT try($$SELECT embedding_sum_final('{1}')$$);
SELECT avg(v) AS avg_ok FROM (VALUES ('[1,2]'::embedding), ('[3,4]')) t(v);

-- item 7: only a real cancel stops an index build
CREATE TABLE bld (v embedding(8));
INSERT INTO bld SELECT ARRAY[sin(i), cos(i), sin(2*i), cos(2*i), sin(3*i), cos(3*i), sin(5*i), cos(5*i)]::real[]::embedding
  FROM generate_series(1, 20000) i;
SET client_connection_check_interval = '1ms';
CREATE INDEX bld_idx ON bld USING ivf (v embedding_l2_ops);
RESET client_connection_check_interval;
SELECT count(*) AS rows_indexed FROM bld;

-- item 9: every ORDER BY slot is filled
CREATE TABLE ipx (id int, v embedding(2));
INSERT INTO ipx SELECT i, ARRAY[i % 5, i % 3]::real[]::embedding FROM generate_series(1, 100) i;
CREATE INDEX ON ipx USING ivf (v embedding_ip_ops);
SET enable_seqscan = off;
SELECT id FROM ipx ORDER BY v <#> '[0,0]', v <#> '[1,1]', id LIMIT 5;
SELECT v, v <#> '[1,1]' AS second FROM ipx ORDER BY v <#> '[0,0]', v <#> '[1,1]' LIMIT 3;
RESET enable_seqscan;

-- item 10: VACUUM with several index passes counts each live entry once
CREATE TABLE vac (id int, v embedding(2)) WITH (autovacuum_enabled = off);
INSERT INTO vac SELECT i, ARRAY[sin(i), cos(i)]::real[]::embedding FROM generate_series(1, 200000) i;
CREATE INDEX vac_idx ON vac USING ivf (v embedding_l2_ops);
DELETE FROM vac WHERE id % 10 <> 0;
SET maintenance_work_mem = '1MB';
VACUUM vac;
RESET maintenance_work_mem;
SELECT reltuples AS index_reltuples FROM pg_class WHERE relname = 'vac_idx';

-- item 15: encoder threads are capped by a superuser setting
SET codevec.max_encoder_threads = 1;
SET codevec.encoder_threads = 8;
SELECT threads FROM codevec.encoder_info();
RESET codevec.encoder_threads;
RESET codevec.max_encoder_threads;
CREATE ROLE h_user;
SET ROLE h_user;
SELECT try($$SET codevec.max_encoder_threads = 64$$);
RESET ROLE;
DROP ROLE h_user;

-- item 18: 2-D arrays are not vectors; the codevec prefix is reserved
SELECT try($$SELECT ARRAY[[1,2],[3,4]]::real[]::embedding$$);
SELECT try($$SELECT ARRAY[[1,2],[3,4]]::float8[]::halfembedding$$);
SELECT try($$SELECT ARRAY[[1,2],[3,4]]::int[]::embedding$$);
SELECT try($$SELECT ARRAY[[1,2],[3,4]]::numeric[]::embedding$$);
SELECT try($$SET codevec.prbes = 10$$);
SELECT try($$SET codevec.iterative_scan = sideways$$);

-- item 19: ivf scans are counted; a generic plan embeds the parameter once, through the index
CREATE TABLE st (id int, v embedding(2));
INSERT INTO st SELECT i, ARRAY[sin(i), cos(i)]::real[]::embedding FROM generate_series(1, 1000) i;
CREATE INDEX st_idx ON st USING ivf (v embedding_l2_ops);
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM st ORDER BY v <-> '[1,0]' LIMIT 3) s;
RESET enable_seqscan;
SELECT pg_stat_force_next_flush();
SELECT idx_scan > 0 AS counted FROM pg_stat_user_indexes WHERE indexrelname = 'st_idx';
CREATE TABLE sn (id int, code text, emb embedding(384));
INSERT INTO sn SELECT i, 'function number ' || i, NULL FROM generate_series(1, 300) i;
CALL codevec.embed_table('sn', 'code', 'emb', 100);
CREATE INDEX ON sn USING ivf (emb embedding_cosine_ops);
ANALYZE sn;
PREPARE gq(text) AS SELECT id FROM sn ORDER BY emb <=> codevec.embed($1) LIMIT 3;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE gq('function number 7');
RESET plan_cache_mode;
DEALLOCATE gq;

-- strict order by default: a filtered query past the first batch stays sorted and reaches its LIMIT
CREATE TABLE ord (id int, v embedding(8));
INSERT INTO ord SELECT i, ARRAY[sin(i), cos(i*1.1), sin(i*1.7), cos(i*2.3), sin(i*2.9), cos(i*3.1), sin(i*3.7), cos(i*4.3)]::real[]::embedding
  FROM generate_series(1, 4000) i;
CREATE INDEX ON ord USING ivf (v embedding_l2_ops) WITH (lists = 40);
SET enable_seqscan = off;
SHOW codevec.iterative_scan;
SELECT bool_and(d >= prev) AS sorted, count(*) AS n FROM (
  SELECT d, lag(d, 1, 0::float8) OVER (ORDER BY rn) AS prev FROM (
    SELECT v <-> '[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]' AS d, row_number() OVER () AS rn
    FROM (SELECT v FROM ord WHERE id % 7 = 0 ORDER BY v <-> '[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]' LIMIT 400) q) r) s;
RESET enable_seqscan;

-- index_recall runs its SQL with a safe search_path: neither a missing schema nor a
-- hijacking operator earlier in search_path changes what it measures
SET search_path = pg_catalog;
SELECT codevec.index_recall('public.st_idx', 3, 5) > 0.5 AS recall_without_public;
RESET search_path;
CREATE SCHEMA evil2;
CREATE FUNCTION evil2.fake_l2(embedding, embedding) RETURNS float8 LANGUAGE sql AS 'SELECT 0::float8';
CREATE OPERATOR evil2.<-> (LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = evil2.fake_l2);
SET search_path = evil2, public;
SELECT codevec.index_recall('st_idx', 3, 5) > 0.5 AS recall_not_hijacked;
RESET search_path;
DROP SCHEMA evil2 CASCADE;

-- item 17: TRUNCATE in the transaction that created the table keeps the relfilenode; the
-- retrained model (new dimensions even) must not be mistaken for the cached one
BEGIN;
CREATE TABLE tr (v embedding);
CREATE INDEX tr_idx ON tr USING ivf (v embedding_l2_ops);
INSERT INTO tr VALUES ('[1,2,3]');
SET LOCAL enable_seqscan = off;
SELECT v FROM tr ORDER BY v <-> '[1,2,3]' LIMIT 1;
SELECT pg_relation_filenode('tr_idx') AS node \gset
TRUNCATE tr;
SELECT pg_relation_filenode('tr_idx') = :node AS same_relfilenode;
INSERT INTO tr VALUES ('[1,2,3,4]'), ('[4,3,2,1]');
SELECT v FROM tr ORDER BY v <-> '[4,3,2,1]' LIMIT 1;
COMMIT;
