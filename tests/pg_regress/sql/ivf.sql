-- the ivf index access method: SQL surface, options, GUCs, plans, bad input
SELECT amname, amtype FROM pg_am WHERE amname = 'ivf';
SELECT opcname FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod WHERE a.amname = 'ivf' ORDER BY 1;
SELECT count(*) AS uncommented FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
  WHERE a.amname = 'ivf' AND obj_description(c.oid, 'pg_opclass') IS NULL;
SELECT obj_description('codevec.index_recall(regclass, integer, integer)'::regprocedure) IS NOT NULL AS recall_commented;

CREATE TABLE ivf_t (id int PRIMARY KEY, tag int, v embedding(3));
INSERT INTO ivf_t SELECT i, i % 10, ARRAY[sin(i), cos(i * 0.7), sin(i * 1.3) + (i % 7)]::real[]::embedding
  FROM generate_series(1, 2000) i;
INSERT INTO ivf_t VALUES (0, 0, NULL);
CREATE INDEX ivf_t_l2 ON ivf_t USING ivf (v embedding_l2_ops) WITH (lists = 20);

-- ORDER BY ... LIMIT uses the index; no ORDER BY never does
EXPLAIN (COSTS OFF) SELECT id FROM ivf_t ORDER BY v <-> '[0,1,2]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_t WHERE tag = 3 ORDER BY v <-> '[0,1,2]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_t;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_t WHERE v IS NOT NULL;
-- a cursor with ORDER BY and no LIMIT still prefers the index
EXPLAIN (COSTS OFF) DECLARE c CURSOR FOR SELECT id FROM ivf_t ORDER BY v <-> '[0,1,2]';

-- every list probed: exactly the exact scan, with exact distances
SET codevec.probes = 20;
SELECT id, round((v <-> '[0,1,2]')::numeric, 6) AS d FROM ivf_t ORDER BY v <-> '[0,1,2]' LIMIT 5;
SET enable_indexscan = off;
SELECT id, round((v <-> '[0,1,2]')::numeric, 6) AS d FROM ivf_t ORDER BY v <-> '[0,1,2]' LIMIT 5;
RESET enable_indexscan;
RESET codevec.probes;
-- filtered LIMIT returns the full LIMIT
SELECT count(*) FROM (SELECT id FROM ivf_t WHERE tag = 3 ORDER BY v <-> '[0,1,2]' LIMIT 50) s;
SET codevec.probes = 1;
SELECT count(*) FROM (SELECT id FROM ivf_t WHERE tag = 3 ORDER BY v <-> '[0,1,2]' LIMIT 50) s;
RESET codevec.probes;
-- NULL query through the index (a generic plan keeps the parameter): no rows
PREPARE q(embedding) AS SELECT id FROM ivf_t ORDER BY v <-> $1 LIMIT 5;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE q(NULL);
EXECUTE q(NULL);
SELECT count(*) FROM (SELECT 1 FROM ivf_t ORDER BY v <-> '[0,1,2]' LIMIT 5) s;
RESET plan_cache_mode;
DEALLOCATE q;

-- GUCs: namespaced, settable with SET LOCAL, range-checked
BEGIN;
SET LOCAL codevec.probes = 3;
SET LOCAL codevec.rerank = 500;
SET LOCAL codevec.max_probes = 5;
SHOW codevec.probes;
SHOW codevec.max_probes;
COMMIT;
SHOW codevec.probes;
SELECT try($$SET codevec.probes = -1$$);
SELECT try($$SET codevec.rerank = -5$$);

-- options
SELECT try($$CREATE INDEX ON ivf_t USING ivf (v embedding_l2_ops) WITH (lists = 0)$$);
SELECT try($$CREATE INDEX ON ivf_t USING ivf (v embedding_l2_ops) WITH (lists = -3)$$);
SELECT try($$CREATE INDEX ON ivf_t USING ivf (v embedding_l2_ops) WITH (lists = 100000)$$);
SELECT try($$CREATE INDEX ON ivf_t USING ivf (v embedding_l2_ops) WITH (probes = 3)$$);
SELECT try($$CREATE INDEX ON ivf_t USING ivf (v embedding_l2_ops, tag)$$);
SELECT try($$CREATE INDEX ON ivf_t USING ivf (tag)$$);

-- bad input: dimension mismatch of the query, of an insert
SELECT try($$SELECT id FROM ivf_t ORDER BY v <-> '[1,2]' LIMIT 1$$);
SELECT try($$INSERT INTO ivf_t VALUES (-1, 0, '[1,2,3,4]')$$);

