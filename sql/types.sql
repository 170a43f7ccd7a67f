-- codevec: the embedding and halfembedding types, their functions, operators, casts,
-- operator classes and aggregates. C functions live in the codevec library ('MODULE_PATHNAME');
-- each is the pgrx wrapper of the Rust function of the same name (see src/types/).
-- Every object carries a COMMENT; the README's reference section lists them with examples.

-- ---------------------------------------------------------------- embedding
CREATE TYPE embedding;
CREATE FUNCTION embedding_in(cstring, oid, integer) RETURNS embedding
    AS 'MODULE_PATHNAME', 'embedding_in_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_in(cstring, oid, integer) IS 'text input of embedding: ''[1,2.5,-3]''';
CREATE FUNCTION embedding_out(embedding) RETURNS cstring
    AS 'MODULE_PATHNAME', 'embedding_out_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_out(embedding) IS 'text output of embedding: shortest exact round-trip decimals';
CREATE FUNCTION embedding_typmod_in(cstring[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'embedding_typmod_in_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_typmod_in(cstring[]) IS 'type modifier input of embedding(n): n dimensions, 1..16000';
CREATE FUNCTION embedding_typmod_out(integer) RETURNS cstring
    AS 'MODULE_PATHNAME', 'embedding_typmod_out_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_typmod_out(integer) IS 'type modifier output of embedding(n)';
CREATE FUNCTION embedding_recv(internal, oid, integer) RETURNS embedding
    AS 'MODULE_PATHNAME', 'embedding_recv_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_recv(internal, oid, integer) IS 'binary input of embedding: int16 dims, int16 0, big-endian elements';
CREATE FUNCTION embedding_send(embedding) RETURNS bytea
    AS 'MODULE_PATHNAME', 'embedding_send_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_send(embedding) IS 'binary output of embedding: int16 dims, int16 0, big-endian elements';
CREATE TYPE embedding (
    INPUT = embedding_in, OUTPUT = embedding_out,
    TYPMOD_IN = embedding_typmod_in, TYPMOD_OUT = embedding_typmod_out,
    RECEIVE = embedding_recv, SEND = embedding_send,
    INTERNALLENGTH = VARIABLE, ALIGNMENT = int4, STORAGE = external
);
COMMENT ON TYPE embedding IS 'a vector of single-precision (float4) elements, e.g. ''[1,2.5,-3]''::embedding(3); at most 16000 dimensions, finite elements';
CREATE FUNCTION embedding(embedding, integer, boolean) RETURNS embedding
    AS 'MODULE_PATHNAME', 'embedding_coerce_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding(embedding, integer, boolean) IS 'length coercion: enforces the dimensions of embedding(n)';
CREATE FUNCTION embedding(real[], integer, boolean) RETURNS embedding
    AS 'MODULE_PATHNAME', 'float4_array_to_embedding_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding(real[], integer, boolean) IS 'cast real[] to embedding: no NULL elements, finite values in range';
CREATE FUNCTION embedding(double precision[], integer, boolean) RETURNS embedding
    AS 'MODULE_PATHNAME', 'float8_array_to_embedding_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding(double precision[], integer, boolean) IS 'cast double precision[] to embedding: no NULL elements, finite values in range';
CREATE FUNCTION embedding(integer[], integer, boolean) RETURNS embedding
    AS 'MODULE_PATHNAME', 'int4_array_to_embedding_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding(integer[], integer, boolean) IS 'cast integer[] to embedding: no NULL elements, finite values in range';
CREATE FUNCTION embedding(numeric[], integer, boolean) RETURNS embedding
    AS 'MODULE_PATHNAME', 'numeric_array_to_embedding_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding(numeric[], integer, boolean) IS 'cast numeric[] to embedding: no NULL elements, finite values in range';
CREATE FUNCTION embedding_to_float4(embedding, integer, boolean) RETURNS real[]
    AS 'MODULE_PATHNAME', 'embedding_to_float4_array_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_to_float4(embedding, integer, boolean) IS 'cast embedding to real[]';
CREATE FUNCTION embedding_to_float8(embedding, integer, boolean) RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'embedding_to_float8_array_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_to_float8(embedding, integer, boolean) IS 'cast embedding to double precision[]';
CREATE CAST (embedding AS embedding) WITH FUNCTION embedding(embedding, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (embedding AS embedding) IS 'applies the column''s typmod: checks the dimension count of embedding(n)';
CREATE CAST (real[] AS embedding) WITH FUNCTION embedding(real[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (real[] AS embedding) IS 'a one-dimensional real[] without NULLs, each element finite, as a vector';
CREATE CAST (double precision[] AS embedding) WITH FUNCTION embedding(double precision[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (double precision[] AS embedding) IS 'a one-dimensional double precision[] without NULLs, each element finite, as a vector';
CREATE CAST (integer[] AS embedding) WITH FUNCTION embedding(integer[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (integer[] AS embedding) IS 'a one-dimensional integer[] without NULLs, each element finite, as a vector';
CREATE CAST (numeric[] AS embedding) WITH FUNCTION embedding(numeric[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (numeric[] AS embedding) IS 'a one-dimensional numeric[] without NULLs, each element finite, as a vector';
CREATE CAST (embedding AS real[]) WITH FUNCTION embedding_to_float4(embedding, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (embedding AS real[]) IS 'the elements as real values';
CREATE CAST (embedding AS double precision[]) WITH FUNCTION embedding_to_float8(embedding, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (embedding AS double precision[]) IS 'the elements as double precision values';
CREATE FUNCTION l2_distance(embedding, embedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'embedding_l2_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(embedding, embedding) IS 'Euclidean (L2) distance; operator <->';
CREATE FUNCTION l2_squared_distance(embedding, embedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'embedding_l2_squared_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_squared_distance(embedding, embedding) IS 'squared Euclidean distance';
CREATE FUNCTION cosine_distance(embedding, embedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'embedding_cosine_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(embedding, embedding) IS 'cosine distance 1 - cos(a, b) in [0, 2]; 1 when either is the zero vector; operator <=>';
CREATE FUNCTION inner_product(embedding, embedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'embedding_inner_product_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(embedding, embedding) IS 'inner (dot) product';
CREATE FUNCTION negative_inner_product(embedding, embedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'embedding_negative_inner_product_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION negative_inner_product(embedding, embedding) IS 'negative inner product; operator <#>';
CREATE FUNCTION l1_distance(embedding, embedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'embedding_l1_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(embedding, embedding) IS 'L1 (Manhattan) distance; operator <+>';
CREATE FUNCTION l2_norm(embedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'embedding_l2_norm_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_norm(embedding) IS 'Euclidean norm';
CREATE FUNCTION l2_normalize(embedding) RETURNS embedding
    AS 'MODULE_PATHNAME', 'embedding_l2_normalize_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(embedding) IS 'the vector scaled to unit Euclidean norm (the zero vector stays zero)';
CREATE FUNCTION dims(embedding) RETURNS integer
    AS 'MODULE_PATHNAME', 'embedding_dims_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dims(embedding) IS 'number of dimensions';
CREATE FUNCTION subvector(embedding, integer, integer) RETURNS embedding
    AS 'MODULE_PATHNAME', 'embedding_subvector_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION subvector(embedding, integer, integer) IS 'subvector(v, start, count): count elements from 1-based position start';
CREATE FUNCTION embedding_add(embedding, embedding) RETURNS embedding
    AS 'MODULE_PATHNAME', 'embedding_add_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_add(embedding, embedding) IS 'element-wise sum';
CREATE FUNCTION embedding_sub(embedding, embedding) RETURNS embedding
    AS 'MODULE_PATHNAME', 'embedding_sub_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_sub(embedding, embedding) IS 'element-wise difference';
CREATE FUNCTION embedding_mul(embedding, embedding) RETURNS embedding
    AS 'MODULE_PATHNAME', 'embedding_mul_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_mul(embedding, embedding) IS 'element-wise product';
CREATE FUNCTION embedding_lt(embedding, embedding) RETURNS boolean
    AS 'MODULE_PATHNAME', 'embedding_lt_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_lt(embedding, embedding) IS 'comparison (lt): element-wise, then by dimensions';
CREATE FUNCTION embedding_le(embedding, embedding) RETURNS boolean
    AS 'MODULE_PATHNAME', 'embedding_le_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_le(embedding, embedding) IS 'comparison (le): element-wise, then by dimensions';
CREATE FUNCTION embedding_eq(embedding, embedding) RETURNS boolean
    AS 'MODULE_PATHNAME', 'embedding_eq_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_eq(embedding, embedding) IS 'comparison (eq): element-wise, then by dimensions';
CREATE FUNCTION embedding_ne(embedding, embedding) RETURNS boolean
    AS 'MODULE_PATHNAME', 'embedding_ne_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_ne(embedding, embedding) IS 'comparison (ne): element-wise, then by dimensions';
CREATE FUNCTION embedding_ge(embedding, embedding) RETURNS boolean
    AS 'MODULE_PATHNAME', 'embedding_ge_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_ge(embedding, embedding) IS 'comparison (ge): element-wise, then by dimensions';
CREATE FUNCTION embedding_gt(embedding, embedding) RETURNS boolean
    AS 'MODULE_PATHNAME', 'embedding_gt_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_gt(embedding, embedding) IS 'comparison (gt): element-wise, then by dimensions';
CREATE FUNCTION embedding_cmp(embedding, embedding) RETURNS integer
    AS 'MODULE_PATHNAME', 'embedding_cmp_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_cmp(embedding, embedding) IS 'btree comparison: element-wise, then by dimensions';
CREATE OPERATOR <-> (LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = l2_distance, COMMUTATOR = OPERATOR(<->));
COMMENT ON OPERATOR <->(embedding, embedding) IS 'Euclidean (L2) distance';
CREATE OPERATOR <=> (LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = cosine_distance, COMMUTATOR = OPERATOR(<=>));
COMMENT ON OPERATOR <=>(embedding, embedding) IS 'cosine distance';
CREATE OPERATOR <#> (LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = negative_inner_product, COMMUTATOR = OPERATOR(<#>));
COMMENT ON OPERATOR <#>(embedding, embedding) IS 'negative inner product';
CREATE OPERATOR <+> (LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = l1_distance, COMMUTATOR = OPERATOR(<+>));
COMMENT ON OPERATOR <+>(embedding, embedding) IS 'L1 distance';
CREATE OPERATOR + (LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_add, COMMUTATOR = +);
COMMENT ON OPERATOR +(embedding, embedding) IS 'element-wise sum';
CREATE OPERATOR - (LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_sub);
COMMENT ON OPERATOR -(embedding, embedding) IS 'element-wise difference';
CREATE OPERATOR * (LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_mul, COMMUTATOR = *);
COMMENT ON OPERATOR *(embedding, embedding) IS 'element-wise product';
CREATE OPERATOR < (LEFTARG = embedding, RIGHTARG = embedding, PROCEDURE = embedding_lt, COMMUTATOR = >, NEGATOR = >=, RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
COMMENT ON OPERATOR <(embedding, embedding) IS 'comparison: element-wise, then by dimensions';
CREATE OPERATOR <= (LEFTARG = embedding, RIGHTARG = embedding, PROCEDURE = embedding_le, COMMUTATOR = >=, NEGATOR = >, RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
COMMENT ON OPERATOR <=(embedding, embedding) IS 'comparison: element-wise, then by dimensions';
CREATE OPERATOR = (LEFTARG = embedding, RIGHTARG = embedding, PROCEDURE = embedding_eq, COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, MERGES);
COMMENT ON OPERATOR =(embedding, embedding) IS 'comparison: element-wise, then by dimensions';
CREATE OPERATOR <> (LEFTARG = embedding, RIGHTARG = embedding, PROCEDURE = embedding_ne, COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
COMMENT ON OPERATOR <>(embedding, embedding) IS 'comparison: element-wise, then by dimensions';
CREATE OPERATOR >= (LEFTARG = embedding, RIGHTARG = embedding, PROCEDURE = embedding_ge, COMMUTATOR = <=, NEGATOR = <, RESTRICT = scalargesel, JOIN = scalargejoinsel);
COMMENT ON OPERATOR >=(embedding, embedding) IS 'comparison: element-wise, then by dimensions';
CREATE OPERATOR > (LEFTARG = embedding, RIGHTARG = embedding, PROCEDURE = embedding_gt, COMMUTATOR = <, NEGATOR = <=, RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
COMMENT ON OPERATOR >(embedding, embedding) IS 'comparison: element-wise, then by dimensions';
CREATE OPERATOR CLASS embedding_ops DEFAULT FOR TYPE embedding USING btree AS
    OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >,
    FUNCTION 1 embedding_cmp(embedding, embedding);
COMMENT ON OPERATOR CLASS embedding_ops USING btree IS 'btree ordering of embedding (ORDER BY, DISTINCT, UNIQUE)';
CREATE FUNCTION embedding_agg_combine(double precision[], double precision[]) RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'embedding_agg_combine_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_agg_combine(double precision[], double precision[]) IS 'combine function of avg/sum over embedding and halfembedding (parallel aggregation)';
CREATE FUNCTION embedding_accum(double precision[], embedding) RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'embedding_accum_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_accum(double precision[], embedding) IS 'transition function of avg(embedding) and sum(embedding): [count, sums...]';
CREATE FUNCTION embedding_avg_final(double precision[]) RETURNS embedding
    AS 'MODULE_PATHNAME', 'embedding_avg_final_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_avg_final(double precision[]) IS 'final function of avg(embedding)';
CREATE FUNCTION embedding_sum_final(double precision[]) RETURNS embedding
    AS 'MODULE_PATHNAME', 'embedding_sum_final_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_sum_final(double precision[]) IS 'final function of sum(embedding)';
CREATE AGGREGATE avg(embedding) (
    SFUNC = embedding_accum, STYPE = double precision[], FINALFUNC = embedding_avg_final,
    COMBINEFUNC = embedding_agg_combine, INITCOND = '{0}', PARALLEL = SAFE
);
COMMENT ON AGGREGATE avg(embedding) IS 'element-wise mean of embedding values (accumulated in double precision; NULL for no rows)';
CREATE AGGREGATE sum(embedding) (
    SFUNC = embedding_accum, STYPE = double precision[], FINALFUNC = embedding_sum_final,
    COMBINEFUNC = embedding_agg_combine, INITCOND = '{0}', PARALLEL = SAFE
);
COMMENT ON AGGREGATE sum(embedding) IS 'element-wise sum of embedding values (accumulated in double precision; NULL for no rows)';

-- ---------------------------------------------------------------- halfembedding
CREATE TYPE halfembedding;
CREATE FUNCTION halfembedding_in(cstring, oid, integer) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'halfembedding_in_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_in(cstring, oid, integer) IS 'text input of halfembedding: ''[1,2.5,-3]''';
CREATE FUNCTION halfembedding_out(halfembedding) RETURNS cstring
    AS 'MODULE_PATHNAME', 'halfembedding_out_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_out(halfembedding) IS 'text output of halfembedding: shortest exact round-trip decimals';
