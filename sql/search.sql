-- codevec: hybrid code search in one SQL call. Design, costs and limits: docs/search.md.
--
-- codevec.enable_search(tbl, text, embedding) adds to a table
--   * a stored generated column codevec_lex tsvector = codevec.lexical_vector(text): the
--     text's code tokens (identifiers split, lower-cased), each with its count;
--   * a GIN index on it (PostgreSQL's own tsvector_ops), which finds the rows that hold a
--     query term without reading the others;
--   * statement triggers with transition tables that keep the BM25 corpus statistics
--     (document frequency per term, document count, total length) right under INSERT,
--     UPDATE, DELETE and TRUNCATE.
-- codevec.search(NULL::tbl, question, k) embeds the question once, takes the vector leg
-- (through an ivf index when there is one) and the lexical leg (through the GIN index),
-- fuses their min-max-normalised scores, adds the code-aware priors and returns the table's
-- own rows, best first. codevec.search_explain shows each leg's rank and score.
--
-- Statistics are append-only deltas (codevec.lexical_delta), so concurrent writers never
-- wait for each other; now and then a writer folds them into codevec.lexical_stats.

CREATE TABLE codevec.search_config (
    relid regclass PRIMARY KEY,
    text_column name NOT NULL,
    embedding_column name NOT NULL,
    path_column name,
    symbol_column name,
    language_column name,
    doc_column name,
    "precision" text NOT NULL DEFAULT 'f32' CHECK ("precision" IN ('f32', 'int8')),
    vector_weight double precision NOT NULL DEFAULT 0.65 CHECK (vector_weight BETWEEN 0 AND 1),
    symbol_weight double precision NOT NULL DEFAULT 0.25 CHECK (symbol_weight BETWEEN 0 AND 10),
    path_weight double precision NOT NULL DEFAULT 0.2 CHECK (path_weight BETWEEN 0 AND 10),
    depth integer NOT NULL DEFAULT 50 CHECK (depth BETWEEN 10 AND 10000),
    k1 double precision NOT NULL DEFAULT 1.2 CHECK (k1 BETWEEN 0 AND 10),
    b double precision NOT NULL DEFAULT 0.75 CHECK (b BETWEEN 0 AND 1),
    fetch_rows integer NOT NULL DEFAULT 1000 CHECK (fetch_rows BETWEEN 1 AND 100000000),
    enabled_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE codevec.search_config IS 'tables prepared for codevec.search (codevec.enable_search): their columns, the fusion and prior weights, BM25''s k1 and b; owners may tune the numbers with UPDATE';
COMMENT ON COLUMN codevec.search_config.vector_weight IS 'weight of the vector leg in the fused score (the lexical leg gets 1 - vector_weight); tuned on python-dev';
COMMENT ON COLUMN codevec.search_config.depth IS 'rows each leg contributes to the fusion (at least k); 50 and 100 rank alike on python-dev (MRR@10 0.6227 vs 0.6233), 50 is 3-4 ms faster at 50k rows';
COMMENT ON COLUMN codevec.search_config.fetch_rows IS 'the lexical leg fetches rows through the rarest query terms, adding terms while their document frequencies sum to at most this many rows (the rarest term always); every query term is still scored on the rows fetched';

CREATE TABLE codevec.lexical_stats (
    relid regclass NOT NULL,
    term text NOT NULL,
    df bigint NOT NULL,
    len bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (relid, term)
);
COMMENT ON TABLE codevec.lexical_stats IS 'BM25 corpus statistics of search-enabled tables: rows holding each term (df); the term '''' holds the row count (df) and the total token count (len). Add codevec.lexical_delta for the current values';

CREATE TABLE codevec.lexical_delta (
    relid regclass NOT NULL,
    term text NOT NULL,
    df bigint NOT NULL,
    len bigint NOT NULL DEFAULT 0
);
CREATE INDEX lexical_delta_relid_term ON codevec.lexical_delta (relid, term);
COMMENT ON TABLE codevec.lexical_delta IS 'changes to codevec.lexical_stats written by the statement triggers of search-enabled tables, appended without locks and folded into it now and then';

CREATE SEQUENCE codevec.lexical_fold_seq;
COMMENT ON SEQUENCE codevec.lexical_fold_seq IS 'counts statements that wrote lexical deltas: every 64th folds its table''s deltas';

CREATE TABLE codevec.adapters (
    relid regclass NOT NULL,
    version integer NOT NULL,
    model text NOT NULL,
    "precision" text NOT NULL,
    dims integer NOT NULL,
    adapter bytea NOT NULL,
    active boolean NOT NULL DEFAULT false,
    accepted boolean NOT NULL,
    train_pairs integer NOT NULL,
    heldout_pairs integer NOT NULL,
    heldout_mrr_before double precision NOT NULL,
    heldout_mrr_after double precision NOT NULL,
    seconds double precision NOT NULL,
    trained_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (relid, version)
);
CREATE UNIQUE INDEX adapters_one_active ON codevec.adapters (relid) WHERE active;
COMMENT ON TABLE codevec.adapters IS 'query adapters trained by codevec.train_adapter, every version kept; at most one per table is active (used by codevec.embed_query and codevec.search)';

-- Row-level security: a table's configuration, statistics and adapters are visible to
-- whoever may read the table and changed by its owner. The statistics triggers write as
-- the extension owner (SECURITY DEFINER), so every writer of the table keeps them right.
DO $rls$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['search_config', 'lexical_stats', 'lexical_delta', 'adapters'] LOOP
    EXECUTE pg_catalog.format('ALTER TABLE codevec.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE pg_catalog.format(
      'CREATE POLICY %I ON codevec.%I FOR SELECT USING (pg_catalog.has_table_privilege(relid, ''SELECT''))',
      t || '_readers', t);
    EXECUTE pg_catalog.format(
      'CREATE POLICY %I ON codevec.%I FOR ALL '
      'USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid), ''USAGE'')) '
      'WITH CHECK (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid), ''USAGE''))',
      t || '_owner', t);
    EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON codevec.%I TO PUBLIC', t);
  END LOOP;
END
$rls$;
GRANT USAGE ON SEQUENCE codevec.lexical_fold_seq TO PUBLIC;

-- pg_dump keeps all four (relid is a regclass, dumped by name). A restore loads a table's
-- rows before its triggers exist, so the statistics come from the dump, as they were.
SELECT pg_catalog.pg_extension_config_dump('codevec.search_config', '');
SELECT pg_catalog.pg_extension_config_dump('codevec.lexical_stats', '');
SELECT pg_catalog.pg_extension_config_dump('codevec.lexical_delta', '');
SELECT pg_catalog.pg_extension_config_dump('codevec.adapters', '');

-- ---------------------------------------------------------------------------------------
-- Functions implemented in Rust (src/search/)

CREATE FUNCTION codevec.lexical_vector(text) RETURNS tsvector
    AS 'MODULE_PATHNAME', 'lexical_vector_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION codevec.lexical_vector(text) IS 'the code tokens of a text (identifiers split on snake_case, camelCase, digits, :: and ., each part and the whole identifier, lower-cased; literals and comments included) as a tsvector whose one position per lexeme holds the token''s count';

CREATE FUNCTION codevec.lexical_length(tsvector) RETURNS bigint
    AS 'MODULE_PATHNAME', 'lexical_length_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION codevec.lexical_length(tsvector) IS 'the number of tokens a codevec.lexical_vector counts (the BM25 document length)';

CREATE FUNCTION codevec.query_terms(query text, OUT term text, OUT qtf integer) RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'query_terms_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 8;
COMMENT ON FUNCTION codevec.query_terms(text) IS 'the distinct tokens of a question (split like code, stop words dropped) with their counts';

CREATE FUNCTION codevec.bm25_query(terms text[], dfs bigint[], qtfs integer[], n_docs bigint, total_len bigint,
                                   k1 double precision DEFAULT 1.2, b double precision DEFAULT 0.75) RETURNS bytea
    AS 'MODULE_PATHNAME', 'bm25_query_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION codevec.bm25_query(text[], bigint[], integer[], bigint, bigint, double precision, double precision) IS 'a BM25 query for codevec.bm25: the distinct terms, their document frequencies and counts in the question, the corpus'' row count and total length, k1 and b';

CREATE FUNCTION codevec.bm25(tsvector, bytea) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bm25_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5;
COMMENT ON FUNCTION codevec.bm25(tsvector, bytea) IS 'BM25 (Lucene idf) of a codevec.lexical_vector against a query made by codevec.bm25_query';

CREATE FUNCTION codevec.symbol_prior(query text, symbol text) RETURNS double precision
    AS 'MODULE_PATHNAME', 'symbol_prior_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION codevec.symbol_prior(text, text) IS 'code-aware prior in [0, 1]: the share of the parts of a symbol''s last name (Foo::parse_date: parse, date) that the question mentions';

CREATE FUNCTION codevec.path_prior(query text, path text) RETURNS double precision
    AS 'MODULE_PATHNAME', 'path_prior_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION codevec.path_prior(text, text) IS 'code-aware prior in [0, 1]: the share of the file''s and its directory''s name parts (generic ones such as src, lib, mod skipped) that the question mentions';

CREATE FUNCTION codevec.apply_adapter(@extschema@.embedding, bytea) RETURNS @extschema@.embedding
    AS 'MODULE_PATHNAME', 'apply_adapter_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 100;
COMMENT ON FUNCTION codevec.apply_adapter(@extschema@.embedding, bytea) IS 'a query embedding through a stored adapter: normalize(W q + b)';

CREATE FUNCTION codevec.adapter_train(documents real[], queries text[], doc_ids integer[], "precision" text,
    epochs integer, seed bigint, min_gain double precision,
    OUT adapter bytea, OUT accepted boolean, OUT collapsed boolean, OUT train_pairs integer, OUT heldout_pairs integer,
    OUT plain_mrr double precision, OUT adapted_mrr double precision, OUT gain_stderr double precision, OUT seconds double precision)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'adapter_train_wrapper' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE ROWS 1;
COMMENT ON FUNCTION codevec.adapter_train(real[], text[], integer[], text, integer, bigint, double precision) IS 'trains a query adapter (symmetric InfoNCE, identity start, regularised to identity) on documents (a 2-D real[]) and questions paired with 1-based document rows; 20 % held out for the gate. Used by codevec.train_adapter';

-- ---------------------------------------------------------------------------------------
-- Corpus statistics

-- The search-enabled table a relation counts for: itself or its nearest configured
-- partition ancestor (statements on a partition fire only that partition's triggers).
CREATE FUNCTION codevec.search_root(rel oid) RETURNS regclass
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
  -- pg_partition_ancestors gives nothing for a table that is not a partition
  SELECT c.relid FROM (SELECT rel AS relid, 0::bigint AS n
                       UNION ALL
                       SELECT p.relid::pg_catalog.oid, p.n FROM pg_catalog.pg_partition_ancestors(rel) WITH ORDINALITY p(relid, n)) a
    JOIN codevec.search_config c ON c.relid::pg_catalog.oid OPERATOR(pg_catalog.=) a.relid
  ORDER BY a.n LIMIT 1
$fn$;
COMMENT ON FUNCTION codevec.search_root(oid) IS 'codevec search: the search-enabled table whose statistics a relation (the table or one of its partitions) counts for';

-- Fold a table's deltas into its statistics. Called by the triggers (one folder at a time,
-- under an advisory lock, in READ COMMITTED only, where the DELETE skips rows another
-- folder took) and by codevec.search_analyze.
CREATE FUNCTION codevec.lexical_fold(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE zeros text[];
BEGIN
  WITH d AS (DELETE FROM codevec.lexical_delta x WHERE x.relid OPERATOR(pg_catalog.=) tbl RETURNING x.term, x.df, x.len),
       s AS (SELECT d.term, pg_catalog.sum(d.df) AS df, pg_catalog.sum(d.len) AS len FROM d GROUP BY d.term),
       u AS (INSERT INTO codevec.lexical_stats AS b (relid, term, df, len)
               SELECT tbl, s.term, s.df, s.len FROM s
               ON CONFLICT (relid, term) DO UPDATE SET df = b.df OPERATOR(pg_catalog.+) excluded.df,
                                                       len = b.len OPERATOR(pg_catalog.+) excluded.len
               RETURNING b.term, b.df)
  SELECT pg_catalog.array_agg(u.term) FILTER (WHERE u.df OPERATOR(pg_catalog.<=) 0 AND u.term OPERATOR(pg_catalog.<>) '')
    INTO zeros FROM u;
  IF zeros IS NOT NULL THEN
    DELETE FROM codevec.lexical_stats x
      WHERE x.relid OPERATOR(pg_catalog.=) tbl AND x.term OPERATOR(pg_catalog.=) ANY (zeros) AND x.df OPERATOR(pg_catalog.<=) 0;
  END IF;
END
$fn$;
COMMENT ON FUNCTION codevec.lexical_fold(regclass) IS 'codevec search: folds a table''s statistics deltas into codevec.lexical_stats (the sums stay the same)';

-- Recount a table's statistics from its rows (after changes no trigger saw: TRUNCATE of a
-- partition, ATTACH or DETACH of a partition that holds rows).
CREATE FUNCTION codevec.lexical_recount(tbl regclass) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE n bigint;
BEGIN
  DELETE FROM codevec.lexical_delta x WHERE x.relid OPERATOR(pg_catalog.=) tbl;
  DELETE FROM codevec.lexical_stats x WHERE x.relid OPERATOR(pg_catalog.=) tbl;
  EXECUTE pg_catalog.format(
    'INSERT INTO codevec.lexical_stats (relid, term, df, len) '
    'SELECT $1, x.term, pg_catalog.sum(x.df), pg_catalog.sum(x.len) FROM ('
    '  SELECT ''''::text AS term, 1::bigint AS df, codevec.lexical_length(t.codevec_lex) AS len FROM %1$s t WHERE t.codevec_lex IS NOT NULL'
    '  UNION ALL SELECT u.term, 1::bigint, 0::bigint FROM %1$s t, pg_catalog.unnest(pg_catalog.tsvector_to_array(t.codevec_lex)) u(term)'
    ') x GROUP BY x.term', tbl) USING tbl;
  SELECT s.df INTO n FROM codevec.lexical_stats s WHERE s.relid OPERATOR(pg_catalog.=) tbl AND s.term OPERATOR(pg_catalog.=) '';
  IF n IS NULL THEN
    INSERT INTO codevec.lexical_stats (relid, term, df, len) VALUES (tbl, '', 0, 0);
    n := 0;
  END IF;
  RETURN n;
END
$fn$;
COMMENT ON FUNCTION codevec.lexical_recount(regclass) IS 'codevec search: recounts a table''s BM25 statistics from its rows';

-- The statement triggers (AFTER INSERT / UPDATE / DELETE with transition tables, AFTER
-- TRUNCATE) of a search-enabled table and of each of its partitions. SECURITY DEFINER: any
-- writer of the table keeps its statistics right, though only its owner may change them
-- otherwise; the function writes only the rows of the table that fired it.
CREATE FUNCTION codevec.lexical_stats_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE root regclass := codevec.search_root(TG_RELID);
BEGIN
  IF root IS NULL THEN
    RETURN NULL;   -- search was disabled, or the trigger was attached to another table
  END IF;
  IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
    IF root::pg_catalog.oid OPERATOR(pg_catalog.=) TG_RELID THEN
      DELETE FROM codevec.lexical_delta x WHERE x.relid OPERATOR(pg_catalog.=) root;
      DELETE FROM codevec.lexical_stats x WHERE x.relid OPERATOR(pg_catalog.=) root;
      INSERT INTO codevec.lexical_stats (relid, term, df, len) VALUES (root, '', 0, 0);
    ELSE
      PERFORM codevec.lexical_recount(root);   -- a partition emptied: what left is unknown
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
    INSERT INTO codevec.lexical_delta (relid, term, df, len)
    SELECT root, x.term, pg_catalog.sum(x.df), pg_catalog.sum(x.len) FROM (
      SELECT ''::text AS term, 1::bigint AS df, codevec.lexical_length(n.codevec_lex) AS len FROM codevec_new n WHERE n.codevec_lex IS NOT NULL
      UNION ALL SELECT u.term, 1::bigint, 0::bigint FROM codevec_new n, pg_catalog.unnest(pg_catalog.tsvector_to_array(n.codevec_lex)) u(term)
    ) x GROUP BY x.term;
  ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
    INSERT INTO codevec.lexical_delta (relid, term, df, len)
    SELECT root, x.term, pg_catalog.sum(x.df), pg_catalog.sum(x.len) FROM (
      SELECT ''::text AS term, -1::bigint AS df, -codevec.lexical_length(o.codevec_lex) AS len FROM codevec_old o WHERE o.codevec_lex IS NOT NULL
      UNION ALL SELECT u.term, -1::bigint, 0::bigint FROM codevec_old o, pg_catalog.unnest(pg_catalog.tsvector_to_array(o.codevec_lex)) u(term)
    ) x GROUP BY x.term;
  ELSE
    INSERT INTO codevec.lexical_delta (relid, term, df, len)
    SELECT root, x.term, pg_catalog.sum(x.df), pg_catalog.sum(x.len) FROM (
      SELECT ''::text AS term, 1::bigint AS df, codevec.lexical_length(n.codevec_lex) AS len FROM codevec_new n WHERE n.codevec_lex IS NOT NULL
      UNION ALL SELECT u.term, 1::bigint, 0::bigint FROM codevec_new n, pg_catalog.unnest(pg_catalog.tsvector_to_array(n.codevec_lex)) u(term)
      UNION ALL SELECT '', -1, -codevec.lexical_length(o.codevec_lex) FROM codevec_old o WHERE o.codevec_lex IS NOT NULL
      UNION ALL SELECT u.term, -1, 0 FROM codevec_old o, pg_catalog.unnest(pg_catalog.tsvector_to_array(o.codevec_lex)) u(term)
    ) x GROUP BY x.term
    HAVING pg_catalog.sum(x.df) OPERATOR(pg_catalog.<>) 0 OR pg_catalog.sum(x.len) OPERATOR(pg_catalog.<>) 0;
  END IF;
  IF pg_catalog.nextval('codevec.lexical_fold_seq') OPERATOR(pg_catalog.%) 64 OPERATOR(pg_catalog.=) 0
     AND pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.=) 'read committed'
     AND pg_catalog.pg_try_advisory_xact_lock((7161282::bigint OPERATOR(pg_catalog.<<) 32) OPERATOR(pg_catalog.|) root::pg_catalog.oid::bigint) THEN
    PERFORM codevec.lexical_fold(root);
  END IF;
  RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION codevec.lexical_stats_trigger() IS 'codevec search: statement trigger keeping a search-enabled table''s BM25 statistics right (deltas from the transition tables; TRUNCATE resets)';

