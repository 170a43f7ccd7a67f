-- the bundled encoder in SQL
SELECT dims(codevec.embed('parse a date string')) AS dims,
       round(l2_norm(codevec.embed('parse a date string'))::numeric, 5) AS norm;
SELECT codevec.embed(NULL) IS NULL AS null_in_null_out;
SELECT dims(codevec.embed('')) AS empty_string_dims, codevec.token_count('') AS empty_tokens;
SELECT codevec.token_count('Parse a date string') AS tokens;
-- long input is truncated to 256 word pieces, the same embedding as its 256-token prefix
SELECT codevec.token_count(repeat('word ', 100000)) AS long_tokens;
SELECT codevec.embed(repeat('alpha beta ', 50000)) = codevec.embed(repeat('alpha beta ', 200)) AS truncated_like_prefix;
-- embed_batch: same order, NULLs kept, same values as embed
SELECT cardinality(codevec.embed_batch(ARRAY['a', NULL, 'b'])) AS n,
       (codevec.embed_batch(ARRAY['a', NULL, 'b']))[2] IS NULL AS middle_null,
       (codevec.embed_batch(ARRAY['x', 'def f(): pass']))[2] = codevec.embed('def f(): pass') AS same_as_embed;
SELECT codevec.embed_batch('{}'::text[]) AS empty_batch;
-- deterministic: the same text twice gives bit-identical vectors
SELECT codevec.embed('def add(a, b): return a + b') = codevec.embed('def add(a, b): return a + b') AS deterministic;
-- plain-SQL code search over a generated column
CREATE TABLE snippets (id bigserial PRIMARY KEY, path text, code text,
  emb embedding(384) GENERATED ALWAYS AS (codevec.embed(code)) STORED);
INSERT INTO snippets (path, code) VALUES
  ('dates.py',  'def parse_date(s):\n    return datetime.strptime(s, "%Y-%m-%d")'),
  ('http.py',   'def fetch(url):\n    return requests.get(url, timeout=10).text'),
  ('mathx.py',  'def mean(xs):\n    return sum(xs) / len(xs)'),
  ('files.py',  'def read_lines(path):\n    with open(path) as f:\n        return f.read().splitlines()'),
  ('strings.py','def slugify(title):\n    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")');
SELECT path FROM snippets ORDER BY emb <=> codevec.embed('parse a date string') LIMIT 1;
SELECT path FROM snippets ORDER BY emb <=> codevec.embed('download a web page') LIMIT 1;
SELECT path FROM snippets ORDER BY emb <=> codevec.embed('average of a list of numbers') LIMIT 1;
-- embed_table fills a plain column in committed batches and is restartable
CREATE TABLE snippets2 (id int, code text, emb embedding(384));
INSERT INTO snippets2 SELECT id, code, NULL FROM snippets;
INSERT INTO snippets2 VALUES (99, NULL, NULL);
UPDATE snippets2 SET emb = codevec.embed(code) WHERE id = 1;
-- (progress NOTICEs carry timings: keep them out of the expected output)
SET client_min_messages = warning;
CALL codevec.embed_table('snippets2', 'code', 'emb', 2);
RESET client_min_messages;
SELECT count(*) FILTER (WHERE emb IS NOT NULL) AS embedded, count(*) FILTER (WHERE emb IS NULL) AS null_text_rows,
       bool_and(emb = codevec.embed(code)) AS all_match FROM snippets2;
SELECT try($$CALL codevec.embed_table('snippets2', 'code', 'emb', 0)$$);
SELECT try($$CALL codevec.embed_table('snippets2', 'nope', 'emb', 8)$$);
-- reduced precision: int8 dense layers stay within cosine 0.995 of full precision
SELECT left(t, 20) AS text, length(t) AS len, 1 - (codevec.embed(t, 'int8') <=> codevec.embed(t)) >= 0.995 AS close,
       codevec.embed(t, 'f32') = codevec.embed(t) AS f32_same
FROM unnest(ARRAY['', 'parse a date string', 'def add(a, b):\n    return a + b', repeat('token ', 300)]) AS t;
SELECT (codevec.embed_batch(ARRAY['x', NULL, 'def f(): pass'], 'int8'))[3] = codevec.embed('def f(): pass', 'int8') AS int8_batch_same,
       (codevec.embed_batch(ARRAY['x', NULL], 'INT8'))[2] IS NULL AS int8_null_kept;
SELECT path FROM snippets ORDER BY emb <=> codevec.embed('parse a date string', 'int8') LIMIT 1;
SELECT try($$SELECT codevec.embed('x', 'fp4')$$);
SELECT codevec.embed('x', NULL) IS NULL AS null_precision_null;
SET client_min_messages = warning;
UPDATE snippets2 SET emb = NULL;
CALL codevec.embed_table('snippets2', 'code', 'emb', 3, 'int8');
RESET client_min_messages;
SELECT count(*) FILTER (WHERE emb IS NOT NULL) AS embedded,
       bool_and(emb = codevec.embed(code, 'int8')) AS all_int8 FROM snippets2;
-- an int8 generated column
CREATE TABLE snippets3 (code text, emb embedding(384) GENERATED ALWAYS AS (codevec.embed(code, 'int8')) STORED);
INSERT INTO snippets3 (code) SELECT code FROM snippets;
SELECT count(*) AS n, bool_and(s3.emb = codevec.embed(s3.code, 'int8')) AS same,
       bool_and(1 - (s3.emb <=> s.emb) >= 0.995) AS close_to_f32
FROM snippets3 s3 JOIN snippets s USING (code);
DROP TABLE snippets3;
-- what the backend loaded
SELECT model, dims, max_tokens, precision, threads, batch_size FROM codevec.encoder_info();
SELECT model, dims, precision FROM codevec.encoder_info('int8');
SHOW codevec.encoder_threads;
-- the model directory is superuser-only
CREATE ROLE codevec_regress_user;
SET ROLE codevec_regress_user;
SELECT try($$SET codevec.model_dir = '/tmp'$$);
RESET ROLE;
DROP ROLE codevec_regress_user;
-- a missing model directory is a clear error naming the path
SET codevec.model_dir = '/nonexistent/codevec-model';
SELECT try($$SELECT codevec.embed('x')$$);
RESET codevec.model_dir;
SELECT dims(codevec.embed('back to the installed model')) AS dims;
DROP TABLE snippets, snippets2;

-- A generic plan cannot fold codevec.embed($1), and the executor re-evaluates the ORDER BY
-- expression for every row an ivf scan returns: the memo makes that one model run per query.
CREATE TABLE memo_t (id int, emb embedding(384));
INSERT INTO memo_t SELECT i, codevec.embed('text number ' || i) FROM generate_series(1, 40) i;
CREATE INDEX ON memo_t USING ivf (emb embedding_cosine_ops);
SET plan_cache_mode = force_generic_plan;
PREPARE memo_q(text) AS SELECT id FROM memo_t ORDER BY emb <=> codevec.embed($1) LIMIT 10;
SELECT texts_embedded AS before FROM codevec.encoder_info() \gset
\o /dev/null
EXECUTE memo_q('a question embedded once');
\o
SELECT texts_embedded - :before AS model_runs, memo_hits > 0 AS rechecks_remembered FROM codevec.encoder_info();
RESET plan_cache_mode;
DROP TABLE memo_t;
