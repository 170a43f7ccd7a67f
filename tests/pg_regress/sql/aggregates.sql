-- avg and sum, sequential and parallel
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::embedding), ('[3,4,5]'), (NULL)) t(v);
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::halfembedding), ('[3,4,5]')) t(v);
SELECT avg(v) IS NULL AS avg_null, sum(v) IS NULL AS sum_null FROM (SELECT '[1]'::embedding WHERE false) t(v);
SELECT try($$SELECT sum(v) FROM (VALUES ('[60000]'::halfembedding), ('[60000]')) t(v)$$);
CREATE TABLE t_agg (g int, v embedding(4));
INSERT INTO t_agg SELECT i % 3, ARRAY[i, i * 2, -i, 1]::real[] FROM generate_series(1, 30000) i;
ANALYZE t_agg;
SELECT g, avg(v), sum(v) FROM t_agg GROUP BY g ORDER BY g;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT avg(v) FROM t_agg;
SELECT avg(v), sum(v) FROM t_agg;
RESET ALL;
DROP TABLE t_agg;
