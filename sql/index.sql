-- codevec: the ivf index access method, its operator classes and the recall self-check.
-- See docs/ivf.md for the on-disk format and the scan algorithm.

CREATE FUNCTION ivf_amhandler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME', 'ivf_amhandler_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ivf_amhandler(internal) IS 'handler of the ivf index access method';

CREATE ACCESS METHOD ivf TYPE INDEX HANDLER ivf_amhandler;
COMMENT ON ACCESS METHOD ivf IS 'inverted-file index with 1-bit RaBitQ codes and f16 rerank for ORDER BY embedding <op> query LIMIT k; option lists (default round(sqrt(rows))); GUCs codevec.probes, codevec.rerank, codevec.max_probes';

CREATE OPERATOR CLASS embedding_l2_ops FOR TYPE embedding USING ivf AS
    OPERATOR 1 <-> (embedding, embedding) FOR ORDER BY float_ops,
    FUNCTION 1 l2_distance(embedding, embedding);
COMMENT ON OPERATOR CLASS embedding_l2_ops USING ivf IS 'ivf index for ORDER BY embedding <-> query (Euclidean distance)';

CREATE OPERATOR CLASS embedding_cosine_ops FOR TYPE embedding USING ivf AS
    OPERATOR 1 <=> (embedding, embedding) FOR ORDER BY float_ops,
    FUNCTION 1 cosine_distance(embedding, embedding);
COMMENT ON OPERATOR CLASS embedding_cosine_ops USING ivf IS 'ivf index for ORDER BY embedding <=> query (cosine distance)';

CREATE OPERATOR CLASS embedding_ip_ops FOR TYPE embedding USING ivf AS
    OPERATOR 1 <#> (embedding, embedding) FOR ORDER BY float_ops,
    FUNCTION 1 negative_inner_product(embedding, embedding);
COMMENT ON OPERATOR CLASS embedding_ip_ops USING ivf IS 'ivf index for ORDER BY embedding <#> query (negative inner product)';

CREATE OPERATOR CLASS halfembedding_l2_ops FOR TYPE halfembedding USING ivf AS
    OPERATOR 1 <-> (halfembedding, halfembedding) FOR ORDER BY float_ops,
    FUNCTION 1 l2_distance(halfembedding, halfembedding);
COMMENT ON OPERATOR CLASS halfembedding_l2_ops USING ivf IS 'ivf index for ORDER BY halfembedding <-> query (Euclidean distance)';

CREATE OPERATOR CLASS halfembedding_cosine_ops FOR TYPE halfembedding USING ivf AS
    OPERATOR 1 <=> (halfembedding, halfembedding) FOR ORDER BY float_ops,
    FUNCTION 1 cosine_distance(halfembedding, halfembedding);
COMMENT ON OPERATOR CLASS halfembedding_cosine_ops USING ivf IS 'ivf index for ORDER BY halfembedding <=> query (cosine distance)';

CREATE OPERATOR CLASS halfembedding_ip_ops FOR TYPE halfembedding USING ivf AS
    OPERATOR 1 <#> (halfembedding, halfembedding) FOR ORDER BY float_ops,
    FUNCTION 1 negative_inner_product(halfembedding, halfembedding);
COMMENT ON OPERATOR CLASS halfembedding_ip_ops USING ivf IS 'ivf index for ORDER BY halfembedding <#> query (negative inner product)';

CREATE FUNCTION codevec.index_recall(index regclass, k integer DEFAULT 10, samples integer DEFAULT 100)
    RETURNS double precision
    AS 'MODULE_PATHNAME', 'index_recall_wrapper' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
    -- it runs SQL: nothing it names may resolve through the caller's search_path
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION codevec.index_recall(regclass, integer, integer) IS 'recall@k of an ivf index at the current codevec.probes / codevec.rerank, measured on samples indexed rows used as queries against an exact scan';