-- The current statistics of some terms of a table ('' gives the row count and total
-- length); row-level security shows them only to readers of the table.
-- No SET search_path (every name is qualified), so that the planner can inline it.
CREATE FUNCTION codevec.lexical_term_stats(tbl regclass, terms text[], OUT term text, OUT df bigint, OUT len bigint)
RETURNS SETOF record
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $fn$
  SELECT x.term, pg_catalog.sum(x.df)::bigint, pg_catalog.sum(x.len)::bigint FROM (
    SELECT s.term, s.df, s.len FROM codevec.lexical_stats s
      WHERE s.relid OPERATOR(pg_catalog.=) tbl AND s.term OPERATOR(pg_catalog.=) ANY (terms)
    UNION ALL
    SELECT d.term, d.df, d.len FROM codevec.lexical_delta d
      WHERE d.relid OPERATOR(pg_catalog.=) tbl AND d.term OPERATOR(pg_catalog.=) ANY (terms)
  ) x GROUP BY x.term
$fn$;
COMMENT ON FUNCTION codevec.lexical_term_stats(regclass, text[]) IS 'codevec search: the current BM25 statistics of terms of a table (the term '''' gives the row count and the total token count)';

-- ---------------------------------------------------------------------------------------
-- enable_search / disable_search / search_analyze

-- The type of a column of tbl (NULL when it has none such).
CREATE FUNCTION codevec.search_column_type(tbl regclass, col name) RETURNS regtype
LANGUAGE sql STABLE STRICT AS $fn$
  SELECT a.atttypid::pg_catalog.regtype FROM pg_catalog.pg_attribute a
   WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) col
     AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
$fn$;
COMMENT ON FUNCTION codevec.search_column_type(regclass, name) IS 'codevec search: the type of a column of a table, NULL when there is no such column';

-- The equality operator a filter uses for a column type: the one of the type's default btree
-- operator class (for a domain, its base type's), schema-qualified, so that an extension
-- type's own equality (citext's case-insensitive =) applies and nothing on the caller's
-- search_path can stand in for it. Types without a btree class of their own (varchar uses
-- text's) get pg_catalog's, resolved through the implicit casts as before.
CREATE FUNCTION codevec.search_eq_operator(typ regtype) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $fn$
  WITH RECURSIVE base(t, d) AS (
    SELECT typ::oid, 0
    UNION ALL
    SELECT y.typbasetype, b.d OPERATOR(pg_catalog.+) 1 FROM base b JOIN pg_catalog.pg_type y ON y.oid OPERATOR(pg_catalog.=) b.t
     WHERE y.typtype OPERATOR(pg_catalog.=) 'd' AND b.d OPERATOR(pg_catalog.<) 32)
  SELECT coalesce(
    (SELECT pg_catalog.format('OPERATOR(%I.%s)', n.nspname, o.oprname)
       FROM (SELECT b.t FROM base b ORDER BY b.d DESC LIMIT 1) bt
       JOIN pg_catalog.pg_opclass c ON c.opcintype OPERATOR(pg_catalog.=) bt.t AND c.opcdefault
       JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) c.opcmethod AND am.amname OPERATOR(pg_catalog.=) 'btree'
       JOIN pg_catalog.pg_amop ao ON ao.amopfamily OPERATOR(pg_catalog.=) c.opcfamily
        AND ao.amoplefttype OPERATOR(pg_catalog.=) bt.t AND ao.amoprighttype OPERATOR(pg_catalog.=) bt.t
        AND ao.amopstrategy OPERATOR(pg_catalog.=) 3
       JOIN pg_catalog.pg_operator o ON o.oid OPERATOR(pg_catalog.=) ao.amopopr
       JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) o.oprnamespace
      LIMIT 1),
    'OPERATOR(pg_catalog.=)')
$fn$;
COMMENT ON FUNCTION codevec.search_eq_operator(regtype) IS 'codevec search: the schema-qualified equality operator a filter uses for a column type (its default btree class''s)';

-- The four statistics triggers of one member (the table or a partition).
CREATE FUNCTION codevec.search_add_triggers(member regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER codevec_search_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS codevec_new '
    'FOR EACH STATEMENT EXECUTE FUNCTION codevec.lexical_stats_trigger()', member);
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER codevec_search_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS codevec_old NEW TABLE AS codevec_new '
    'FOR EACH STATEMENT EXECUTE FUNCTION codevec.lexical_stats_trigger()', member);
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER codevec_search_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS codevec_old '
    'FOR EACH STATEMENT EXECUTE FUNCTION codevec.lexical_stats_trigger()', member);
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER codevec_search_truncate AFTER TRUNCATE ON %s '
    'FOR EACH STATEMENT EXECUTE FUNCTION codevec.lexical_stats_trigger()', member);
END
$fn$;
COMMENT ON FUNCTION codevec.search_add_triggers(regclass) IS 'codevec search: puts the four BM25 statistics triggers on a search-enabled table or one of its partitions';

CREATE FUNCTION codevec.enable_search(
    tbl regclass, text_column name, embedding_column name,
    path_column name DEFAULT NULL, symbol_column name DEFAULT NULL,
    language_column name DEFAULT NULL, doc_column name DEFAULT NULL,
    "precision" text DEFAULT 'f32')
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  kind "char";
  part boolean;
  owner oid;
  t_type regtype; e_type regtype; e_mod integer;
  old codevec.search_config;
  prec text := pg_catalog.lower("precision");
  cols name[] := ARRAY[path_column, symbol_column, language_column, doc_column];
  defaults name[] := ARRAY['path', 'symbol', 'language', 'doc']::name[];
  what text[] := ARRAY['path', 'symbol', 'language', 'doc'];
  i integer;
  member regclass;
  n bigint;
BEGIN
  IF tbl IS NULL OR text_column IS NULL OR embedding_column IS NULL THEN
    RAISE EXCEPTION 'codevec.enable_search: table and column names must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT c.relkind, c.relispartition, c.relowner INTO kind, part, owner
    FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl;
  IF kind IS NULL OR kind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '"%" is not a table', tbl
      USING ERRCODE = 'wrong_object_type',
            HINT = 'codevec.enable_search works on tables and partitioned tables, not on views, materialized views or foreign tables.';
  END IF;
  IF NOT pg_catalog.pg_has_role(owner, 'USAGE') THEN
    RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF part THEN
    RAISE EXCEPTION '"%" is a partition', tbl
      USING ERRCODE = 'wrong_object_type', HINT = 'Enable search on the partitioned table; it covers its partitions.';
  END IF;
  IF kind OPERATOR(pg_catalog.=) 'r' AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhparent OPERATOR(pg_catalog.=) tbl) THEN
    RAISE EXCEPTION '"%" has inheritance children', tbl
      USING ERRCODE = 'feature_not_supported', HINT = 'Use declarative partitioning, or enable search on each child table.';
  END IF;
  t_type := codevec.search_column_type(tbl, text_column);
  IF t_type IS NULL THEN
    RAISE EXCEPTION 'column "%" of "%" does not exist', text_column, tbl USING ERRCODE = 'undefined_column';
  END IF;
  IF t_type NOT IN ('pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype) THEN
    RAISE EXCEPTION 'column "%" of "%" is of type %, not text', text_column, tbl, t_type
      USING ERRCODE = 'datatype_mismatch', HINT = 'The text column must be of type text or varchar.';
  END IF;
  SELECT a.atttypid, a.atttypmod INTO e_type, e_mod FROM pg_catalog.pg_attribute a
    WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) embedding_column
      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
  IF e_type IS NULL THEN
    RAISE EXCEPTION 'column "%" of "%" does not exist', embedding_column, tbl USING ERRCODE = 'undefined_column';
  END IF;
  IF e_type NOT IN ('@extschema@.embedding'::regtype, '@extschema@.halfembedding'::regtype) THEN
    RAISE EXCEPTION 'column "%" of "%" is of type %, not embedding', embedding_column, tbl, e_type
      USING ERRCODE = 'datatype_mismatch', HINT = 'The embedding column must be of type embedding(384) or halfembedding(384), filled by codevec.embed.';
  END IF;
  IF e_mod NOT IN (-1, 384) THEN
    RAISE EXCEPTION 'column "%" of "%" has % dimensions, the encoder gives 384', embedding_column, tbl, e_mod
      USING ERRCODE = 'datatype_mismatch';
  END IF;
  IF prec IS NULL OR prec NOT IN ('f32', 'int8') THEN
    RAISE EXCEPTION 'invalid encoder precision: "%"', "precision"
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Use the precision the embedding column was computed at: ''f32'' (the default) or ''int8''.';
  END IF;
  -- optional columns: given ones must be text; missing ones are taken by name when present
  FOR i IN 1 .. 4 LOOP
    IF cols[i] IS NOT NULL THEN
      IF codevec.search_column_type(tbl, cols[i]) IS NULL THEN
        RAISE EXCEPTION 'column "%" of "%" does not exist', cols[i], tbl USING ERRCODE = 'undefined_column';
      END IF;
      IF codevec.search_column_type(tbl, cols[i]) NOT IN ('pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype) THEN
        RAISE EXCEPTION 'the % column "%" of "%" is of type %, not text', what[i], cols[i], tbl, codevec.search_column_type(tbl, cols[i])
          USING ERRCODE = 'datatype_mismatch';
      END IF;
    ELSIF codevec.search_column_type(tbl, defaults[i]) IN ('pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype) THEN
      cols[i] := defaults[i];
    END IF;
  END LOOP;

  SELECT * INTO old FROM codevec.search_config c WHERE c.relid OPERATOR(pg_catalog.=) tbl;
  IF FOUND THEN
    IF old.text_column OPERATOR(pg_catalog.<>) text_column THEN
      RAISE EXCEPTION '"%" is already enabled for search on column "%"', tbl, old.text_column
        USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Call codevec.disable_search first.';
    END IF;
    UPDATE codevec.search_config c SET embedding_column = enable_search.embedding_column,
        path_column = cols[1], symbol_column = cols[2], language_column = cols[3], doc_column = cols[4],
        "precision" = prec
      WHERE c.relid OPERATOR(pg_catalog.=) tbl;
    SELECT s.df INTO n FROM codevec.lexical_term_stats(tbl, ARRAY['']) s;
    RETURN n;
  END IF;
  IF codevec.search_column_type(tbl, 'codevec_lex') IS NOT NULL THEN
    RAISE EXCEPTION 'table "%" already has a column "codevec_lex"', tbl
      USING ERRCODE = 'duplicate_column', HINT = 'codevec.enable_search adds a column of that name; rename yours first.';
  END IF;

  INSERT INTO codevec.search_config (relid, text_column, embedding_column, path_column, symbol_column,
                                     language_column, doc_column, "precision")
    VALUES (tbl, text_column, embedding_column, cols[1], cols[2], cols[3], cols[4], prec);
  EXECUTE pg_catalog.format(
    'ALTER TABLE %s ADD COLUMN codevec_lex pg_catalog.tsvector GENERATED ALWAYS AS (codevec.lexical_vector(%I)) STORED',
    tbl, text_column);
  EXECUTE pg_catalog.format('COMMENT ON COLUMN %s.codevec_lex IS %L', tbl,
    'codevec search: the code tokens of ' || text_column || ' with their counts (codevec.lexical_vector); dropped by codevec.disable_search');
  EXECUTE pg_catalog.format('CREATE INDEX ON %s USING gin (codevec_lex)', tbl);
  FOR member IN SELECT p.relid FROM pg_catalog.pg_partition_tree(tbl) p UNION SELECT tbl LOOP
    PERFORM codevec.search_add_triggers(member);
  END LOOP;
  n := codevec.lexical_recount(tbl);
  RAISE NOTICE 'codevec.enable_search: % rows of % indexed (text %, embedding %, path %, symbol %, language %, doc %)',
    n, tbl, text_column, embedding_column, coalesce(cols[1], '-'), coalesce(cols[2], '-'),
    coalesce(cols[3], '-'), coalesce(cols[4], '-');
  RETURN n;
END
$fn$;
COMMENT ON FUNCTION codevec.enable_search(regclass, name, name, name, name, name, name, text) IS 'prepares a table for codevec.search: adds the lexical column codevec_lex with a GIN index and the triggers keeping its BM25 statistics, and records the text, embedding and optional path, symbol, language and doc columns (taken by those names when not given); idempotent. Returns the rows indexed';

CREATE FUNCTION codevec.disable_search(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE member regclass; trg text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM codevec.search_config c WHERE c.relid OPERATOR(pg_catalog.=) tbl) THEN
    RAISE EXCEPTION '"%" is not enabled for search', tbl USING ERRCODE = 'undefined_object';
  END IF;
  IF NOT pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl), 'USAGE') THEN
    RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
  END IF;
  FOR member IN SELECT p.relid FROM pg_catalog.pg_partition_tree(tbl) p UNION SELECT tbl LOOP
    FOREACH trg IN ARRAY ARRAY['codevec_search_insert', 'codevec_search_update', 'codevec_search_delete', 'codevec_search_truncate'] LOOP
      EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', trg, member);
    END LOOP;
  END LOOP;
  EXECUTE pg_catalog.format('ALTER TABLE %s DROP COLUMN IF EXISTS codevec_lex', tbl);
  DELETE FROM codevec.lexical_delta x WHERE x.relid OPERATOR(pg_catalog.=) tbl;
  DELETE FROM codevec.lexical_stats x WHERE x.relid OPERATOR(pg_catalog.=) tbl;
  DELETE FROM codevec.adapters x WHERE x.relid OPERATOR(pg_catalog.=) tbl;
  DELETE FROM codevec.search_config x WHERE x.relid OPERATOR(pg_catalog.=) tbl;
END
$fn$;
COMMENT ON FUNCTION codevec.disable_search(regclass) IS 'undoes codevec.enable_search: drops the lexical column (and its index), the triggers, the statistics and the table''s adapters';

CREATE FUNCTION codevec.search_analyze(tbl regclass) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE member regclass;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM codevec.search_config c WHERE c.relid OPERATOR(pg_catalog.=) tbl) THEN
    RAISE EXCEPTION '"%" is not enabled for search', tbl
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Call codevec.enable_search first.';
  END IF;
  IF NOT pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl), 'USAGE') THEN
    RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- partitions created or attached since enable_search get the triggers too
  FOR member IN SELECT p.relid FROM pg_catalog.pg_partition_tree(tbl) p
                WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid OPERATOR(pg_catalog.=) p.relid
                                  AND g.tgname OPERATOR(pg_catalog.=) 'codevec_search_insert') LOOP
    PERFORM codevec.search_add_triggers(member);
  END LOOP;
  RETURN codevec.lexical_recount(tbl);
END
$fn$;
COMMENT ON FUNCTION codevec.search_analyze(regclass) IS 'recounts a search-enabled table''s BM25 statistics from its rows and puts the statistics triggers on partitions added since codevec.enable_search; needed only after changes no trigger sees (e.g. a restore of the rows without their triggers)';

-- Dropped tables take their search state with them (see codevec.sync_forget_dropped for
-- why SECURITY DEFINER).
CREATE FUNCTION codevec.search_forget_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE gone oid[];
BEGIN
  SELECT pg_catalog.array_agg(d.objid) INTO gone FROM pg_catalog.pg_event_trigger_dropped_objects() d
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid OPERATOR(pg_catalog.=) 0;
  IF gone IS NULL THEN
    RETURN;
  END IF;
  DELETE FROM codevec.lexical_delta x WHERE x.relid::pg_catalog.oid OPERATOR(pg_catalog.=) ANY (gone);
  DELETE FROM codevec.lexical_stats x WHERE x.relid::pg_catalog.oid OPERATOR(pg_catalog.=) ANY (gone);
  DELETE FROM codevec.adapters x WHERE x.relid::pg_catalog.oid OPERATOR(pg_catalog.=) ANY (gone);
  DELETE FROM codevec.search_config x WHERE x.relid::pg_catalog.oid OPERATOR(pg_catalog.=) ANY (gone);
END
$fn$;
COMMENT ON FUNCTION codevec.search_forget_dropped() IS 'event trigger of codevec search: forgets the configuration, statistics and adapters of dropped tables';
REVOKE ALL ON FUNCTION codevec.search_forget_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER codevec_search_forget_dropped ON sql_drop
  EXECUTE FUNCTION codevec.search_forget_dropped();
COMMENT ON EVENT TRIGGER codevec_search_forget_dropped IS 'codevec search: forgets the configuration, statistics and adapters of dropped tables';

-- A partition created later (CREATE TABLE ... PARTITION OF a search-enabled table) gets the
-- statistics triggers at once, so DML addressed to it directly is counted too. It is empty
-- when created, so nothing needs counting (ATTACH and DETACH: see the next trigger). During pg_restore the configuration is loaded after
-- the tables are created, so this does nothing there and the dumped triggers are restored.
CREATE FUNCTION codevec.search_cover_new_partitions() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE rel oid;
BEGIN
  FOR rel IN SELECT c.objid FROM pg_catalog.pg_event_trigger_ddl_commands() c
              WHERE c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                AND c.objsubid OPERATOR(pg_catalog.=) 0 AND c.command_tag OPERATOR(pg_catalog.=) 'CREATE TABLE' LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class k WHERE k.oid OPERATOR(pg_catalog.=) rel AND k.relispartition)
       AND codevec.search_root(rel) IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid OPERATOR(pg_catalog.=) rel
                        AND g.tgname OPERATOR(pg_catalog.=) 'codevec_search_insert') THEN
      PERFORM codevec.search_add_triggers(rel::pg_catalog.regclass);
    END IF;
  END LOOP;
END
$fn$;
COMMENT ON FUNCTION codevec.search_cover_new_partitions() IS 'event trigger of codevec search: puts the statistics triggers on partitions created under a search-enabled table';
REVOKE ALL ON FUNCTION codevec.search_cover_new_partitions() FROM PUBLIC;
CREATE EVENT TRIGGER codevec_search_cover_new_partitions ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION codevec.search_cover_new_partitions();
COMMENT ON EVENT TRIGGER codevec_search_cover_new_partitions IS 'codevec search: new partitions of search-enabled tables count in their BM25 statistics';

-- ATTACH and DETACH PARTITION move rows in or out of a search-enabled table without any
-- row trigger firing. After an ALTER TABLE of a partitioned table, partitions of a search
-- tree that lack the statistics triggers (attached) get them, tables that still carry them
-- but count for no search-enabled table any more (detached) lose them, and when either
-- happened the tree's statistics are recounted. An ALTER TABLE that changes no membership
-- costs two catalog queries. (During pg_restore the configuration is loaded after the
-- partitions are attached, so this does nothing there.)
CREATE FUNCTION codevec.search_follow_partitions() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE rel oid; root regclass; member oid; trg text; changed boolean := false; roots regclass[] := '{}';
BEGIN
  IF NOT EXISTS (SELECT 1 FROM codevec.search_config) THEN
    RETURN;
  END IF;
  FOR rel IN SELECT DISTINCT c.objid FROM pg_catalog.pg_event_trigger_ddl_commands() c
              JOIN pg_catalog.pg_class k ON k.oid OPERATOR(pg_catalog.=) c.objid
              WHERE c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                AND c.objsubid OPERATOR(pg_catalog.=) 0 AND k.relkind OPERATOR(pg_catalog.=) 'p' LOOP
    root := codevec.search_root(rel);
    -- (the root carries the triggers once codevec.enable_search is done: its own ALTER
    -- TABLE ... ADD COLUMN codevec_lex runs before it puts them on)
    IF root IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid OPERATOR(pg_catalog.=) root
                                    AND g.tgname OPERATOR(pg_catalog.=) 'codevec_search_insert') THEN
      FOR member IN SELECT p.relid FROM pg_catalog.pg_partition_tree(rel) p
                    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid OPERATOR(pg_catalog.=) p.relid
                                      AND g.tgname OPERATOR(pg_catalog.=) 'codevec_search_insert') LOOP
        PERFORM codevec.search_add_triggers(member::pg_catalog.regclass);
        changed := true;
      END LOOP;
      roots := roots OPERATOR(pg_catalog.||) root;
    END IF;
  END LOOP;
  IF pg_catalog.cardinality(roots) OPERATOR(pg_catalog.=) 0 AND NOT changed THEN
    -- a DETACH from a search tree leaves the parent in it: roots is set then
    RETURN;
  END IF;
  FOR member IN SELECT DISTINCT g.tgrelid FROM pg_catalog.pg_trigger g
                WHERE g.tgname OPERATOR(pg_catalog.=) 'codevec_search_insert'
                  AND codevec.search_root(g.tgrelid) IS NULL LOOP
    FOREACH trg IN ARRAY ARRAY['codevec_search_insert', 'codevec_search_update', 'codevec_search_delete', 'codevec_search_truncate'] LOOP
      EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', trg, member::pg_catalog.regclass);
    END LOOP;
    changed := true;
  END LOOP;
  IF changed THEN
    FOR root IN SELECT DISTINCT r FROM pg_catalog.unnest(roots) r LOOP
      PERFORM codevec.lexical_recount(root);
    END LOOP;
  END IF;
END
$fn$;
COMMENT ON FUNCTION codevec.search_follow_partitions() IS 'event trigger of codevec search: after ATTACH or DETACH PARTITION, moves the statistics triggers and recounts the search-enabled table';
REVOKE ALL ON FUNCTION codevec.search_follow_partitions() FROM PUBLIC;
CREATE EVENT TRIGGER codevec_search_follow_partitions ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
  EXECUTE FUNCTION codevec.search_follow_partitions();
COMMENT ON EVENT TRIGGER codevec_search_follow_partitions IS 'codevec search: partitions attached to or detached from search-enabled tables count, or stop counting, in their BM25 statistics';

-- ALTER TABLE ... RENAME COLUMN of a configured column: the configuration follows. The
-- collected command of a column rename names the column itself (objsubid = its attnum);
-- every other ALTER TABLE form names the table (objsubid 0), so only renames get here. A
-- configured name the table no longer has is the renamed column's old name; it becomes the
-- column's new name wherever the configuration holds it. The statistics triggers and the
-- codevec_lex column refer to columns by number and need nothing.
CREATE FUNCTION codevec.search_follow_renames() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE c record; new_name name; old_name name; missing name[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM codevec.search_config) THEN
    RETURN;
  END IF;
  FOR c IN SELECT DISTINCT d.objid, d.objsubid FROM pg_catalog.pg_event_trigger_ddl_commands() d
            JOIN codevec.search_config s ON s.relid OPERATOR(pg_catalog.=) d.objid
           WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
             AND d.objsubid OPERATOR(pg_catalog.>) 0 LOOP
    SELECT a.attname INTO new_name FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) c.objid AND a.attnum OPERATOR(pg_catalog.=) c.objsubid
       AND NOT a.attisdropped;
    SELECT pg_catalog.array_agg(DISTINCT n) INTO missing
      FROM codevec.search_config s,
           LATERAL pg_catalog.unnest(ARRAY[s.text_column, s.embedding_column, s.path_column,
                                           s.symbol_column, s.language_column, s.doc_column]) n
     WHERE s.relid OPERATOR(pg_catalog.=) c.objid AND n IS NOT NULL
       AND codevec.search_column_type(s.relid, n) IS NULL;
    -- one rename renames one column: anything else is not a rename of ours
    IF new_name IS NULL OR pg_catalog.cardinality(missing) IS DISTINCT FROM 1 THEN
      CONTINUE;
    END IF;
    old_name := missing[1];
    UPDATE codevec.search_config s SET
      text_column = CASE WHEN s.text_column OPERATOR(pg_catalog.=) old_name THEN new_name ELSE s.text_column END,
      embedding_column = CASE WHEN s.embedding_column OPERATOR(pg_catalog.=) old_name THEN new_name ELSE s.embedding_column END,
      path_column = CASE WHEN s.path_column OPERATOR(pg_catalog.=) old_name THEN new_name ELSE s.path_column END,
      symbol_column = CASE WHEN s.symbol_column OPERATOR(pg_catalog.=) old_name THEN new_name ELSE s.symbol_column END,
      language_column = CASE WHEN s.language_column OPERATOR(pg_catalog.=) old_name THEN new_name ELSE s.language_column END,
      doc_column = CASE WHEN s.doc_column OPERATOR(pg_catalog.=) old_name THEN new_name ELSE s.doc_column END
     WHERE s.relid OPERATOR(pg_catalog.=) c.objid;
  END LOOP;
END
$fn$;
COMMENT ON FUNCTION codevec.search_follow_renames() IS 'event trigger of codevec search: after ALTER TABLE ... RENAME COLUMN of a configured column, the configuration names the column by its new name';
REVOKE ALL ON FUNCTION codevec.search_follow_renames() FROM PUBLIC;
CREATE EVENT TRIGGER codevec_search_follow_renames ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
  EXECUTE FUNCTION codevec.search_follow_renames();
COMMENT ON EVENT TRIGGER codevec_search_follow_renames IS 'codevec search: a configured column renamed with ALTER TABLE keeps its place in codevec.search_config';

-- ---------------------------------------------------------------------------------------
-- Searching

-- The query embedding for a table: codevec.embed at the table's precision, through the
-- table's active adapter when it has one (trained for this model and precision).
CREATE FUNCTION codevec.embed_query(query text, tbl regclass) RETURNS @extschema@.embedding
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE prec text; blob bytea; e @extschema@.embedding;
BEGIN
  SELECT c."precision" INTO prec FROM codevec.search_config c WHERE c.relid OPERATOR(pg_catalog.=) tbl;
  IF NOT FOUND THEN
    RAISE EXCEPTION '"%" is not enabled for search', tbl
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call codevec.enable_search(table, text_column, embedding_column) first (and check that you may read the table).';
  END IF;
  e := codevec.embed(query, prec);
  SELECT a.adapter INTO blob FROM codevec.adapters a
   WHERE a.relid OPERATOR(pg_catalog.=) tbl AND a.active AND a."precision" OPERATOR(pg_catalog.=) prec
     AND a.model OPERATOR(pg_catalog.=) (SELECT i.model FROM codevec.encoder_info(prec) i);
  IF blob IS NOT NULL THEN
    e := codevec.apply_adapter(e, blob);
  END IF;
  RETURN e;
END
$fn$;
COMMENT ON FUNCTION codevec.embed_query(text, regclass) IS 'the embedding of a question for searching a table: codevec.embed at the table''s precision, through the table''s active query adapter if it has one';

CREATE FUNCTION codevec.search_explain(tbl anyelement, query text, k integer DEFAULT 10, filter jsonb DEFAULT NULL)
RETURNS TABLE (rank integer, score double precision, vector_rank integer, vector_distance double precision,
               lexical_rank integer, lexical_score double precision, symbol_prior double precision,
               path_prior double precision, hit anyelement)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  rel oid;
  cfg codevec.search_config;
  terms text[]; qtfs integer[]; dfs bigint[];
  n_docs bigint; total_len bigint;
  fetch_terms text[];
  tsq tsquery;
  bq bytea;
  cond text := 'true';
  key text; val jsonb; eq text;
  e_type regtype;
  qcast text := '';
  sp text := '0::float8'; pp text := '0::float8';
  lex_cond text;
  sql text;
BEGIN
  SELECT t.typrelid INTO rel FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) pg_catalog.pg_typeof(tbl);
  IF rel IS NULL OR rel OPERATOR(pg_catalog.=) 0 THEN
    RAISE EXCEPTION 'codevec.search needs a table''s row type, not %', pg_catalog.pg_typeof(tbl)
      USING ERRCODE = 'datatype_mismatch', HINT = 'Pass NULL::your_table as the first argument, as in codevec.search(NULL::snippets, ''parse a date'', 10).';
  END IF;
  SELECT * INTO cfg FROM codevec.search_config c WHERE c.relid OPERATOR(pg_catalog.=) rel;
  IF NOT FOUND THEN
    IF NOT pg_catalog.has_table_privilege(rel, 'SELECT') THEN
      RAISE EXCEPTION 'permission denied for table %', rel::regclass USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION '"%" is not enabled for search', rel::regclass
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = pg_catalog.format('Call SELECT codevec.enable_search(%L, text_column, embedding_column) first.', rel::regclass::text);
  END IF;
  IF query IS NULL OR pg_catalog.btrim(query) OPERATOR(pg_catalog.=) '' THEN
    RAISE EXCEPTION 'the question must not be empty' USING ERRCODE = CASE WHEN query IS NULL THEN 'null_value_not_allowed' ELSE 'invalid_parameter_value' END,
      HINT = 'Pass a question in words, such as ''parse a date string''.';
  END IF;
  IF k IS NULL OR k OPERATOR(pg_catalog.<) 1 OR k OPERATOR(pg_catalog.>) 1000 THEN
    RAISE EXCEPTION 'k must be between 1 and 1000, not %', coalesce(k::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF codevec.search_column_type(rel, 'codevec_lex') IS NULL
     OR codevec.search_column_type(rel, cfg.text_column) IS NULL THEN
    RAISE EXCEPTION 'the search columns of "%" are gone', rel::regclass
      USING ERRCODE = 'undefined_column', HINT = 'Call codevec.disable_search and codevec.enable_search again.';
  END IF;
  e_type := codevec.search_column_type(rel, cfg.embedding_column);
  IF e_type IS NULL THEN
    RAISE EXCEPTION 'column "%" of "%" does not exist', cfg.embedding_column, rel::regclass
      USING ERRCODE = 'undefined_column', HINT = 'After renaming it, call codevec.enable_search again with the new name.';
  END IF;
  IF e_type OPERATOR(pg_catalog.=) '@extschema@.halfembedding'::regtype THEN
    qcast := '::@extschema@.halfembedding';
  END IF;

  -- the filter: {"column": value} is column = value, {"column": [v1, v2]} is column = ANY,
  -- {"column": null} is column IS NULL; values are converted to the column's type by
  -- jsonb_populate_record and passed as a parameter, names quoted: nothing of the filter
  -- becomes SQL text but validated column names.
  IF filter IS NOT NULL THEN
    IF pg_catalog.jsonb_typeof(filter) OPERATOR(pg_catalog.<>) 'object' THEN
      RAISE EXCEPTION 'the filter must be a JSON object, not %', pg_catalog.jsonb_typeof(filter)
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Use {"column": value} or {"column": [value, ...]}, as in ''{"language": "rust"}''.';
    END IF;
    FOR key, val IN SELECT j.key, j.value FROM pg_catalog.jsonb_each(filter) j LOOP
      IF codevec.search_column_type(rel, key::name) IS NULL OR key OPERATOR(pg_catalog.<>) key::name::text THEN
        RAISE EXCEPTION 'the filter names column "%", which "%" does not have', key, rel::regclass USING ERRCODE = 'undefined_column';
      END IF;
      -- convert the value(s) now: a value the column's type refuses is an error here, not
      -- in the middle of the search statement
      IF pg_catalog.jsonb_typeof(val) NOT IN ('null', 'object') THEN
        EXECUTE pg_catalog.format(
          'SELECT pg_catalog.count((pg_catalog.jsonb_populate_record(NULL::%1$s, pg_catalog.jsonb_build_object(%2$L, x))).%3$I) '
          'FROM pg_catalog.jsonb_array_elements(CASE pg_catalog.jsonb_typeof($1) WHEN ''array'' THEN $1 ELSE pg_catalog.jsonb_build_array($1) END) x',
          rel::regclass, key, key) USING val;
      END IF;
      eq := codevec.search_eq_operator(codevec.search_column_type(rel, key::name));
      CASE pg_catalog.jsonb_typeof(val)
        WHEN 'null' THEN
          cond := cond || pg_catalog.format(' AND t.%I IS NULL', key);
        WHEN 'array' THEN
          IF EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(val) x WHERE pg_catalog.jsonb_typeof(x) IN ('object', 'array', 'null')) THEN
            RAISE EXCEPTION 'the filter''s values for "%" must be scalars', key USING ERRCODE = 'invalid_parameter_value';
          END IF;
          cond := cond || pg_catalog.format(
            ' AND t.%1$I %4$s ANY (ARRAY(SELECT (pg_catalog.jsonb_populate_record(NULL::%2$s, pg_catalog.jsonb_build_object(%3$L, x))).%1$I FROM pg_catalog.jsonb_array_elements($6 -> %3$L) x))',
            key, rel::regclass, key, eq);
        WHEN 'object' THEN
          RAISE EXCEPTION 'the filter''s value for "%" must be a scalar or an array of scalars', key USING ERRCODE = 'invalid_parameter_value';
        ELSE
          cond := cond || pg_catalog.format(' AND t.%1$I %3$s (SELECT (pg_catalog.jsonb_populate_record(NULL::%2$s, $6)).%1$I)', key, rel::regclass, eq);
      END CASE;
    END LOOP;
  END IF;

  -- the lexical leg: the question's terms with their statistics
  SELECT pg_catalog.array_agg(q.term ORDER BY q.term), pg_catalog.array_agg(q.qtf ORDER BY q.term)
    INTO terms, qtfs FROM codevec.query_terms(query) q;
  terms := coalesce(terms, '{}'); qtfs := coalesce(qtfs, '{}');
  WITH s AS MATERIALIZED (SELECT * FROM codevec.lexical_term_stats(rel, terms OPERATOR(pg_catalog.||) ''::text))
  SELECT (SELECT pg_catalog.array_agg(coalesce(s.df, 0) ORDER BY u.term)
            FROM pg_catalog.unnest(terms) u(term) LEFT JOIN s ON s.term OPERATOR(pg_catalog.=) u.term),
         (SELECT s.df FROM s WHERE s.term OPERATOR(pg_catalog.=) ''),
         (SELECT s.len FROM s WHERE s.term OPERATOR(pg_catalog.=) '')
    INTO dfs, n_docs, total_len;
  n_docs := coalesce(n_docs, 0); total_len := coalesce(total_len, 0);
  -- fetch through the rarest terms while their document frequencies sum to at most
  -- fetch_rows (the rarest one always): a term most rows hold would fetch many rows and
  -- hardly change which come first. Every term is still scored on the rows fetched.
  SELECT pg_catalog.array_agg(x.term) INTO fetch_terms FROM (
    SELECT u.term, pg_catalog.sum(u.df) OVER (ORDER BY u.df, u.term) AS upto,
           pg_catalog.row_number() OVER (ORDER BY u.df, u.term) AS n
      FROM ROWS FROM (pg_catalog.unnest(terms), pg_catalog.unnest(dfs)) u(term, df)
     WHERE u.df OPERATOR(pg_catalog.>) 0) x
   WHERE x.n OPERATOR(pg_catalog.=) 1 OR x.upto OPERATOR(pg_catalog.<=) cfg.fetch_rows;
  IF fetch_terms IS NOT NULL THEN
    SELECT pg_catalog.string_agg('''' || pg_catalog.replace(pg_catalog.replace(f, '\', '\\'), '''', '''''') || '''', ' | ')::tsquery
      INTO tsq FROM pg_catalog.unnest(fetch_terms) f;
    bq := codevec.bm25_query(terms, dfs, qtfs, n_docs, total_len, cfg.k1, cfg.b);
    lex_cond := 't.codevec_lex @@ $4';
  ELSE
    lex_cond := 'false';
  END IF;

  IF cfg.symbol_column IS NOT NULL AND codevec.search_column_type(rel, cfg.symbol_column) IS NOT NULL THEN
    sp := pg_catalog.format('coalesce(codevec.symbol_prior($1, t.%I), 0)', cfg.symbol_column);
  END IF;
  IF cfg.path_column IS NOT NULL AND codevec.search_column_type(rel, cfg.path_column) IS NOT NULL THEN
    pp := pg_catalog.format('coalesce(codevec.path_prior($1, t.%I), 0)', cfg.path_column);
  END IF;

  sql := pg_catalog.format($q$
    WITH q AS MATERIALIZED (SELECT codevec.embed_query($1, $2) AS e),
    v AS MATERIALIZED (
      SELECT t.tableoid AS toid, t.ctid AS tid, (t.%1$I OPERATOR(@extschema@.<=>) (SELECT q.e%3$s FROM q)) AS d
        FROM %2$s t WHERE t.%1$I IS NOT NULL AND %4$s
       ORDER BY t.%1$I OPERATOR(@extschema@.<=>) (SELECT q.e%3$s FROM q) LIMIT $3),
    vr AS (SELECT v.*, row_number() OVER (ORDER BY v.d, v.toid, v.tid) AS r,
                  min(v.d) OVER () AS lo, max(v.d) OVER () AS hi FROM v),
    l AS MATERIALIZED (
      SELECT t.tableoid AS toid, t.ctid AS tid, codevec.bm25(t.codevec_lex, $5) AS s
        FROM %2$s t WHERE %5$s AND %4$s
       ORDER BY 3 DESC, 1, 2 LIMIT $3),
    lr AS (SELECT l.*, row_number() OVER (ORDER BY l.s DESC, l.toid, l.tid) AS r,
                  min(l.s) OVER () AS lo, max(l.s) OVER () AS hi FROM l WHERE l.s > 0),
    f AS (
      SELECT coalesce(vr.toid, lr.toid) AS toid, coalesce(vr.tid, lr.tid) AS tid,
             vr.r AS vrank, vr.d, lr.r AS lrank, lr.s,
             $7 * CASE WHEN vr.d IS NULL THEN 0 WHEN vr.hi > vr.lo THEN (vr.hi - vr.d) / (vr.hi - vr.lo) ELSE 1 END
           + (1 - $7) * CASE WHEN lr.s IS NULL THEN 0 WHEN lr.hi > lr.lo THEN (lr.s - lr.lo) / (lr.hi - lr.lo) ELSE 1 END AS fused
        FROM vr FULL JOIN lr ON vr.toid = lr.toid AND vr.tid = lr.tid),
    ids AS MATERIALIZED (SELECT pg_catalog.array_agg(f.tid) AS tids FROM f),
    pri AS (
      SELECT t.tableoid AS toid, t.ctid AS tid, %6$s AS sp, %7$s AS pp
        FROM %2$s t WHERE t.ctid = ANY ((SELECT ids.tids FROM ids)::pg_catalog.tid[])),
    top AS MATERIALIZED (
      SELECT f.*, p.sp, p.pp, f.fused + $8 * p.sp + $9 * p.pp AS score,
             row_number() OVER (ORDER BY f.fused + $8 * p.sp + $9 * p.pp DESC, f.d ASC NULLS LAST, f.toid, f.tid) AS rank
        FROM f JOIN pri p ON p.toid = f.toid AND p.tid = f.tid
       ORDER BY rank LIMIT $10),
    tops AS MATERIALIZED (SELECT pg_catalog.array_agg(top.tid) AS tids FROM top)
    SELECT z.rank::int, z.score, z.vrank::int, z.d, z.lrank::int, z.s, z.sp, z.pp, t AS hit
      FROM top z JOIN %2$s t ON t.tableoid = z.toid AND t.ctid = z.tid
     WHERE t.ctid = ANY ((SELECT tops.tids FROM tops)::pg_catalog.tid[])
     ORDER BY z.rank$q$,
    cfg.embedding_column, rel::regclass, qcast, cond, lex_cond, sp, pp);
  -- SET client_min_messages = debug1 shows the statement (to EXPLAIN it with its parameters)
  RAISE DEBUG 'codevec.search: %', sql;
  RAISE DEBUG 'codevec.search parameters: $1 = %, $3 = %, $4 = %', query, GREATEST(cfg.depth, k), tsq;
  RETURN QUERY EXECUTE sql
    USING query, rel::regclass, GREATEST(cfg.depth, k), tsq, bq, filter,
          cfg.vector_weight, cfg.symbol_weight, cfg.path_weight, k;
