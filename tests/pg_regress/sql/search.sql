-- Hybrid search (issue #12): enable_search / disable_search, codevec.search and
-- search_explain, the filter, the BM25 statistics under writes, the adapter's gate and
-- rollback, and the errors. Scores of the vector leg depend on float rounding, so only
-- ranks are shown for it; BM25 is plain f64 arithmetic and shown rounded.
SET client_min_messages = warning;

CREATE TABLE srch (id int PRIMARY KEY, path text, symbol text, language text, doc text, code text, emb embedding(384));
INSERT INTO srch (id, path, symbol, language, doc, code) VALUES
 (1, 'src/dates.py', 'parse_date', 'python', 'Parse a date string into a date.',
     E'def parse_date(s):\n    return datetime.strptime(s, "%Y-%m-%d").date()'),
 (2, 'src/urls.py', 'parse_url', 'python', 'Split a URL into its parts.',
     E'def parse_url(u):\n    return urllib.parse.urlsplit(u)'),
 (3, 'src/json/decoder.py', 'decode', 'python', 'Decode a JSON document.',
     E'def decode(doc):\n    return json.loads(doc)'),
 (4, 'src/distance.rs', 'cosine_distance', 'rust', 'Cosine distance of two vectors.',
     'pub fn cosine_distance(a: &[f32], b: &[f32]) -> f64 { 1.0 - dot(a, b) / (norm(a) * norm(b)) }'),
 (5, 'src/read.rs', 'read_to_string', 'rust', 'Read a whole file into a string.',
     'pub fn read_to_string(path: &Path) -> io::Result<String> { std::fs::read_to_string(path) }'),
 (6, 'tests/dates_test.py', 'test_parse_date', 'python', NULL,
     E'def test_parse_date():\n    assert parse_date("2024-01-02").day == 2');
UPDATE srch SET emb = codevec.embed(code);

-- errors before enabling
SELECT * FROM codevec.search(NULL::srch, 'parse a date', 3);
SELECT codevec.enable_search('srch', 'nope', 'emb');
SELECT codevec.enable_search('srch', 'id', 'emb');
SELECT codevec.enable_search('srch', 'code', 'code');
SELECT codevec.enable_search('srch', 'code', 'emb', symbol_column => 'missing');
SELECT codevec.enable_search('pg_class', 'relname', 'relname');
SELECT codevec.enable_search(NULL, 'code', 'emb');

SELECT codevec.enable_search('srch', 'code', 'emb') AS rows_indexed;
SELECT relid, text_column, embedding_column, path_column, symbol_column, language_column, doc_column, "precision"
  FROM codevec.search_config;
-- idempotent
SELECT codevec.enable_search('srch', 'code', 'emb') AS rows_indexed_again;
-- another text column needs disable_search first
SELECT codevec.enable_search('srch', 'doc', 'emb');

-- the lexical column: code tokens with their counts
SELECT codevec_lex FROM srch WHERE id = 2;
SELECT codevec.lexical_vector('HTTPServer parse_url parseURL2 std::fs::read_to_string x x x');
SELECT codevec.lexical_length(codevec.lexical_vector('a b a_b a'));
SELECT term, qtf FROM codevec.query_terms('Parse a date, parse it!');

-- search: the table's own rows, best first
SELECT id, symbol FROM codevec.search(NULL::srch, 'parse a date string', 3);
SELECT id, symbol FROM codevec.search(NULL::srch, 'read a file into a string', 2);
SELECT id FROM codevec.search(NULL::srch, 'cosine distance between two vectors', 1);
-- WITH ORDINALITY gives the rank
SELECT r.ord, r.id FROM codevec.search(NULL::srch, 'decode json', 2) WITH ORDINALITY AS r(id, path, symbol, language, doc, code, emb, lex, ord);
-- why a row came first
SELECT rank, vector_rank, lexical_rank, round(lexical_score::numeric, 4) AS bm25,
       round(symbol_prior::numeric, 3) AS symbol, round(path_prior::numeric, 3) AS path, (hit).id
  FROM codevec.search_explain(NULL::srch, 'parse a date string', 3);
-- every hit is a row of the table, k of them at most
SELECT count(*) FROM codevec.search(NULL::srch, 'x', 1000);

-- filters: applied in both legs before fusion; values are converted to the column's type
SELECT id FROM codevec.search(NULL::srch, 'parse', 10, '{"language": "rust"}') ORDER BY id;
SELECT id FROM codevec.search(NULL::srch, 'parse', 10, '{"id": [1, "3"]}') ORDER BY id;
SELECT id FROM codevec.search(NULL::srch, 'parse', 10, '{"doc": null}') ORDER BY id;
SELECT id FROM codevec.search(NULL::srch, 'parse', 10, '{"language": "rust", "symbol": "read_to_string"}');
SELECT count(*) FROM codevec.search(NULL::srch, 'parse', 10, '{"language": "cobol"}');
-- nothing in the filter becomes SQL
SELECT count(*) FROM codevec.search(NULL::srch, 'parse', 10, '{"language": "x''); DROP TABLE srch; --"}');
SELECT count(*) FROM codevec.search(NULL::srch, 'parse', 10, '{"language = language OR true --": "x"}');
SELECT count(*) FROM srch;
-- filter errors
SELECT * FROM codevec.search(NULL::srch, 'parse', 10, '["language"]');
SELECT * FROM codevec.search(NULL::srch, 'parse', 10, '{"language": {"a": 1}}');
SELECT * FROM codevec.search(NULL::srch, 'parse', 10, '{"language": [["rust"]]}');
SELECT * FROM codevec.search(NULL::srch, 'parse', 10, '{"id": "one"}');

-- a hostile search_path changes nothing: operators and functions earlier in the path
-- are never called by the search
CREATE SCHEMA srch_evil;
CREATE FUNCTION srch_evil.tideq(tid, tid) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked'; END $$;
CREATE OPERATOR srch_evil.= (LEFTARG = tid, RIGHTARG = tid, FUNCTION = srch_evil.tideq);
CREATE FUNCTION srch_evil.row_number() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked'; END $$;
SET search_path = srch_evil, pg_catalog, public;
SELECT id FROM codevec.search(NULL::srch, 'cosine distance between two vectors', 1);
SELECT count(*) FROM codevec.lexical_term_stats('srch', ARRAY['parse', '']);
RESET search_path;
DROP SCHEMA srch_evil CASCADE;

-- question and k errors
SELECT * FROM codevec.search(NULL::srch, NULL, 3);
SELECT * FROM codevec.search(NULL::srch, '   ', 3);
SELECT * FROM codevec.search(NULL::srch, 'parse', 0);
SELECT * FROM codevec.search(NULL::srch, 'parse', 1001);
SELECT * FROM codevec.search(NULL::int, 'parse', 3);
SELECT * FROM codevec.search(NULL::pg_class, 'parse', 3);

-- BM25 statistics stay right under writes: the incremental numbers equal a recount
CREATE FUNCTION pg_temp.stats_match(tbl regclass) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE bad bigint;
BEGIN
  EXECUTE format($q$
    WITH truth AS (
      SELECT '' AS term, count(*) AS df, coalesce(sum(codevec.lexical_length(codevec_lex)), 0) AS len
        FROM %1$s WHERE codevec_lex IS NOT NULL
      UNION ALL
      SELECT u.term, count(*), 0 FROM %1$s t, unnest(tsvector_to_array(t.codevec_lex)) u(term) GROUP BY u.term),
    kept AS (
      SELECT s.term, s.df, s.len FROM codevec.lexical_term_stats($1,
        ARRAY(SELECT term FROM codevec.lexical_stats WHERE relid = $1 UNION SELECT term FROM codevec.lexical_delta WHERE relid = $1 UNION SELECT term FROM truth)) s)
    SELECT count(*) FROM truth FULL JOIN kept USING (term)
     WHERE coalesce(truth.df, 0) <> coalesce(kept.df, 0) OR coalesce(truth.len, 0) <> coalesce(kept.len, 0)$q$, tbl)
    INTO bad USING tbl;
  RETURN bad = 0;
END $$;
SELECT pg_temp.stats_match('srch');
INSERT INTO srch (id, path, symbol, language, code) SELECT 100 + i, 'gen.py', 'f' || i, 'python', 'def f' || i || '(x): return x * ' || i FROM generate_series(1, 40) i;
SELECT pg_temp.stats_match('srch');
UPDATE srch SET code = code || ' # parse again' WHERE id % 3 = 0;
UPDATE srch SET language = 'py' WHERE language = 'python';   -- text unchanged: no delta
DELETE FROM srch WHERE id BETWEEN 110 AND 125;
COPY srch (id, path, symbol, language, code) FROM stdin;
200	a.rs	alpha	rust	fn alpha() -> u8 { 1 }
201	b.rs	beta	rust	fn beta(x: u8) -> u8 { alpha() + x }
\.
SELECT pg_temp.stats_match('srch');
-- a rolled-back write leaves no trace
BEGIN;
DELETE FROM srch WHERE id < 100;
ROLLBACK;
SELECT pg_temp.stats_match('srch');
-- a writer that may not read the statistics keeps them right (SECURITY DEFINER triggers)
CREATE ROLE srch_writer;
GRANT USAGE ON SCHEMA codevec TO srch_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON srch TO srch_writer;
SET ROLE srch_writer;
INSERT INTO srch (id, path, symbol, language, code) VALUES (300, 'w.py', 'w', 'python', 'def written_by_writer(): pass');
DELETE FROM srch WHERE id = 200;
RESET ROLE;
SELECT pg_temp.stats_match('srch');
-- deltas fold into lexical_stats without changing the sums
SELECT count(*) > 0 AS has_deltas FROM codevec.lexical_delta WHERE relid = 'srch'::regclass;
SELECT codevec.lexical_fold('srch');
SELECT count(*) AS deltas_left FROM codevec.lexical_delta WHERE relid = 'srch'::regclass;
SELECT pg_temp.stats_match('srch');
SELECT df AS rows_counted FROM codevec.lexical_term_stats('srch', ARRAY['']);
TRUNCATE srch;
SELECT df, len FROM codevec.lexical_term_stats('srch', ARRAY['']);
SELECT pg_temp.stats_match('srch');
SELECT count(*) FROM codevec.search(NULL::srch, 'parse', 3);

-- a reader without SELECT on the table sees neither its statistics nor its rows
CREATE ROLE srch_stranger;
SET ROLE srch_stranger;
SELECT count(*) FROM codevec.lexical_stats;
SELECT count(*) FROM codevec.search_config;
SELECT * FROM codevec.search(NULL::srch, 'parse', 3);
SELECT codevec.lexical_fold('srch');
RESET ROLE;

-- partitioned tables: DML through the parent and on a partition directly
CREATE TABLE srch_p (id int, lang text, code text, emb embedding(384)) PARTITION BY LIST (lang);
CREATE TABLE srch_p_py PARTITION OF srch_p FOR VALUES IN ('python');
CREATE TABLE srch_p_rs PARTITION OF srch_p FOR VALUES IN ('rust');
INSERT INTO srch_p VALUES (1, 'python', 'def parse_date(s): pass', NULL), (2, 'rust', 'fn parse_url(u: &str) {}', NULL);
SELECT codevec.enable_search('srch_p', 'code', 'emb') AS rows_indexed;
SELECT codevec.enable_search('srch_p_py', 'code', 'emb');
INSERT INTO srch_p_rs VALUES (3, 'rust', 'fn read_file(p: &Path) {}', NULL);
UPDATE srch_p SET lang = 'rust', code = 'fn parse_date(s: &str) {}' WHERE id = 1;   -- moves partition
DELETE FROM srch_p_py;
SELECT pg_temp.stats_match('srch_p');
TRUNCATE srch_p_rs;   -- a partition emptied on its own: recounted
INSERT INTO srch_p VALUES (4, 'python', 'def decode(doc): return json.loads(doc)', NULL);
SELECT pg_temp.stats_match('srch_p');
-- a partition created later counts too, also for DML addressed to it directly
CREATE TABLE srch_p_go PARTITION OF srch_p FOR VALUES IN ('go');
INSERT INTO srch_p_go VALUES (5, 'go', 'func ParseDate(s string) (time.Time, error)', NULL);
UPDATE srch_p_go SET code = code || ' // parse';
SELECT pg_temp.stats_match('srch_p');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'srch_p_go'::regclass ORDER BY 1;
-- ATTACH and DETACH of partitions holding rows are followed: triggers moved, recounted
CREATE TABLE srch_p_js (LIKE srch_p INCLUDING GENERATED);
INSERT INTO srch_p_js (id, lang, code) VALUES (6, 'js', 'function parseDate(s) { return new Date(s) }');
ALTER TABLE srch_p ATTACH PARTITION srch_p_js FOR VALUES IN ('js');
SELECT pg_temp.stats_match('srch_p');
INSERT INTO srch_p_js (id, lang, code) VALUES (7, 'js', 'const answer = parseDate(x)');
SELECT pg_temp.stats_match('srch_p');
ALTER TABLE srch_p DETACH PARTITION srch_p_go;
SELECT pg_temp.stats_match('srch_p');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = 'srch_p_go'::regclass;
INSERT INTO srch_p_go VALUES (8, 'go', 'func main() {}', NULL);   -- no longer counted
SELECT pg_temp.stats_match('srch_p');
ALTER TABLE srch_p ATTACH PARTITION srch_p_go FOR VALUES IN ('go');
SELECT pg_temp.stats_match('srch_p');
SELECT count(*) AS triggers_back FROM pg_trigger WHERE tgrelid = 'srch_p_go'::regclass;
-- rows without an embedding are found by the lexical leg alone
SELECT id, lang FROM codevec.search(NULL::srch_p, 'decode json', 5);
SELECT id FROM codevec.search(NULL::srch_p, 'decode', 5, '{"lang": "rust"}');

-- the query adapter: trained in the database, gated, versioned, rolled back
INSERT INTO srch (id, path, symbol, language, doc, code)
SELECT i, 'gen/m' || (i % 7) || '.py', 'op_' || i, 'python',
       'Return the ' || (ARRAY['sum', 'product', 'difference', 'maximum', 'minimum'])[1 + i % 5] || ' of x and ' || i || '.',
       'def op_' || i || '(x):' || E'\n    return ' || (ARRAY['x + ', 'x * ', 'x - ', 'max(x, ', 'min(x, '])[1 + i % 5] || i ||
       (CASE WHEN i % 5 >= 3 THEN ')' ELSE '' END)
  FROM generate_series(1, 60) i;
UPDATE srch SET emb = codevec.embed(code) WHERE emb IS NULL;
-- an impossible margin: trained, stored, not activated
SELECT version, active, train_pairs + heldout_pairs AS pairs FROM codevec.train_adapter('srch', epochs => 5, min_gain => 1.0);
SELECT version, active, accepted, model, dims, length(adapter) AS bytes FROM codevec.adapters ORDER BY version;
SELECT codevec.embed_query('parse a date', 'srch') = codevec.embed('parse a date') AS plain_embedding;
-- rollback: make version 1 the accepted one, train a second, roll back to the first
UPDATE codevec.adapters SET accepted = true, active = true WHERE relid = 'srch'::regclass AND version = 1;
SELECT codevec.embed_query('parse a date', 'srch') = codevec.embed('parse a date') AS plain_embedding;
SELECT (codevec.embed_query('parse a date', 'srch') <=> codevec.embed('parse a date')) < 0.5 AS near_the_plain_one;
SELECT version FROM codevec.train_adapter('srch', epochs => 5, min_gain => 1.0);
UPDATE codevec.adapters SET active = (version = 2), accepted = true WHERE relid = 'srch'::regclass;
SELECT codevec.drop_adapter('srch') AS active_now;
SELECT version, active FROM codevec.adapters ORDER BY version;
SELECT codevec.drop_adapter('srch') AS active_now;
SELECT codevec.drop_adapter('srch');
SELECT codevec.embed_query('parse a date', 'srch') = codevec.embed('parse a date') AS plain_embedding;
-- training errors
SELECT * FROM codevec.train_adapter('srch_p');
SELECT * FROM codevec.train_adapter('srch', 'srch_p');
SELECT * FROM codevec.train_adapter('srch', epochs => 0);
SELECT * FROM codevec.train_adapter('srch_p_py');
CREATE TABLE srch_pairs (query text, code text);
INSERT INTO srch_pairs VALUES ('what', 'no such code');
SELECT * FROM codevec.train_adapter('srch', 'srch_pairs');
-- corrupt blobs are refused
SELECT codevec.apply_adapter(codevec.embed('x'), '\x00');
SELECT codevec.bm25(codevec.lexical_vector('x'), '\x00');

-- a database that is not UTF-8: non-ASCII code is tokenized and found (it was an ERROR)
SELECT current_database() AS srch_home \gset
CREATE DATABASE srch_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c srch_latin1
SET client_min_messages = warning;
CREATE EXTENSION codevec;
CREATE TABLE l1 (id int, code text, emb embedding(384));
SELECT codevec.enable_search('l1', 'code', 'emb');
INSERT INTO l1 VALUES (1, 'def größe_berechnen(x): return x', NULL), (2, 'def other(): pass', NULL);
SELECT id FROM codevec.search(NULL::l1, 'größe berechnen', 1);
SELECT codevec.symbol_prior('größe berechnen', 'größe_berechnen');
\c :srch_home
SET client_min_messages = warning;
DROP DATABASE srch_latin1;

-- a filter on a column of an extension type uses that type's equality: citext's is
-- case-insensitive (text's = would find nothing), also through a domain over it
CREATE EXTENSION citext;
CREATE DOMAIN srch_lang AS citext;
CREATE TABLE srch_ci (id int, lang citext, dl srch_lang, code text, emb embedding(384));
INSERT INTO srch_ci VALUES (1, 'Rust', 'Rust', 'fn parse_date() {}', NULL), (2, 'Python', 'Python', 'def parse_date(): pass', NULL);
SELECT codevec.enable_search('srch_ci', 'code', 'emb') AS rows_indexed;
SELECT id FROM codevec.search(NULL::srch_ci, 'parse date', 10, '{"lang": "RUST"}');
SELECT id FROM codevec.search(NULL::srch_ci, 'parse date', 10, '{"lang": ["python", "cobol"]}');
SELECT id FROM codevec.search(NULL::srch_ci, 'parse date', 10, '{"dl": "rUsT"}');
SELECT codevec.search_eq_operator('citext'), codevec.search_eq_operator('srch_lang'),
       codevec.search_eq_operator('varchar'), codevec.search_eq_operator('int4');
SELECT codevec.disable_search('srch_ci');
DROP TABLE srch_ci;
DROP DOMAIN srch_lang;
DROP EXTENSION citext;

-- a renamed configured column keeps its place; other ALTER TABLEs change nothing
ALTER TABLE srch RENAME COLUMN code TO body;
ALTER TABLE srch RENAME COLUMN path TO file;
ALTER TABLE srch RENAME COLUMN id TO ident;
ALTER TABLE srch ADD COLUMN extra int;
ALTER TABLE srch RENAME COLUMN extra TO extra2;
SELECT text_column, embedding_column, path_column, symbol_column, language_column, doc_column
  FROM codevec.search_config WHERE relid = 'srch'::regclass;
SELECT count(*) FROM codevec.search(NULL::srch, 'parse a date string', 3);
INSERT INTO srch (ident, file, symbol, language, body) VALUES (1000, 'src/zq.py', 'zqx', 'python', 'def zqx_frobnicate(): pass');
-- (the new row has no embedding: only the lexical leg finds it, through the renamed column)
SELECT ident, file FROM codevec.search(NULL::srch, 'zqx frobnicate', 100) WHERE ident = 1000;
SELECT (e.hit).ident, e.lexical_rank FROM codevec.search_explain(NULL::srch, 'zqx frobnicate', 100) e
 WHERE e.lexical_rank IS NOT NULL;
DELETE FROM srch WHERE ident = 1000;
ALTER TABLE srch DROP COLUMN extra2;
ALTER TABLE srch RENAME COLUMN body TO code;
ALTER TABLE srch RENAME COLUMN file TO path;
ALTER TABLE srch RENAME COLUMN ident TO id;
SELECT text_column, path_column FROM codevec.search_config WHERE relid = 'srch'::regclass;

-- disable_search undoes everything; dropping a table forgets it
SELECT codevec.disable_search('srch');
SELECT count(*) FROM codevec.lexical_stats WHERE relid = 'srch'::regclass;
SELECT attname FROM pg_attribute WHERE attrelid = 'srch'::regclass AND attname = 'codevec_lex' AND NOT attisdropped;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'srch'::regclass;
SELECT codevec.disable_search('srch');
DROP TABLE srch_p;
SELECT count(*) FROM codevec.search_config;
SELECT count(*) FROM codevec.lexical_stats;
-- every object of the extension has a COMMENT
SELECT pg_describe_object(d.classid, d.objid, 0) AS undocumented
  FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
 WHERE e.extname = 'codevec' AND d.deptype = 'e'
   AND d.classid IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_type'::regclass, 'pg_operator'::regclass,
                     'pg_opclass'::regclass, 'pg_am'::regclass, 'pg_event_trigger'::regclass, 'pg_cast'::regclass)
   AND obj_description(d.objid, d.classid::regclass::name) IS NULL
 ORDER BY 1;
DROP TABLE srch, srch_pairs;
REVOKE ALL ON SCHEMA codevec FROM srch_writer;
DROP ROLE srch_writer;
DROP ROLE srch_stranger;
