-- distances, operators and functions on both types
SELECT '[0,0,0]'::embedding <-> '[3,4,0]' AS l2, l2_distance('[0,0,0]'::embedding, '[3,4,0]');
SELECT '[1,2]'::embedding <#> '[3,4]' AS neg_ip, inner_product('[1,2]'::embedding, '[3,4]'), negative_inner_product('[1,2]'::embedding, '[3,4]');
SELECT '[1,0]'::embedding <=> '[0,1]' AS orth, round(('[1,2]'::embedding <=> '[2,4]')::numeric, 6) AS parallel, '[1,0]'::embedding <=> '[-1,0]' AS opposite;
SELECT '[0,0,0]'::embedding <+> '[3,-4,1]' AS l1, l1_distance('[0,0,0]'::embedding, '[3,-4,1]');
SELECT l2_squared_distance('[0,0]'::embedding, '[3,4]');
-- cosine distance with a zero vector is defined as 1 (never NaN)
SELECT '[0,0]'::embedding <=> '[1,2]' AS zero_one, '[0,0]'::embedding <=> '[0,0]' AS zero_zero, '[0,0]'::halfembedding <=> '[0,0]' AS half_zero;
SELECT '[0,0,0]'::halfembedding <-> '[3,4,0]' AS l2, '[1,2]'::halfembedding <#> '[3,4]' AS neg_ip,
       '[1,0]'::halfembedding <=> '[0,1]' AS cos, '[0,0,0]'::halfembedding <+> '[3,-4,1]' AS l1;
SELECT l2_norm('[3,4]'::embedding), l2_norm('[3,4]'::halfembedding);
SELECT l2_normalize('[3,4]'::embedding), l2_normalize('[3,4]'::halfembedding), l2_normalize('[0,0]'::embedding);
SELECT dims('[1,2,3]'::embedding), dims('[1,2]'::halfembedding);
SELECT subvector('[1,2,3,4,5]'::embedding, 2, 3), subvector('[1,2,3,4,5]'::halfembedding, 4, 10), subvector('[1,2,3]'::embedding, -1, 3);
SELECT '[1,2]'::embedding + '[3,4]', '[1,2]'::embedding - '[3,4]', '[1,2]'::embedding * '[3,4]';
SELECT '[1,2]'::halfembedding + '[3,4]', '[1,2]'::halfembedding - '[3,4]', '[1,2]'::halfembedding * '[3,4]';
-- distances agree between the types for values exact in both
SELECT ('[1,2,3]'::embedding <-> '[4,5,6]') = ('[1,2,3]'::halfembedding <-> '[4,5,6]') AS l2_same;
-- comparisons and btree: ORDER BY, DISTINCT, UNIQUE
SELECT '[1,2]'::embedding < '[1,3]', '[1,2]'::embedding = '[1,2]', '[1,2]'::embedding < '[1,2,0]', '[2]'::embedding > '[1,9]';
CREATE TABLE t_cmp (v embedding);
INSERT INTO t_cmp VALUES ('[3,1]'), ('[1,2]'), ('[1,2]'), ('[1,1,1]'), ('[0,5]');
SELECT v FROM t_cmp ORDER BY v;
SELECT DISTINCT v FROM t_cmp ORDER BY v;
SELECT try($$CREATE UNIQUE INDEX ON t_cmp (v)$$);
DELETE FROM t_cmp WHERE v = '[1,2]';
CREATE UNIQUE INDEX t_cmp_v ON t_cmp (v);
SELECT try($$INSERT INTO t_cmp VALUES ('[3,1]')$$);
DROP TABLE t_cmp;
-- nearest neighbours by exact scan
CREATE TABLE items (id int, v embedding(3), h halfembedding(3));
INSERT INTO items VALUES (1,'[1,1,1]','[1,1,1]'), (2,'[5,5,5]','[5,5,5]'), (3,'[0,0,1]','[0,0,1]'), (4, '[-1,-1,-1]', '[-1,-1,-1]');
SELECT id FROM items ORDER BY v <-> '[0,0,0]' LIMIT 3;
SELECT id FROM items ORDER BY v <=> '[1,1,1]', id LIMIT 3;
SELECT id FROM items ORDER BY v <#> '[1,1,1]' LIMIT 3;
SELECT id FROM items ORDER BY h <+> '[0,0,0]' LIMIT 3;
-- mixed operands: embedding casts implicitly to halfembedding
SELECT id FROM items ORDER BY h <-> '[0,0,0]'::embedding LIMIT 2;
-- NULLs: every function is strict
SELECT NULL::embedding <-> '[1]', l2_norm(NULL::embedding), dims(NULL::halfembedding);
-- functions are immutable, strict and parallel safe
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel, count(*)
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'codevec'
WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f'
  AND (p.provolatile <> 'i' OR NOT p.proisstrict OR p.proparallel <> 's')