END
$fn$;
COMMENT ON FUNCTION codevec.search_explain(anyelement, text, integer, jsonb) IS 'codevec.search with the reasons: per hit its rank, fused score, vector rank and cosine distance, lexical (BM25) rank and score, symbol and path priors, and the row itself (hit)';

CREATE FUNCTION codevec.search(tbl anyelement, query text, k integer DEFAULT 10, filter jsonb DEFAULT NULL)
RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type t
                  WHERE t.oid OPERATOR(pg_catalog.=) pg_catalog.pg_typeof(tbl) AND t.typrelid OPERATOR(pg_catalog.<>) 0) THEN
    RAISE EXCEPTION 'codevec.search needs a table''s row type, not %', pg_catalog.pg_typeof(tbl)
      USING ERRCODE = 'datatype_mismatch', HINT = 'Pass NULL::your_table as the first argument, as in codevec.search(NULL::snippets, ''parse a date'', 10).';
  END IF;
  -- EXECUTE: planned per call, so that (hit).* expands to the table's columns of now; a
  -- saved plan would keep the columns of its first call through an ALTER TABLE.
  RETURN QUERY EXECUTE 'SELECT (e.hit).* FROM codevec.search_explain($1, $2, $3, $4) e ORDER BY e.rank'
    USING tbl, query, k, filter;
