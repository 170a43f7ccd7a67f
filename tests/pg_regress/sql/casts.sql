-- casts between vectors and arrays, and between the two vector types
SELECT ARRAY[1,2,3]::real[]::embedding, ARRAY[1.5,2,3]::float8[]::embedding, ARRAY[1,2,3]::int[]::embedding, ARRAY[1.25,2,3]::numeric[]::embedding;
SELECT ARRAY[1,2,3]::real[]::halfembedding, ARRAY[0.1]::float8[]::halfembedding, ARRAY[7]::int[]::halfembedding, ARRAY[1.5]::numeric[]::halfembedding;
SELECT '[1,2.5,3]'::embedding::real[], '[1,2.5,3]'::embedding::float8[], '[1,2.5]'::halfembedding::real[], '[0.1]'::halfembedding::float8[];
SELECT ARRAY[1,2]::real[]::embedding(2);
-- assignment casts from arrays
CREATE TABLE t_cast (v embedding(2), h halfembedding(2), a real[]);
INSERT INTO t_cast (v, h) VALUES (ARRAY[1,2]::real[], ARRAY[3,4]::float8[]);
INSERT INTO t_cast (v, h) VALUES ('[5,6]', '[7,8]'::embedding);
UPDATE t_cast SET a = v;
SELECT * FROM t_cast ORDER BY v;
DROP TABLE t_cast;
-- embedding <-> halfembedding
SELECT '[0.1,2,-3]'::embedding::halfembedding, '[0.1,2,-3]'::halfembedding::embedding;
SELECT '[65504]'::embedding::halfembedding;
SELECT '[1e-8]'::embedding::halfembedding AS underflow_to_zero;
