-- codevec: the encoder's SQL objects besides the pgrx-generated functions.

COMMENT ON FUNCTION codevec.embed(text) IS
  'all-MiniLM-L6-v2 embedding of a text (384 dimensions, unit length; input truncated to 256 word pieces); immutable, usable in generated columns and expression indexes';
COMMENT ON FUNCTION codevec.embed(text, text) IS
  'embed(text) at a chosen precision: ''f32'' (full precision, the same as embed(text)) or ''int8'' (dense layers in 8-bit integers on AVX512-VNNI: about twice as fast, cosine >= 0.995 to f32)';
COMMENT ON FUNCTION codevec.embed_batch(text[]) IS
  'embeddings of many texts in one call, same order as the input; NULL elements give NULL';
COMMENT ON FUNCTION codevec.embed_batch(text[], text) IS
  'embed_batch(text[]) at a chosen precision: ''f32'' or ''int8'' (see embed(text, text))';
COMMENT ON FUNCTION codevec.token_count(text) IS
  'number of word pieces the model sees for a text, after truncation, including [CLS] and [SEP]';
COMMENT ON FUNCTION codevec.encoder_info(text) IS
  'the encoder this backend uses for a precision (default ''f32''), loading it if needed: model, dimensions, precision, threads, kernels, load time, resident memory';

-- Fill an embedding column from a text column in committed batches. Restartable: only rows
-- whose embedding is NULL (and whose text is not) are embedded, so after an interruption a
-- second call continues where the first stopped. Progress is reported as NOTICEs.
CREATE PROCEDURE codevec.embed_table(
    tbl regclass, text_column name, embedding_column name, batch_size integer DEFAULT 64,
    "precision" text DEFAULT 'f32')
LANGUAGE plpgsql AS $proc$
DECLARE
  n bigint;
  done bigint := 0;
  todo bigint;
  started timestamptz := clock_timestamp();
BEGIN
  IF batch_size IS NULL OR batch_size < 1 OR batch_size > 10000 THEN
    RAISE EXCEPTION 'batch_size must be between 1 and 10000, not %', batch_size
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  EXECUTE format('SELECT count(*) FROM %s WHERE %I IS NULL AND %I IS NOT NULL',
                 tbl, embedding_column, text_column) INTO todo;
  RAISE NOTICE 'codevec.embed_table: % rows of % to embed', todo, tbl;
  LOOP
    EXECUTE format($q$
      WITH batch AS (
        SELECT ctid AS row_id, %2$I AS txt FROM %1$s
        WHERE %3$I IS NULL AND %2$I IS NOT NULL
        LIMIT %4$s FOR UPDATE SKIP LOCKED),
      embedded AS (
        SELECT u.row_id, u.emb
        FROM (SELECT array_agg(row_id) AS ids, codevec.embed_batch(array_agg(txt), %5$L) AS embs FROM batch) s,
             unnest(s.ids, s.embs) AS u(row_id, emb))
      UPDATE %1$s t SET %3$I = e.emb FROM embedded e WHERE t.ctid = e.row_id
    $q$, tbl, text_column, embedding_column, batch_size, coalesce("precision", 'f32'));
    GET DIAGNOSTICS n = ROW_COUNT;
    EXIT WHEN n = 0;
    done := done + n;
    COMMIT;
    RAISE NOTICE 'codevec.embed_table: % / % rows (% rows/s)', done, todo,
      round(done / greatest(extract(epoch FROM clock_timestamp() - started), 0.001), 1);
  END LOOP;
  RAISE NOTICE 'codevec.embed_table: done, % rows embedded', done;
END
$proc$;
COMMENT ON PROCEDURE codevec.embed_table(regclass, name, name, integer, text) IS
  'fill a table''s embedding column from its text column in committed batches (CALL it), at precision ''f32'' (default) or ''int8''; restartable, reports progress as NOTICEs';
