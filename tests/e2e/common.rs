//! Connecting to the test cluster and small helpers shared by the e2e tests.

use postgres::types::FromSqlOwned;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, GenericClient, NoTls};

/// A client on the test cluster's database, with the extension created once.
pub fn client() -> Client {
    let host = std::env::var("CODEVEC_PGHOST").expect("CODEVEC_PGHOST is set by scripts/test.sh");
    let port = std::env::var("CODEVEC_PGPORT").expect("CODEVEC_PGPORT is set by scripts/test.sh");
    let db = std::env::var("CODEVEC_PGDATABASE").unwrap_or_else(|_| "codevec_e2e".into());
    let mut c = Client::connect(
        &format!("host={host} port={port} user=postgres dbname={db}"),
        NoTls,
    )
    .expect("connect to the test cluster");
    // Tests run on parallel threads: serialise CREATE EXTENSION with an advisory lock taken in
    // its own round trip (one multi-statement query would be one transaction).
    c.batch_execute("SELECT pg_advisory_lock(4242)").unwrap();
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS codevec")
        .unwrap();
    c.batch_execute("SELECT pg_advisory_unlock(4242)").unwrap();
    c
}

/// The first column of every row of `sql` (no parameters), collected (`Vec`, `HashSet` …).
pub fn column<T: FromSqlOwned, B: FromIterator<T>>(c: &mut impl GenericClient, sql: &str) -> B {
    c.query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The SQLSTATE of a failed query.
pub fn sqlstate(e: &postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.code().code().to_string())
        .unwrap_or_else(|| format!("not a db error: {e}"))
}

/// Deterministic pseudo-random f32s in [-scale, scale).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn f32(&mut self, scale: f32) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    }
}

/// A raw binary value sent as a parameter of whatever type the server expects: lets the
/// tests send garbled binary input.
#[derive(Debug)]
pub struct RawParam(pub Vec<u8>);

impl ToSql for RawParam {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }
    fn accepts(_ty: &Type) -> bool {
        true
    }
    postgres::types::to_sql_checked!();
}

/// The raw bytes of a binary-format result column.
pub struct RawValue(pub Vec<u8>);

impl<'a> postgres::types::FromSql<'a> for RawValue {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawValue(raw.to_vec()))
    }
    fn accepts(_ty: &Type) -> bool {
        true
    }
}
