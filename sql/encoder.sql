-- codevec: the encoder's SQL objects besides the pgrx-generated functions.

COMMENT ON FUNCTION codevec.embed(text) IS
  'all-MiniLM-L6-v2 embedding of a text (384 dimensions, unit length; input truncated to 256 word pieces); immutable, usable in generated columns and expression indexes';
COMMENT ON FUNCTION codevec.embed(text, text) IS
  'embed(text) at a chosen precision: ''f32'' (full precision, the same as embed(text)) or ''int8'' (dense layers as exact 8-bit integer products, the same on every CPU; fastest with VNNI; cosine >= 0.995 to f32)';
COMMENT ON FUNCTION codevec.embed_batch(text[]) IS
  'embeddings of many texts in one call, same order as the input; NULL elements give NULL';
COMMENT ON FUNCTION codevec.embed_batch(text[], text) IS
  'embed_batch(text[]) at a chosen precision: ''f32'' or ''int8'' (see embed(text, text))';
COMMENT ON FUNCTION codevec.token_count(text) IS
  'number of word pieces the model sees for a text, after truncation, including [CLS] and [SEP]';
COMMENT ON FUNCTION codevec.encoder_info(text) IS
  'the encoder this backend uses for a precision (default ''f32''), loading it if needed: model, dimensions, precision, threads, kernels, load time, resident memory, and where its weights come from (private = packed by this backend; mapped = shared with every backend through the packed-weights cache file; written = this backend wrote that file), and how many texts this backend embedded and answered from its memo of recent single texts';

-- Fill an embedding column from a text column in committed batches. Restartable: only rows
-- whose embedding is NULL (and whose text is not) are embedded, so after an interruption a
-- second call continues where the first stopped. Progress is reported as NOTICEs.
--
-- Rows are identified by (tableoid, ctid): a ctid is unique only within one table, and a
-- partitioned table or an inheritance parent spans several. The UPDATE fills a row only
-- while its embedding is still NULL, so a row embedded meanwhile by someone else is never
-- overwritten. Batches skip rows locked by other sessions; when only locked rows are left,
-- one batch waits for their locks (FOR UPDATE re-checks each row after the wait), so "done"
-- means that no row with a text and a NULL embedding is left.
--
-- A procedure with a SET clause cannot COMMIT, so instead of SET search_path every
-- function and operator below is schema-qualified (pg_catalog., OPERATOR(pg_catalog.=)):
-- nothing resolves through the caller's search_path. The table's name comes from regclass
-- and the column names are quoted with %I.
CREATE PROCEDURE codevec.embed_table(
    tbl regclass, text_column name, embedding_column name, batch_size integer DEFAULT 64,
    "precision" text DEFAULT 'f32')
LANGUAGE plpgsql AS $proc$
DECLARE
  n bigint;
  done bigint := 0;
  todo bigint;
  wait_locks boolean := false;
  left_rows bigint;
  prev_left bigint;
  started timestamptz := pg_catalog.clock_timestamp();
  secs double precision;
BEGIN
  IF tbl IS NULL OR text_column IS NULL OR embedding_column IS NULL THEN
    RAISE EXCEPTION 'codevec.embed_table: table and column names must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF batch_size IS NULL OR batch_size OPERATOR(pg_catalog.<) 1
     OR batch_size OPERATOR(pg_catalog.>) 10000 THEN
    RAISE EXCEPTION 'batch_size must be between 1 and 10000, not %', batch_size
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT (pg_catalog.lower(coalesce("precision", 'f32')) OPERATOR(pg_catalog.=) 'f32'
          OR pg_catalog.lower("precision") OPERATOR(pg_catalog.=) 'int8') THEN
    RAISE EXCEPTION 'invalid encoder precision: "%"', "precision"
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use ''f32'' (the default) or ''int8''.';
  END IF;
  EXECUTE pg_catalog.format(
    'SELECT pg_catalog.count(*) FROM %s WHERE %I IS NULL AND %I IS NOT NULL',
    tbl, embedding_column, text_column) INTO todo;
  RAISE NOTICE 'codevec.embed_table: % rows of % to embed', todo, tbl;
  LOOP
    EXECUTE pg_catalog.format($q$
      WITH batch AS (
        SELECT tableoid AS row_rel, ctid AS row_id, %2$I AS txt FROM %1$s
        WHERE %3$I IS NULL AND %2$I IS NOT NULL
        LIMIT %4$s FOR UPDATE %6$s),
      embedded AS (
        SELECT u.row_rel, u.row_id, u.emb
        FROM (SELECT pg_catalog.array_agg(row_rel) AS rels, pg_catalog.array_agg(row_id) AS ids,
                     codevec.embed_batch(pg_catalog.array_agg(txt), %5$L) AS embs FROM batch) s,
             ROWS FROM (pg_catalog.unnest(s.rels), pg_catalog.unnest(s.ids),
                       pg_catalog.unnest(s.embs)) AS u(row_rel, row_id, emb))
      UPDATE %1$s t SET %3$I = e.emb FROM embedded e
      WHERE t.tableoid OPERATOR(pg_catalog.=) e.row_rel
        AND t.ctid OPERATOR(pg_catalog.=) e.row_id
        AND t.%3$I IS NULL
    $q$, tbl, text_column, embedding_column, batch_size, coalesce("precision", 'f32'),
         CASE WHEN wait_locks THEN '' ELSE 'SKIP LOCKED' END);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n OPERATOR(pg_catalog.=) 0 THEN
      -- nothing unlocked was left (or the rows just waited for were filled meanwhile):
      -- is any row left at all?
      EXECUTE pg_catalog.format(
        'SELECT pg_catalog.count(*) FROM %s WHERE %I IS NULL AND %I IS NOT NULL',
        tbl, embedding_column, text_column) INTO left_rows;
      EXIT WHEN left_rows OPERATOR(pg_catalog.=) 0;
      IF wait_locks AND left_rows OPERATOR(pg_catalog.>=) prev_left THEN
        RAISE EXCEPTION 'codevec.embed_table: % rows of % keep a NULL embedding after being updated', left_rows, tbl
          USING ERRCODE = 'object_not_in_prerequisite_state',
                HINT = 'A trigger, rule or row-level security policy prevents the update of those rows.';
      END IF;
      prev_left := left_rows;
      wait_locks := true;
      CONTINUE;
    END IF;
    wait_locks := false;
    done := done OPERATOR(pg_catalog.+) n;
    COMMIT;
    secs := pg_catalog.date_part('epoch',
              pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started);
    RAISE NOTICE 'codevec.embed_table: % rows (% rows/s)', done,
      pg_catalog.round((done::double precision OPERATOR(pg_catalog./)
                        GREATEST(secs, 0.001::double precision))::numeric, 1);
  END LOOP;
  RAISE NOTICE 'codevec.embed_table: done, % rows embedded', done;
END
$proc$;
COMMENT ON PROCEDURE codevec.embed_table(regclass, name, name, integer, text) IS
  'fill a table''s embedding column from its text column in committed batches (CALL it), at precision ''f32'' (default) or ''int8''; restartable, reports progress as NOTICEs';
