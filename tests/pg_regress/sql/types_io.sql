-- text input and output of embedding and halfembedding
SELECT '[1,2.5,-3]'::embedding;
SELECT '  [ 1 , 2.5 ,	-3 ]  '::embedding;
SELECT '[1e3,+.5,5.,-0]'::embedding;
SELECT '[0.1,1e-7,3.4028235e38,-1.1754944e-38]'::embedding;
SELECT '[1,2.5,-3]'::halfembedding;
SELECT '[0.1,65504,-65504,1e-5,0.333]'::halfembedding;
-- text round-trips exactly
SELECT v::text::embedding = v AS same FROM (SELECT '[0.1,0.2,0.30000001,1e-30,123456.79]'::embedding AS v) s;
-- type modifiers
SELECT '[1,2,3]'::embedding(3);
SELECT '[1,2,3]'::halfembedding(3);
CREATE TABLE t_typmod (v embedding(3), h halfembedding(2));
\d t_typmod
INSERT INTO t_typmod VALUES ('[1,2,3]', '[1,2]');
SELECT * FROM t_typmod;
SELECT try($$INSERT INTO t_typmod (v) VALUES ('[1,2]')$$);
SELECT try($$INSERT INTO t_typmod (h) VALUES ('[1,2,3]')$$);
SELECT try($$UPDATE t_typmod SET v = '[1,2,3,4]'$$);
SELECT try($$SELECT '[1,2]'::embedding(3)$$);
SELECT try($$CREATE TABLE t_bad (v embedding(0))$$);
SELECT try($$CREATE TABLE t_bad (v embedding(16001))$$);
SELECT try($$CREATE TABLE t_bad (v embedding(3, 4))$$);
SELECT try($$CREATE TABLE t_bad (v embedding('a'))$$);
DROP TABLE t_typmod;
-- 16000 dimensions is the limit
SELECT dims(array_fill(1, ARRAY[16000])::real[]::embedding);
SELECT try($$SELECT array_fill(1, ARRAY[16001])::real[]::embedding$$);
-- binary send/receive functions round-trip
SELECT embedding_recv IS NOT NULL FROM (SELECT 'embedding_recv'::regproc) s(embedding_recv);
SELECT embedding_send('[1,2]'::embedding);
SELECT halfembedding_send('[1,2]'::halfembedding);
