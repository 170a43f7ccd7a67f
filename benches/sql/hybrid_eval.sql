-- Hybrid search quality through SQL (issue #12): after codesearch_eval.sql has filled the
-- table cs (2,000 docstring -> function pairs, codes embedded at f32), every query is
-- answered by codevec.search over all functions and ranked MRR@10 / R@1 / R@10, for
--   vector     codevec.search with vector_weight 1 and no priors (the vector leg alone)
--   bm25       vector_weight 0, no priors (the lexical leg alone)
--   fusion     the default weights, no priors
--   hybrid     the defaults: fusion + symbol and path priors
--   +adapter   hybrid with a query adapter trained on the even ids' pairs, tested on the
--              odd ids' queries (both rows of that split printed)
-- Each row's file is its path (or source) field and its symbol the symbol field, else the
-- Python def name (python-dev has only source).
\set ON_ERROR_STOP on
\timing off
SET client_min_messages = warning;
ALTER TABLE cs ADD COLUMN IF NOT EXISTS path text, ADD COLUMN IF NOT EXISTS symbol text;
UPDATE cs c SET path = coalesce(r.j->>'path', r.j->>'source'),
                symbol = coalesce(r.j->>'symbol', substring(c.code from '(?:^|\n)[ \t]*(?:async[ \t]+)?def[ \t]+([[:alnum:]_]+)'))
  FROM (SELECT row_number() OVER ()::int AS id, j FROM cs_raw) r WHERE r.id = c.id;
SELECT codevec.enable_search('cs', 'code', 'c_emb', path_column => 'path', symbol_column => 'symbol');

CREATE TEMP TABLE hybrid_runs (method text, split text, id int, rank int);
CREATE FUNCTION pg_temp.run(method text, split text, modulus int, rem int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO hybrid_runs
  SELECT method, split, q.id,
         (SELECT e.rank FROM codevec.search_explain(NULL::cs, q.query, 10) e WHERE (e.hit).id = q.id)
    FROM cs q WHERE q.id % modulus = rem;
END $$;

UPDATE codevec.search_config SET vector_weight = 1, symbol_weight = 0, path_weight = 0 WHERE relid = 'cs'::regclass;
SELECT pg_temp.run('vector', 'all', 1, 0);
UPDATE codevec.search_config SET vector_weight = 0, symbol_weight = 0, path_weight = 0 WHERE relid = 'cs'::regclass;
SELECT pg_temp.run('bm25', 'all', 1, 0);
UPDATE codevec.search_config SET vector_weight = 0.65, symbol_weight = 0, path_weight = 0 WHERE relid = 'cs'::regclass;
SELECT pg_temp.run('fusion', 'all', 1, 0);
UPDATE codevec.search_config SET vector_weight = DEFAULT, symbol_weight = DEFAULT, path_weight = DEFAULT WHERE relid = 'cs'::regclass;
\timing on
SELECT pg_temp.run('hybrid', 'all', 1, 0);
\timing off

-- the adapter: trained on the even ids' pairs, tested on the odd ids' queries
CREATE VIEW cs_even_pairs AS SELECT query, code FROM cs WHERE id % 2 = 0;
SELECT pg_temp.run('hybrid', 'odd', 2, 1);
\timing on
SELECT version, active, train_pairs, heldout_pairs, round(heldout_mrr_before::numeric, 4) AS heldout_before,
       round(heldout_mrr_after::numeric, 4) AS heldout_after, round(seconds::numeric, 1) AS seconds
  FROM codevec.train_adapter('cs', 'cs_even_pairs');
\timing off
SELECT pg_temp.run('hybrid+adapter', 'odd', 2, 1);
SELECT codevec.drop_adapter('cs') AS active_after_drop;
DROP VIEW cs_even_pairs;

SELECT method, split,
       round(avg(CASE WHEN rank <= 10 THEN 1.0 / rank ELSE 0 END), 4) AS mrr_at_10,
       round(avg((rank = 1)::int), 4) AS recall_at_1,
       round(avg((rank <= 10)::int), 4) AS recall_at_10,
       count(*) AS queries
  FROM (SELECT method, split, coalesce(rank, 1000) AS rank FROM hybrid_runs) r
 GROUP BY method, split
 ORDER BY split, array_position(ARRAY['vector', 'bm25', 'fusion', 'hybrid', 'hybrid+adapter'], method);