-- mixed dimensions in an unconstrained column
CREATE TABLE ivf_mixed (v embedding);
INSERT INTO ivf_mixed VALUES ('[1,2,3]'), ('[1,2]');
SELECT try($$CREATE INDEX ON ivf_mixed USING ivf (v embedding_l2_ops)$$);
CREATE INDEX ivf_mixed_3 ON ivf_mixed USING ivf (v embedding_cosine_ops) WHERE dims(v) = 3;
SELECT try($$INSERT INTO ivf_mixed VALUES ('[1,2,3,4]')$$);

-- an empty table: a valid index with a NOTICE; the first insert trains it
CREATE TABLE ivf_empty (v halfembedding(2));
CREATE INDEX ivf_empty_idx ON ivf_empty USING ivf (v halfembedding_ip_ops);
INSERT INTO ivf_empty VALUES ('[1,0]'), ('[0,1]'), ('[0.5,0.5]'), (NULL);
SELECT v FROM ivf_empty ORDER BY v <#> '[1,0.1]' LIMIT 3;

-- fewer rows than lists
CREATE TABLE ivf_few (v embedding(2));
INSERT INTO ivf_few VALUES ('[1,0]'), ('[0,1]'), ('[2,2]');
CREATE INDEX ivf_few_idx ON ivf_few USING ivf (v embedding_l2_ops) WITH (lists = 10);
SELECT v FROM ivf_few ORDER BY v <-> '[1,1]' LIMIT 3;

-- maintenance_work_mem bound
SET maintenance_work_mem = '1MB';
CREATE TABLE ivf_big (v embedding(512));
INSERT INTO ivf_big SELECT array_fill(i::real, ARRAY[512])::embedding FROM generate_series(1, 1000) i;
SELECT try($$CREATE INDEX ON ivf_big USING ivf (v embedding_l2_ops)$$);
RESET maintenance_work_mem;

-- REINDEX, CONCURRENTLY, expression and partial indexes
REINDEX INDEX ivf_t_l2;
CREATE INDEX CONCURRENTLY ivf_t_cos ON ivf_t USING ivf (v embedding_cosine_ops);
REINDEX INDEX CONCURRENTLY ivf_t_cos;
CREATE INDEX ivf_t_expr ON ivf_t USING ivf ((v::halfembedding) halfembedding_l2_ops) WHERE tag < 5;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_t WHERE tag < 5 ORDER BY v::halfembedding <-> '[0,1,2]' LIMIT 3;
SELECT count(*) FROM (SELECT id FROM ivf_t WHERE tag < 5 ORDER BY v::halfembedding <-> '[0,1,2]' LIMIT 30) s;
RESET enable_seqscan;

-- recall self-check
SELECT codevec.index_recall('ivf_t_l2', 5, 20) >= 0.9 AS recall_ok;
SELECT try($$SELECT codevec.index_recall('ivf_t_l2', 0)$$);
SELECT try($$SELECT codevec.index_recall('ivf_t_pkey')$$);

-- vacuum
DELETE FROM ivf_t WHERE id % 2 = 0;
VACUUM ivf_t;
SET codevec.probes = 20;
SELECT count(*) FROM (SELECT id FROM ivf_t ORDER BY v <-> '[0,1,2]') s;
-- VACUUM freed the dead rows' space (f16 slots, code entries): the same rows inserted
-- again fit in it, and every list probed still gives the exact answer
SELECT pg_relation_size('ivf_t_l2') AS l2_size, pg_relation_size('ivf_t_cos') AS cos_size \gset
INSERT INTO ivf_t SELECT i, i % 10, ARRAY[sin(i), cos(i * 0.7), sin(i * 1.3) + (i % 7)]::real[]::embedding
  FROM generate_series(2, 2000, 2) i;
SELECT pg_relation_size('ivf_t_l2') = :l2_size AS l2_same_size,
       pg_relation_size('ivf_t_cos') = :cos_size AS cos_same_size;
SELECT count(*) FROM (SELECT id FROM ivf_t ORDER BY v <-> '[0,1,2]') s;
SELECT id, round((v <-> '[0,1,2]')::numeric, 6) AS d FROM ivf_t ORDER BY v <-> '[0,1,2]' LIMIT 5;

DROP TABLE ivf_t, ivf_mixed, ivf_empty, ivf_few, ivf_big;