END
$fn$;
COMMENT ON FUNCTION codevec.search(anyelement, text, integer, jsonb) IS 'hybrid code search: the k rows of a search-enabled table (pass NULL::table) that best answer a question, best first: vector and BM25 legs fused, code-aware priors added; filter {"column": value | [values] | null} restricts both legs before fusion';

-- ---------------------------------------------------------------------------------------
-- The query adapter

CREATE FUNCTION codevec.train_adapter(tbl regclass, pairs regclass DEFAULT NULL,
    epochs integer DEFAULT 40, min_gain double precision DEFAULT 0, seed bigint DEFAULT 20241201)
RETURNS TABLE (version integer, active boolean, train_pairs integer, heldout_pairs integer,
               heldout_mrr_before double precision, heldout_mrr_after double precision, seconds double precision)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  cfg codevec.search_config;
  docs real[]; qs text[]; ids integer[];
  r record;
  ver integer;
  model text;
  col name;
BEGIN
  IF tbl IS NULL THEN
    RAISE EXCEPTION 'codevec.train_adapter: the table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT * INTO cfg FROM codevec.search_config c WHERE c.relid OPERATOR(pg_catalog.=) tbl;
  IF NOT FOUND THEN
    RAISE EXCEPTION '"%" is not enabled for search', tbl
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Call codevec.enable_search first.';
  END IF;
  IF NOT pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl), 'USAGE') THEN
    RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF epochs IS NULL OR epochs OPERATOR(pg_catalog.<) 1 OR epochs OPERATOR(pg_catalog.>) 10000 THEN
    RAISE EXCEPTION 'epochs must be between 1 and 10000, not %', coalesce(epochs::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF pairs IS NULL THEN
    -- pairs for free: each documented row's doc comment is a question its code answers
    IF cfg.doc_column IS NULL OR codevec.search_column_type(tbl, cfg.doc_column) IS NULL THEN
      RAISE EXCEPTION '"%" has no doc column to mine training pairs from', tbl
        USING ERRCODE = 'undefined_column',
              HINT = 'Pass a table or view of (query text, code text) pairs, or enable search with doc_column => ''doc'' (the loader fills one).';
    END IF;
    EXECUTE pg_catalog.format($q$
      WITH s AS MATERIALIZED (
        SELECT row_number() OVER (ORDER BY t.%4$I, t.%2$I) AS n, t.%1$I::real[] AS e, pg_catalog.btrim(t.%2$I) AS d
          FROM %3$s t WHERE t.%1$I IS NOT NULL)
      SELECT (SELECT pg_catalog.array_agg(s.e ORDER BY s.n) FROM s),
             (SELECT pg_catalog.array_agg(s.d ORDER BY s.n) FROM s WHERE pg_catalog.length(s.d) >= 10),
             (SELECT pg_catalog.array_agg(s.n::integer ORDER BY s.n) FROM s WHERE pg_catalog.length(s.d) >= 10)$q$,
      cfg.embedding_column, cfg.doc_column, tbl, cfg.text_column) INTO docs, qs, ids;
  ELSE
    FOREACH col IN ARRAY ARRAY['query', 'code']::name[] LOOP
      IF codevec.search_column_type(pairs, col) IS NULL
         OR codevec.search_column_type(pairs, col) NOT IN ('pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype) THEN
        RAISE EXCEPTION '"%" has no text column "%"', pairs, col
          USING ERRCODE = 'undefined_column', HINT = 'The pairs must be a table or view with columns query text and code text.';
      END IF;
    END LOOP;
    -- a pair's code is found in the table by its text, so its stored embedding is used;
    -- rows are numbered by their text, so the held-out split does not depend on where rows
    -- happen to lie in the heap
    EXECUTE pg_catalog.format($q$
      WITH s AS MATERIALIZED (
        SELECT row_number() OVER (ORDER BY t.%2$I) AS n, t.%1$I::real[] AS e, t.%2$I::text AS c
          FROM %3$s t WHERE t.%1$I IS NOT NULL),
      p AS (SELECT DISTINCT ON (pr.query, pr.code) pr.query::text AS query, s.n
              FROM %4$s pr JOIN s ON s.c = pr.code::text
             WHERE pr.query IS NOT NULL AND pg_catalog.btrim(pr.query) <> ''
             ORDER BY pr.query, pr.code, s.n)
      SELECT (SELECT pg_catalog.array_agg(s.e ORDER BY s.n) FROM s),
             (SELECT pg_catalog.array_agg(p.query ORDER BY p.n, p.query) FROM p),
             (SELECT pg_catalog.array_agg(p.n::integer ORDER BY p.n, p.query) FROM p)$q$,
      cfg.embedding_column, cfg.text_column, tbl, pairs) INTO docs, qs, ids;
  END IF;
  IF docs IS NULL THEN
    RAISE EXCEPTION '"%" has no embedded rows to train on', tbl USING ERRCODE = 'no_data_found';
  END IF;
  IF qs IS NULL OR pg_catalog.cardinality(qs) OPERATOR(pg_catalog.<) 10 THEN
    RAISE EXCEPTION 'too few training pairs: %', coalesce(pg_catalog.cardinality(qs), 0)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Training needs at least 10 pairs whose code is a row of the table; thousands make a useful adapter.';
  END IF;
  RAISE NOTICE 'codevec.train_adapter: % pairs, % candidate rows', pg_catalog.cardinality(qs), pg_catalog.array_length(docs, 1);
  SELECT * INTO r FROM codevec.adapter_train(docs, qs, ids, cfg."precision", epochs, seed, min_gain);
  SELECT i.model INTO model FROM codevec.encoder_info(cfg."precision") i;
  -- one trainer at a time per table: versions are numbered under this lock
  PERFORM pg_catalog.pg_advisory_xact_lock((7161281::bigint OPERATOR(pg_catalog.<<) 32) OPERATOR(pg_catalog.|) tbl::pg_catalog.oid::bigint);
  SELECT coalesce(pg_catalog.max(a.version), 0) OPERATOR(pg_catalog.+) 1 INTO ver FROM codevec.adapters a WHERE a.relid OPERATOR(pg_catalog.=) tbl;
  IF r.accepted THEN
    UPDATE codevec.adapters a SET active = false WHERE a.relid OPERATOR(pg_catalog.=) tbl AND a.active;
  END IF;
  INSERT INTO codevec.adapters (relid, version, model, "precision", dims, adapter, active, accepted, train_pairs,
                                heldout_pairs, heldout_mrr_before, heldout_mrr_after, seconds)
    VALUES (tbl, ver, model, cfg."precision", 384, r.adapter, r.accepted, r.accepted, r.train_pairs,
            r.heldout_pairs, r.plain_mrr, r.adapted_mrr, r.seconds);
  IF r.accepted THEN
    RAISE NOTICE 'codevec.train_adapter: version % active: held-out MRR@10 % -> % (% pairs held out)',
      ver, pg_catalog.round(r.plain_mrr::numeric, 4), pg_catalog.round(r.adapted_mrr::numeric, 4), r.heldout_pairs;
  ELSIF r.collapsed THEN
    RAISE NOTICE 'codevec.train_adapter: version % not activated: it collapses the questions together (held-out MRR@10 % -> %)',
      ver, pg_catalog.round(r.plain_mrr::numeric, 4), pg_catalog.round(r.adapted_mrr::numeric, 4);
  ELSE
    RAISE NOTICE 'codevec.train_adapter: version % not activated: held-out MRR@10 % -> % is no clear gain (standard error %)',
      ver, pg_catalog.round(r.plain_mrr::numeric, 4), pg_catalog.round(r.adapted_mrr::numeric, 4), pg_catalog.round(r.gain_stderr::numeric, 4);
  END IF;
  RETURN QUERY SELECT ver, r.accepted, r.train_pairs, r.heldout_pairs, r.plain_mrr, r.adapted_mrr, r.seconds;
END
$fn$;
COMMENT ON FUNCTION codevec.train_adapter(regclass, regclass, integer, double precision, bigint) IS 'trains a query adapter for a search-enabled table on (query, code) pairs (a table or view; without one, mined from the doc column), holds out 20 %, and activates it only when held-out MRR@10 improves; every version is kept in codevec.adapters';

CREATE FUNCTION codevec.drop_adapter(tbl regclass, version integer DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE gone codevec.adapters; now_active integer;
BEGIN
  IF NOT pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl), 'USAGE') THEN
    RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM pg_catalog.pg_advisory_xact_lock((7161281::bigint OPERATOR(pg_catalog.<<) 32) OPERATOR(pg_catalog.|) tbl::pg_catalog.oid::bigint);
  DELETE FROM codevec.adapters a
   WHERE a.relid OPERATOR(pg_catalog.=) tbl
     AND CASE WHEN drop_adapter.version IS NULL THEN a.active ELSE a.version OPERATOR(pg_catalog.=) drop_adapter.version END
  RETURNING a.* INTO gone;
  IF NOT FOUND THEN
    RAISE EXCEPTION '% has no % adapter', tbl,
      CASE WHEN drop_adapter.version IS NULL THEN 'active' ELSE 'version ' || drop_adapter.version END
      USING ERRCODE = 'undefined_object';
  END IF;
  IF gone.active THEN
    -- roll back to the newest earlier version the gate accepted
    UPDATE codevec.adapters a SET active = true
     WHERE a.relid OPERATOR(pg_catalog.=) tbl AND a.version OPERATOR(pg_catalog.=) (
       SELECT pg_catalog.max(b.version) FROM codevec.adapters b
        WHERE b.relid OPERATOR(pg_catalog.=) tbl AND b.accepted AND b.version OPERATOR(pg_catalog.<) gone.version)
    RETURNING a.version INTO now_active;
  ELSE
    SELECT a.version INTO now_active FROM codevec.adapters a WHERE a.relid OPERATOR(pg_catalog.=) tbl AND a.active;
  END IF;
  RETURN now_active;
END
$fn$;
COMMENT ON FUNCTION codevec.drop_adapter(regclass, integer) IS 'deletes a table''s active query adapter (or the given version); when it was active, the newest earlier accepted version becomes active again. Returns the active version afterwards (NULL: none, search uses the plain embedding)';