GROUP BY 1, 2, 3, 4 ORDER BY 1;
-- every object of the extension has a comment
SELECT pg_describe_object(d.classid, d.objid, 0) AS undocumented
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'codevec'
WHERE d.deptype = 'e' AND obj_description(d.objid, d.classid::regclass::name) IS NULL
  AND d.classid <> 'pg_cast'::regclass AND d.classid <> 'pg_opfamily'::regclass
ORDER BY 1;
DROP TABLE items;

-- out-of-line (TOASTed) vectors: the distance functions read them right, and fetch a query
-- vector that is out of line once per statement, not once per row
CREATE TABLE toasty (id int PRIMARY KEY, pad text, v embedding(384), h halfembedding(384));
ALTER TABLE toasty ALTER COLUMN pad SET STORAGE PLAIN;
-- rows 1 to 4 are wide (a long pad or both vectors): their vectors go to the TOAST table;
-- the other 296 rows stay inline
INSERT INTO toasty SELECT i, CASE WHEN i <= 2 THEN repeat('x', 1200) ELSE '' END, e,
       CASE WHEN i <= 4 THEN e::halfembedding END
  FROM generate_series(1, 300) i,
       LATERAL (SELECT ('[' || string_agg(((i * 7 + j * 13) % 101 - 50)::text, ',') || ']')::embedding AS e
                  FROM generate_series(1, 384) j) x;
SELECT (SELECT reltoastrelid::regclass FROM pg_class WHERE relname = 'toasty') AS toasty_toast \gset
SELECT count(DISTINCT chunk_id) AS values_out_of_line FROM :toasty_toast;
-- every operator on out-of-line operands equals the same on inline copies (text round trip)
SELECT count(*) AS pairs,
       bool_and(a.v <-> b.v = a.v::text::embedding <-> b.v::text::embedding
            AND a.v <=> b.v = a.v::text::embedding <=> b.v::text::embedding
            AND a.v <#> b.v = a.v::text::embedding <#> b.v::text::embedding
            AND a.v <+> b.v = a.v::text::embedding <+> b.v::text::embedding
            AND a.h <=> b.h = a.h::text::halfembedding <=> b.h::text::halfembedding
            AND l2_norm(a.v) = l2_norm(a.v::text::embedding)) AS same
  FROM toasty a, toasty b WHERE a.id <= 4 AND b.id <= 4;
-- an exact scan against an out-of-line query vector: right rows, and the TOAST table read
-- for the query once per statement and for the wide rows' own vectors, not once per row
-- (300 rows per scan)
SELECT pg_stat_force_next_flush();
SELECT toast_blks_hit AS toasty_before FROM pg_statio_user_tables WHERE relname = 'toasty' \gset
SELECT id FROM toasty ORDER BY v <=> (SELECT v FROM toasty WHERE id = 1), id LIMIT 3;
SELECT id FROM toasty ORDER BY (SELECT v FROM toasty WHERE id = 2) <-> v, id LIMIT 2;
SELECT pg_stat_force_next_flush();
SELECT toast_blks_hit - :toasty_before < 30 AS fetched_once_per_statement
  FROM pg_statio_user_tables WHERE relname = 'toasty';
DROP TABLE toasty;