CREATE FUNCTION halfembedding_typmod_in(cstring[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'halfembedding_typmod_in_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_typmod_in(cstring[]) IS 'type modifier input of halfembedding(n): n dimensions, 1..16000';
CREATE FUNCTION halfembedding_typmod_out(integer) RETURNS cstring
    AS 'MODULE_PATHNAME', 'halfembedding_typmod_out_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_typmod_out(integer) IS 'type modifier output of halfembedding(n)';
CREATE FUNCTION halfembedding_recv(internal, oid, integer) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'halfembedding_recv_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_recv(internal, oid, integer) IS 'binary input of halfembedding: int16 dims, int16 0, big-endian elements';
CREATE FUNCTION halfembedding_send(halfembedding) RETURNS bytea
    AS 'MODULE_PATHNAME', 'halfembedding_send_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_send(halfembedding) IS 'binary output of halfembedding: int16 dims, int16 0, big-endian elements';
CREATE TYPE halfembedding (
    INPUT = halfembedding_in, OUTPUT = halfembedding_out,
    TYPMOD_IN = halfembedding_typmod_in, TYPMOD_OUT = halfembedding_typmod_out,
    RECEIVE = halfembedding_recv, SEND = halfembedding_send,
    INTERNALLENGTH = VARIABLE, ALIGNMENT = int4, STORAGE = external
);
COMMENT ON TYPE halfembedding IS 'a vector of half-precision (IEEE float16) elements, e.g. ''[1,2.5,-3]''::halfembedding(3); at most 16000 dimensions, finite elements';
CREATE FUNCTION halfembedding(halfembedding, integer, boolean) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'halfembedding_coerce_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding(halfembedding, integer, boolean) IS 'length coercion: enforces the dimensions of halfembedding(n)';
CREATE FUNCTION halfembedding(real[], integer, boolean) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'float4_array_to_halfembedding_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding(real[], integer, boolean) IS 'cast real[] to halfembedding: no NULL elements, finite values in range';
CREATE FUNCTION halfembedding(double precision[], integer, boolean) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'float8_array_to_halfembedding_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding(double precision[], integer, boolean) IS 'cast double precision[] to halfembedding: no NULL elements, finite values in range';
CREATE FUNCTION halfembedding(integer[], integer, boolean) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'int4_array_to_halfembedding_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding(integer[], integer, boolean) IS 'cast integer[] to halfembedding: no NULL elements, finite values in range';
CREATE FUNCTION halfembedding(numeric[], integer, boolean) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'numeric_array_to_halfembedding_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding(numeric[], integer, boolean) IS 'cast numeric[] to halfembedding: no NULL elements, finite values in range';
CREATE FUNCTION halfembedding_to_float4(halfembedding, integer, boolean) RETURNS real[]
    AS 'MODULE_PATHNAME', 'halfembedding_to_float4_array_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_to_float4(halfembedding, integer, boolean) IS 'cast halfembedding to real[]';
CREATE FUNCTION halfembedding_to_float8(halfembedding, integer, boolean) RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'halfembedding_to_float8_array_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_to_float8(halfembedding, integer, boolean) IS 'cast halfembedding to double precision[]';
CREATE CAST (halfembedding AS halfembedding) WITH FUNCTION halfembedding(halfembedding, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (halfembedding AS halfembedding) IS 'applies the column''s typmod: checks the dimension count of halfembedding(n)';
CREATE CAST (real[] AS halfembedding) WITH FUNCTION halfembedding(real[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (real[] AS halfembedding) IS 'a one-dimensional real[] without NULLs, each element finite, as a vector';
CREATE CAST (double precision[] AS halfembedding) WITH FUNCTION halfembedding(double precision[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (double precision[] AS halfembedding) IS 'a one-dimensional double precision[] without NULLs, each element finite, as a vector';
CREATE CAST (integer[] AS halfembedding) WITH FUNCTION halfembedding(integer[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (integer[] AS halfembedding) IS 'a one-dimensional integer[] without NULLs, each element finite, as a vector';
CREATE CAST (numeric[] AS halfembedding) WITH FUNCTION halfembedding(numeric[], integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (numeric[] AS halfembedding) IS 'a one-dimensional numeric[] without NULLs, each element finite, as a vector';
CREATE CAST (halfembedding AS real[]) WITH FUNCTION halfembedding_to_float4(halfembedding, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (halfembedding AS real[]) IS 'the elements as real values';
CREATE CAST (halfembedding AS double precision[]) WITH FUNCTION halfembedding_to_float8(halfembedding, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (halfembedding AS double precision[]) IS 'the elements as double precision values';
CREATE FUNCTION l2_distance(halfembedding, halfembedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'halfembedding_l2_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(halfembedding, halfembedding) IS 'Euclidean (L2) distance; operator <->';
CREATE FUNCTION l2_squared_distance(halfembedding, halfembedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'halfembedding_l2_squared_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_squared_distance(halfembedding, halfembedding) IS 'squared Euclidean distance';
CREATE FUNCTION cosine_distance(halfembedding, halfembedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'halfembedding_cosine_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(halfembedding, halfembedding) IS 'cosine distance 1 - cos(a, b) in [0, 2]; 1 when either is the zero vector; operator <=>';
CREATE FUNCTION inner_product(halfembedding, halfembedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'halfembedding_inner_product_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(halfembedding, halfembedding) IS 'inner (dot) product';
CREATE FUNCTION negative_inner_product(halfembedding, halfembedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'halfembedding_negative_inner_product_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION negative_inner_product(halfembedding, halfembedding) IS 'negative inner product; operator <#>';
CREATE FUNCTION l1_distance(halfembedding, halfembedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'halfembedding_l1_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(halfembedding, halfembedding) IS 'L1 (Manhattan) distance; operator <+>';
CREATE FUNCTION l2_norm(halfembedding) RETURNS double precision
    AS 'MODULE_PATHNAME', 'halfembedding_l2_norm_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_norm(halfembedding) IS 'Euclidean norm';
CREATE FUNCTION l2_normalize(halfembedding) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'halfembedding_l2_normalize_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(halfembedding) IS 'the vector scaled to unit Euclidean norm (the zero vector stays zero)';
CREATE FUNCTION dims(halfembedding) RETURNS integer
    AS 'MODULE_PATHNAME', 'halfembedding_dims_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dims(halfembedding) IS 'number of dimensions';
CREATE FUNCTION subvector(halfembedding, integer, integer) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'halfembedding_subvector_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION subvector(halfembedding, integer, integer) IS 'subvector(v, start, count): count elements from 1-based position start';
CREATE FUNCTION halfembedding_add(halfembedding, halfembedding) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'halfembedding_add_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_add(halfembedding, halfembedding) IS 'element-wise sum';
CREATE FUNCTION halfembedding_sub(halfembedding, halfembedding) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'halfembedding_sub_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_sub(halfembedding, halfembedding) IS 'element-wise difference';
CREATE FUNCTION halfembedding_mul(halfembedding, halfembedding) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'halfembedding_mul_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_mul(halfembedding, halfembedding) IS 'element-wise product';
CREATE FUNCTION halfembedding_lt(halfembedding, halfembedding) RETURNS boolean
    AS 'MODULE_PATHNAME', 'halfembedding_lt_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_lt(halfembedding, halfembedding) IS 'comparison (lt): element-wise, then by dimensions';
CREATE FUNCTION halfembedding_le(halfembedding, halfembedding) RETURNS boolean
    AS 'MODULE_PATHNAME', 'halfembedding_le_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_le(halfembedding, halfembedding) IS 'comparison (le): element-wise, then by dimensions';
CREATE FUNCTION halfembedding_eq(halfembedding, halfembedding) RETURNS boolean
    AS 'MODULE_PATHNAME', 'halfembedding_eq_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_eq(halfembedding, halfembedding) IS 'comparison (eq): element-wise, then by dimensions';
CREATE FUNCTION halfembedding_ne(halfembedding, halfembedding) RETURNS boolean
    AS 'MODULE_PATHNAME', 'halfembedding_ne_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_ne(halfembedding, halfembedding) IS 'comparison (ne): element-wise, then by dimensions';
CREATE FUNCTION halfembedding_ge(halfembedding, halfembedding) RETURNS boolean
    AS 'MODULE_PATHNAME', 'halfembedding_ge_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_ge(halfembedding, halfembedding) IS 'comparison (ge): element-wise, then by dimensions';
CREATE FUNCTION halfembedding_gt(halfembedding, halfembedding) RETURNS boolean
    AS 'MODULE_PATHNAME', 'halfembedding_gt_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_gt(halfembedding, halfembedding) IS 'comparison (gt): element-wise, then by dimensions';
CREATE FUNCTION halfembedding_cmp(halfembedding, halfembedding) RETURNS integer
    AS 'MODULE_PATHNAME', 'halfembedding_cmp_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_cmp(halfembedding, halfembedding) IS 'btree comparison: element-wise, then by dimensions';
CREATE OPERATOR <-> (LEFTARG = halfembedding, RIGHTARG = halfembedding, FUNCTION = l2_distance, COMMUTATOR = OPERATOR(<->));
COMMENT ON OPERATOR <->(halfembedding, halfembedding) IS 'Euclidean (L2) distance';
CREATE OPERATOR <=> (LEFTARG = halfembedding, RIGHTARG = halfembedding, FUNCTION = cosine_distance, COMMUTATOR = OPERATOR(<=>));
COMMENT ON OPERATOR <=>(halfembedding, halfembedding) IS 'cosine distance';
CREATE OPERATOR <#> (LEFTARG = halfembedding, RIGHTARG = halfembedding, FUNCTION = negative_inner_product, COMMUTATOR = OPERATOR(<#>));
COMMENT ON OPERATOR <#>(halfembedding, halfembedding) IS 'negative inner product';
CREATE OPERATOR <+> (LEFTARG = halfembedding, RIGHTARG = halfembedding, FUNCTION = l1_distance, COMMUTATOR = OPERATOR(<+>));
COMMENT ON OPERATOR <+>(halfembedding, halfembedding) IS 'L1 distance';
CREATE OPERATOR + (LEFTARG = halfembedding, RIGHTARG = halfembedding, FUNCTION = halfembedding_add, COMMUTATOR = +);
COMMENT ON OPERATOR +(halfembedding, halfembedding) IS 'element-wise sum';
CREATE OPERATOR - (LEFTARG = halfembedding, RIGHTARG = halfembedding, FUNCTION = halfembedding_sub);
COMMENT ON OPERATOR -(halfembedding, halfembedding) IS 'element-wise difference';
CREATE OPERATOR * (LEFTARG = halfembedding, RIGHTARG = halfembedding, FUNCTION = halfembedding_mul, COMMUTATOR = *);
COMMENT ON OPERATOR *(halfembedding, halfembedding) IS 'element-wise product';
CREATE OPERATOR < (LEFTARG = halfembedding, RIGHTARG = halfembedding, PROCEDURE = halfembedding_lt, COMMUTATOR = >, NEGATOR = >=, RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
COMMENT ON OPERATOR <(halfembedding, halfembedding) IS 'comparison: element-wise, then by dimensions';
CREATE OPERATOR <= (LEFTARG = halfembedding, RIGHTARG = halfembedding, PROCEDURE = halfembedding_le, COMMUTATOR = >=, NEGATOR = >, RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
COMMENT ON OPERATOR <=(halfembedding, halfembedding) IS 'comparison: element-wise, then by dimensions';
CREATE OPERATOR = (LEFTARG = halfembedding, RIGHTARG = halfembedding, PROCEDURE = halfembedding_eq, COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, MERGES);
COMMENT ON OPERATOR =(halfembedding, halfembedding) IS 'comparison: element-wise, then by dimensions';
CREATE OPERATOR <> (LEFTARG = halfembedding, RIGHTARG = halfembedding, PROCEDURE = halfembedding_ne, COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
COMMENT ON OPERATOR <>(halfembedding, halfembedding) IS 'comparison: element-wise, then by dimensions';
CREATE OPERATOR >= (LEFTARG = halfembedding, RIGHTARG = halfembedding, PROCEDURE = halfembedding_ge, COMMUTATOR = <=, NEGATOR = <, RESTRICT = scalargesel, JOIN = scalargejoinsel);
COMMENT ON OPERATOR >=(halfembedding, halfembedding) IS 'comparison: element-wise, then by dimensions';
CREATE OPERATOR > (LEFTARG = halfembedding, RIGHTARG = halfembedding, PROCEDURE = halfembedding_gt, COMMUTATOR = <, NEGATOR = <=, RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
COMMENT ON OPERATOR >(halfembedding, halfembedding) IS 'comparison: element-wise, then by dimensions';
CREATE OPERATOR CLASS halfembedding_ops DEFAULT FOR TYPE halfembedding USING btree AS
    OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >,
    FUNCTION 1 halfembedding_cmp(halfembedding, halfembedding);
COMMENT ON OPERATOR CLASS halfembedding_ops USING btree IS 'btree ordering of halfembedding (ORDER BY, DISTINCT, UNIQUE)';
CREATE FUNCTION halfembedding_accum(double precision[], halfembedding) RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'halfembedding_accum_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_accum(double precision[], halfembedding) IS 'transition function of avg(halfembedding) and sum(halfembedding): [count, sums...]';
CREATE FUNCTION halfembedding_avg_final(double precision[]) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'halfembedding_avg_final_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_avg_final(double precision[]) IS 'final function of avg(halfembedding)';
CREATE FUNCTION halfembedding_sum_final(double precision[]) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'halfembedding_sum_final_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding_sum_final(double precision[]) IS 'final function of sum(halfembedding)';
CREATE AGGREGATE avg(halfembedding) (
    SFUNC = halfembedding_accum, STYPE = double precision[], FINALFUNC = halfembedding_avg_final,
    COMBINEFUNC = embedding_agg_combine, INITCOND = '{0}', PARALLEL = SAFE
);
COMMENT ON AGGREGATE avg(halfembedding) IS 'element-wise mean of halfembedding values (accumulated in double precision; NULL for no rows)';
CREATE AGGREGATE sum(halfembedding) (
    SFUNC = halfembedding_accum, STYPE = double precision[], FINALFUNC = halfembedding_sum_final,
    COMBINEFUNC = embedding_agg_combine, INITCOND = '{0}', PARALLEL = SAFE
);
COMMENT ON AGGREGATE sum(halfembedding) IS 'element-wise sum of halfembedding values (accumulated in double precision; NULL for no rows)';

-- ---------------------------------------------------------------- embedding <-> halfembedding
CREATE FUNCTION halfembedding(embedding, integer, boolean) RETURNS halfembedding
    AS 'MODULE_PATHNAME', 'embedding_to_halfembedding_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION halfembedding(embedding, integer, boolean) IS 'cast embedding to halfembedding; an element beyond +-65504 is an error';
CREATE FUNCTION embedding(halfembedding, integer, boolean) RETURNS embedding
    AS 'MODULE_PATHNAME', 'halfembedding_to_embedding_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding(halfembedding, integer, boolean) IS 'cast halfembedding to embedding (exact)';
CREATE CAST (embedding AS halfembedding) WITH FUNCTION halfembedding(embedding, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (embedding AS halfembedding) IS 'rounds each element to binary16 (half precision)';
CREATE CAST (halfembedding AS embedding) WITH FUNCTION embedding(halfembedding, integer, boolean) AS ASSIGNMENT;
COMMENT ON CAST (halfembedding AS embedding) IS 'widens each element exactly';
