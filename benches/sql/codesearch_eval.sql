-- Code-search quality of codevec.embed on shared/data/codesearch-python-dev.jsonl:
-- every query ranked against all 2,000 functions by cosine distance, in SQL.
-- psql variable :datafile names the JSONL file; :precision is f32 (default) or int8.
\set ON_ERROR_STOP on
\if :{?precision}
\else
\set precision f32
\endif
\timing off
CREATE EXTENSION IF NOT EXISTS codevec;
DROP TABLE IF EXISTS cs_raw, cs;
CREATE TABLE cs_raw (j jsonb);
-- CSV with quote/delimiter bytes that never occur: each line is read verbatim (no backslash escapes)
COPY cs_raw FROM :'datafile' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02');
CREATE TABLE cs AS
  SELECT row_number() OVER ()::int AS id, j->>'query' AS query, j->>'code' AS code,
         NULL::embedding(384) AS q_emb, NULL::embedding(384) AS c_emb
  FROM cs_raw;
SELECT count(*) AS pairs FROM cs;
\timing on
CALL codevec.embed_table('cs', 'code', 'c_emb', 64, :'precision');
CALL codevec.embed_table('cs', 'query', 'q_emb', 64, :'precision');
\timing off
WITH ranks AS (
  SELECT q.id,
         1 + (SELECT count(*) FROM cs d WHERE (d.c_emb <=> q.q_emb) < (q.c_emb <=> q.q_emb)) AS rank
  FROM cs q)
SELECT :'precision' AS precision,
       round(avg(CASE WHEN rank <= 10 THEN 1.0 / rank ELSE 0 END), 4) AS mrr_at_10,
       round(avg((rank = 1)::int), 4) AS recall_at_1,
       round(avg((rank <= 10)::int), 4) AS recall_at_10,
       count(*) AS queries
FROM ranks;
