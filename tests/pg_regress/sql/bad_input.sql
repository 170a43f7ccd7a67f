-- every malformed input gets a clean ERROR with its SQLSTATE; the session survives
SELECT try($$SELECT '1,2,3'::embedding$$);
SELECT try($$SELECT '[1,2,3'::embedding$$);
SELECT try($$SELECT '1,2,3]'::embedding$$);
SELECT try($$SELECT '[]'::embedding$$);
SELECT try($$SELECT '[ ]'::embedding$$);
SELECT try($$SELECT ''::embedding$$);
SELECT try($$SELECT '[1,,2]'::embedding$$);
SELECT try($$SELECT '[1,2,]'::embedding$$);
SELECT try($$SELECT '[,1]'::embedding$$);
SELECT try($$SELECT '[1,2] junk'::embedding$$);
SELECT try($$SELECT '[1,2]]'::embedding$$);
SELECT try($$SELECT '[[1,2]]'::embedding$$);
SELECT try($$SELECT '[1 2]'::embedding$$);
SELECT try($$SELECT '[1,two]'::embedding$$);
SELECT try($$SELECT '[0x10]'::embedding$$);
SELECT try($$SELECT '[1e39]'::embedding$$);
SELECT try($$SELECT '[-1e400]'::embedding$$);
SELECT try($$SELECT '[NaN]'::embedding$$);
SELECT try($$SELECT '[1,Infinity]'::embedding$$);
SELECT try($$SELECT '[-inf]'::embedding$$);
SELECT try($$SELECT '[65520]'::halfembedding$$);
SELECT try($$SELECT '[NaN]'::halfembedding$$);
SELECT try($$SELECT '[1,,2]'::halfembedding$$);
-- the full message with detail and hint
\set VERBOSITY default
SELECT '[1,,2]'::embedding;
SELECT '[1,2]'::embedding <-> '[1,2,3]'::embedding;
SELECT '[1e39]'::embedding;
-- operand dimension mismatch names both
SELECT try($$SELECT '[1,2]'::embedding <-> '[1,2,3]'$$);
SELECT try($$SELECT '[1,2]'::embedding <=> '[1,2,3]'$$);
SELECT try($$SELECT '[1,2]'::embedding <#> '[1,2,3]'$$);
SELECT try($$SELECT '[1,2]'::embedding <+> '[1,2,3]'$$);
SELECT try($$SELECT '[1,2]'::halfembedding <-> '[1,2,3]'$$);
SELECT try($$SELECT '[1,2]'::embedding + '[1,2,3]'$$);
SELECT try($$SELECT '[1,2]'::embedding - '[1]'$$);
SELECT try($$SELECT '[1,2]'::halfembedding * '[1]'$$);
-- overflow in arithmetic
SELECT try($$SELECT '[3e38]'::embedding + '[3e38]'$$);
SELECT try($$SELECT '[60000]'::halfembedding + '[60000]'$$);
SELECT try($$SELECT '[1e20]'::embedding * '[1e20]'$$);
-- casts that cannot hold
SELECT try($$SELECT ARRAY[1,NULL,3]::real[]::embedding$$);
SELECT try($$SELECT ARRAY[]::real[]::embedding$$);
SELECT try($$SELECT ARRAY['NaN']::numeric[]::embedding$$);
SELECT try($$SELECT ARRAY['Infinity']::float8[]::embedding$$);
SELECT try($$SELECT ARRAY[1e300]::float8[]::embedding$$);
SELECT try($$SELECT ARRAY[1e300]::numeric[]::embedding$$);
SELECT try($$SELECT ARRAY[1,2,3]::real[]::embedding(2)$$);
SELECT try($$SELECT '[70000]'::embedding::halfembedding$$);
SELECT try($$SELECT '[1,2]'::embedding::halfembedding(3)$$);
-- bad subvector bounds
SELECT try($$SELECT subvector('[1,2,3]'::embedding, 4, 1)$$);
SELECT try($$SELECT subvector('[1,2,3]'::embedding, 1, 0)$$);
SELECT try($$SELECT subvector('[1,2,3]'::embedding, 2147483647, 2147483647)$$);
-- aggregates over mixed dimensions
SELECT try($$SELECT avg(v) FROM (VALUES ('[1,2]'::embedding), ('[1,2,3]')) t(v)$$);
-- (garbled binary input is tested end to end in tests/e2e, through the binary protocol)
-- the backend is alive after all of the above
SELECT 'alive' AS status, '[1,2]'::embedding <-> '[1,2]' AS d;
