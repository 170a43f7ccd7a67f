//! Working out which database to connect to.
//!
//! Precedence, as with libpq: the `--dsn` option, else `DATABASE_URL`; then
//! any setting still missing is taken from `PGHOST`, `PGPORT`, `PGUSER`,
//! `PGPASSWORD`, `PGDATABASE`, `PGAPPNAME`, `PGSSLMODE` and `PGSSLROOTCERT`;
//! then defaults: the first Unix socket directory among
//! `/var/run/postgresql`, `/tmp` that holds the server's socket (else
//! `localhost`), port 5432, user `$USER`, database = user, `sslmode=prefer`.
//! Both `key=value` strings and `postgres://` URLs are accepted (a URL's
//! host always comes with a port, 5432 when not written, so `PGPORT` does not
//! apply to it).
//!
//! `sslmode` and `sslrootcert` take libpq's values; they are taken out of the
//! string here (the `postgres` crate knows only `disable`, `prefer` and
//! `require`) and applied by [`crate::tls`].

use anyhow::{bail, Context, Result};
use postgres::config::Host;
use postgres::Config;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Socket directories tried when no host is given.
const SOCKET_DIRS: &[&str] = &["/var/run/postgresql", "/tmp"];

/// libpq's `sslmode` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// libpq tries without TLS first; here the same as `prefer`.
    Allow,
    /// TLS when the server offers it, else unencrypted; no certificate check.
    #[default]
    Prefer,
    /// TLS or fail; the certificate is checked only against an `sslrootcert`
    /// file (or `~/.postgresql/root.crt`) when there is one.
    Require,
    /// TLS, certificate chain checked; host name not checked.
    VerifyCa,
    /// TLS, certificate chain and host name checked.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<SslMode> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => bail!(
                "invalid sslmode {s:?} (use disable, allow, prefer, require, verify-ca or verify-full)"
            ),
        })
    }
}

/// Trusted root certificates for checking the server's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCert {
    /// The system's trust store (`sslrootcert=system`, and the default of
    /// `verify-ca`/`verify-full` when no root file is given).
    System,
    /// The certificates (PEM, or one DER certificate) in this file, and no
    /// others.
    File(PathBuf),
}

/// The TLS settings of a connection, as written (libpq semantics); see
/// [`crate::tls::plan`] for what they mean for a given host list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `sslmode`, when given (`None`: the default, `prefer`, or
    /// `verify-full` with `sslrootcert=system`).
    pub mode: Option<SslMode>,
    /// `sslrootcert` (else `~/.postgresql/root.crt` when that file exists).
    pub root_cert: Option<RootCert>,
}

/// Where and how to connect.
#[derive(Clone, Debug)]
pub struct Target {
    /// Everything but TLS.
    pub config: Config,
    /// TLS settings.
    pub tls: TlsOptions,
}

/// The connection parameters handled here rather than by the `postgres` crate.
const TLS_KEYS: &[&str] = &["sslmode", "sslrootcert"];

/// Takes `sslmode` and `sslrootcert` out of a connection string (both
/// forms), returning the rest unchanged and the values taken, in order.
/// Strings this cannot tokenise are returned whole, so the `postgres`
/// crate reports the syntax error.
pub fn split_tls_params(dsn: &str) -> Result<(String, Vec<(String, String)>)> {
    if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        split_url_params(dsn)
    } else {
        Ok(split_kv_params(dsn))
    }
}

fn split_url_params(dsn: &str) -> Result<(String, Vec<(String, String)>)> {
    // As the postgres crate (and libpq) read URLs: credentials run up to
    // the first '@', the query string starts at the first '?' after them.
    let after_scheme = dsn.find("://").map_or(0, |i| i + 3);
    let after_creds = dsn[after_scheme..]
        .find('@')
        .map_or(after_scheme, |i| after_scheme + i + 1);
    let Some(q) = dsn[after_creds..].find('?').map(|i| after_creds + i) else {
        return Ok((dsn.to_string(), Vec::new()));
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in dsn[q + 1..].split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key_dec = percent_decode(key)?;
        if TLS_KEYS.contains(&key_dec.as_str()) {
            taken.push((key_dec, percent_decode(value)?));
        } else {
            kept.push(pair);
        }
    }
    let mut rest = dsn[..q].to_string();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    Ok((rest, taken))
}

fn percent_decode(s: &str) -> Result<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .with_context(|| format!("invalid percent-encoding in {s:?}"))
}

/// `key = value` pairs with their byte ranges, tokenised like the postgres
/// crate and libpq: values are bare (up to white space) or single-quoted,
/// and `\` escapes the next character in both. `None` on a syntax error.
fn kv_params(dsn: &str) -> Option<Vec<(std::ops::Range<usize>, String, String)>> {
    let b: Vec<(usize, char)> = dsn.char_indices().collect();
    let end = dsn.len();
    let at = |i: usize| b.get(i).map_or(end, |&(p, _)| p);
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while b.get(i).is_some_and(|&(_, c)| c.is_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            return Some(out);
        }
        let start = i;
        while b
            .get(i)
            .is_some_and(|&(_, c)| !c.is_whitespace() && c != '=')
        {
            i += 1;
        }
        if i == start {
            return None;
        }
        let key = dsn[at(start)..at(i)].to_string();
        while b.get(i).is_some_and(|&(_, c)| c.is_whitespace()) {
            i += 1;
        }
        if b.get(i).map(|&(_, c)| c) != Some('=') {
            return None;
        }
        i += 1;
        while b.get(i).is_some_and(|&(_, c)| c.is_whitespace()) {
            i += 1;
        }
        let mut value = String::new();
        if b.get(i).map(|&(_, c)| c) == Some('\'') {
            i += 1;
            loop {
                match b.get(i).map(|&(_, c)| c) {
                    None => return None,
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        if let Some(&(_, c)) = b.get(i + 1) {
                            value.push(c);
                        }
                        i += 2;
                    }
                    Some(c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            let vstart = i;
            while let Some(&(_, c)) = b.get(i) {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    if let Some(&(_, c2)) = b.get(i + 1) {
                        value.push(c2);
                    }
                    i += 2;
                } else {
                    value.push(c);
                    i += 1;
                }
            }
            if i == vstart {
                return None;
            }
        }
        out.push((at(start)..at(i.min(b.len())), key, value));
    }
}

fn split_kv_params(dsn: &str) -> (String, Vec<(String, String)>) {
    let Some(params) = kv_params(dsn) else {
        return (dsn.to_string(), Vec::new());
    };
    let mut rest = String::new();
    let mut last = 0;
    let mut taken = Vec::new();
    for (range, key, value) in params {
        if TLS_KEYS.contains(&key.as_str()) {
            rest.push_str(&dsn[last..range.start]);
            last = range.end;
            taken.push((key, value));
        }
    }
    rest.push_str(&dsn[last..]);
    (rest, taken)
}

/// Builds the connection settings from an explicit DSN and the environment
/// (`env` is `std::env::var` in the program, a map in tests).
pub fn resolve(dsn: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Target> {
    let dsn = dsn
        .map(str::to_string)
        .or_else(|| env("DATABASE_URL").filter(|s| !s.is_empty()));
    let mut tls = TlsOptions::default();
    let mut config: Config = match &dsn {
        Some(s) => {
            let (rest, taken) = split_tls_params(s)
                .with_context(|| format!("invalid connection string {:?}", redact(s)))?;
            for (key, value) in taken {
                // As in libpq, a later setting of the same key wins.
                match key.as_str() {
                    "sslmode" => tls.mode = Some(value.parse()?),
                    _ => tls.root_cert = Some(root_cert(&value)),
                }
            }
            rest.parse()
                .with_context(|| format!("invalid connection string {:?}", redact(s)))?
        }
        None => Config::new(),
    };
    let var = |name: &str| env(name).filter(|s| !s.is_empty());
    if tls.mode.is_none() {
        if let Some(mode) = var("PGSSLMODE") {
            tls.mode = Some(mode.parse().context("in PGSSLMODE")?);
        }
    }
    if tls.root_cert.is_none() {
        tls.root_cert = var("PGSSLROOTCERT").map(|v| root_cert(&v)).or_else(|| {
            // libpq's default root file, used only when it exists.
            let home = var("HOME")?;
            let path = Path::new(&home).join(".postgresql/root.crt");
            path.is_file().then_some(RootCert::File(path))
        });
    }

    if config.get_hosts().is_empty() {
        if let Some(hosts) = var("PGHOST") {
            for h in hosts.split(',') {
                config.host(h);
            }
        }
    }
    if config.get_ports().is_empty() {
        if let Some(port) = var("PGPORT") {
            for p in port.split(',') {
                config.port(
                    p.trim()
                        .parse()
                        .with_context(|| format!("invalid PGPORT {port:?}"))?,
                );
            }
        }
    }
    if config.get_user().is_none() {
        if let Some(user) = var("PGUSER").or_else(|| var("USER")) {
            config.user(&user);
        } else {
            config.user("postgres");
        }
    }
    if config.get_password().is_none() {
        if let Some(pw) = var("PGPASSWORD") {
            config.password(pw);
        }
    }
    if config.get_dbname().is_none() {
        let db = var("PGDATABASE").or_else(|| config.get_user().map(str::to_string));
        if let Some(db) = db {
            config.dbname(&db);
        }
    }
    if config.get_application_name().is_none() {
        config.application_name(&var("PGAPPNAME").unwrap_or_else(|| "codevec".to_string()));
    }
    if config.get_hosts().is_empty() {
        let port = config.get_ports().first().copied().unwrap_or(5432);
        match SOCKET_DIRS
            .iter()
            .find(|d| Path::new(d).join(format!(".s.PGSQL.{port}")).exists())
        {
            Some(dir) => config.host_path(dir),
            None => config.host("localhost"),
        };
    }
    Ok(Target { config, tls })
}

fn root_cert(value: &str) -> RootCert {
    if value == "system" {
        RootCert::System
    } else {
        RootCert::File(PathBuf::from(value))
    }
}

/// A one-line description of where `config` connects, without the password.
pub fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "host={} port={} user={} dbname={}",
        hosts.join(","),
        if ports.is_empty() {
            "5432".to_string()
        } else {
            ports.join(",")
        },
        config.get_user().unwrap_or("?"),
        config.get_dbname().unwrap_or("?"),
    )
}

/// Hides a password in a connection string for error messages.
fn redact(dsn: &str) -> String {
    if dsn.contains("://") {
        // postgres://user:secret@host/db
        if let (Some(scheme_end), Some(at)) = (dsn.find("://"), dsn.rfind('@')) {
            let creds = &dsn[scheme_end + 3..at];
            if let Some(colon) = creds.find(':') {
                return format!(
                    "{}{}:***{}",
                    &dsn[..scheme_end + 3],
                    &creds[..colon],
                    &dsn[at..]
                );
            }
        }
        return dsn.to_string();
    }
    dsn.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn explicit_dsn_wins() {
        let env = env_of(&[
            ("DATABASE_URL", "host=elsewhere"),
            ("PGHOST", "nope"),
            ("PGUSER", "envuser"),
        ]);
        let c = resolve(
            Some("host=127.0.0.1 port=6000 user=alice dbname=code"),
            &env,
        )
        .unwrap();
        assert_eq!(
            describe(&c.config),
            "host=127.0.0.1 port=6000 user=alice dbname=code"
        );
    }

    #[test]
    fn database_url_then_pg_vars_fill_gaps() {
        let env = env_of(&[
            ("DATABASE_URL", "postgres://bob@db.local:6543/app"),
            ("PGPORT", "5555"),
            ("PGUSER", "ignored"),
            ("PGPASSWORD", "pw"),
        ]);
        let c = resolve(None, &env).unwrap();
        assert_eq!(
            describe(&c.config),
            "host=db.local port=6543 user=bob dbname=app"
        );
        assert_eq!(c.config.get_password(), Some(&b"pw"[..]));
    }

    #[test]
    fn key_value_dsn_takes_port_from_env() {
        let env = env_of(&[("PGPORT", "5555")]);
        let c = resolve(Some("host=h user=u dbname=d"), &env).unwrap();
        assert_eq!(describe(&c.config), "host=h port=5555 user=u dbname=d");
    }

    #[test]
    fn pg_vars_alone() {
        let env = env_of(&[
            ("PGHOST", "/run/pg"),
            ("PGPORT", "55499"),
            ("PGUSER", "postgres"),
            ("PGDATABASE", "x"),
        ]);
        let c = resolve(None, &env).unwrap();
        assert_eq!(
            describe(&c.config),
            "host=/run/pg port=55499 user=postgres dbname=x"
        );
        assert_eq!(c.config.get_application_name(), Some("codevec"));
    }

    #[test]
    fn defaults_user_and_db() {
        let env = env_of(&[("USER", "carol"), ("PGHOST", "localhost")]);
        let c = resolve(None, &env).unwrap();
        assert_eq!(
            describe(&c.config),
            "host=localhost port=5432 user=carol dbname=carol"
        );
    }

    #[test]
    fn bad_dsn_is_an_error_without_password() {
        let err = resolve(Some("host=x password=secret bogus"), &env_of(&[])).unwrap_err();
        let msg = format!("{err:#}");
        assert!(!msg.contains("secret"), "{msg}");
    }

    #[test]
    fn sslmode_values() {
        for (s, m) in [
            ("disable", SslMode::Disable),
            ("allow", SslMode::Allow),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            assert_eq!(s.parse::<SslMode>().unwrap(), m);
            assert_eq!(m.to_string(), s);
        }
        for bad in ["", "Require", "verify_full", "on"] {
            assert!(bad.parse::<SslMode>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tls_params_are_taken_out_of_key_value_strings() {
        let (rest, taken) = split_tls_params(
            "host=h sslmode = verify-full  user=u sslrootcert='/a b/c\\'d.pem' dbname=d",
        )
        .unwrap();
        assert_eq!(rest, "host=h   user=u  dbname=d");
        assert_eq!(
            taken,
            vec![
                ("sslmode".to_string(), "verify-full".to_string()),
                ("sslrootcert".to_string(), "/a b/c'd.pem".to_string()),
            ]
        );
        // Lookalikes inside other values stay where they are.
        let (rest, taken) =
            split_tls_params("password='x sslmode=disable' application_name=sslmode").unwrap();
        assert_eq!(
            rest,
            "password='x sslmode=disable' application_name=sslmode"
        );
        assert!(taken.is_empty());
        let (rest, taken) = split_tls_params("sslrootcert=/x\\ y.pem").unwrap();
        assert_eq!((rest.as_str(), taken[0].1.as_str()), ("", "/x y.pem"));
        // Syntax errors are left for the postgres crate to report.
        let (rest, taken) = split_tls_params("host='open sslmode=require").unwrap();
        assert_eq!(rest, "host='open sslmode=require");
        assert!(taken.is_empty());
    }

    #[test]
    fn tls_params_are_taken_out_of_urls() {
        let (rest, taken) = split_tls_params(
            "postgres://u:p%3Fw?@db:5433/app?sslmode=verify-ca&connect_timeout=5&sslrootcert=%2Fetc%2Fca%20x.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p%3Fw?@db:5433/app?connect_timeout=5");
        assert_eq!(
            taken,
            vec![
                ("sslmode".to_string(), "verify-ca".to_string()),
                ("sslrootcert".to_string(), "/etc/ca x.pem".to_string()),
            ]
        );
        let (rest, _) = split_tls_params("postgresql://db/app?sslmode=require").unwrap();
        assert_eq!(rest, "postgresql://db/app");
        let (rest, taken) = split_tls_params("postgres://db/app").unwrap();
        assert_eq!((rest.as_str(), taken.len()), ("postgres://db/app", 0));
    }

    #[test]
    fn tls_settings_from_dsn_and_env() {
        let none = env_of(&[]);
        let t = resolve(Some("host=h sslmode=verify-full"), &none).unwrap();
        assert_eq!(t.tls.mode, Some(SslMode::VerifyFull));
        assert_eq!(t.tls.root_cert, None);
        assert_eq!(
            describe(&t.config),
            "host=h port=5432 user=postgres dbname=postgres"
        );
        let t = resolve(
            Some("postgres://u@h/d?sslmode=verify-ca&sslrootcert=/ca.pem"),
            &none,
        )
        .unwrap();
        assert_eq!(t.tls.mode, Some(SslMode::VerifyCa));
        assert_eq!(t.tls.root_cert, Some(RootCert::File("/ca.pem".into())));
        let t = resolve(Some("host=h sslrootcert=system"), &none).unwrap();
        assert_eq!(
            (t.tls.mode, t.tls.root_cert),
            (None, Some(RootCert::System))
        );
        // Modes the postgres crate does not know are no longer a parse error.
        for mode in ["allow", "verify-ca", "verify-full"] {
            resolve(Some(&format!("host=h sslmode={mode}")), &none).unwrap();
        }
        assert!(resolve(Some("host=h sslmode=bogus"), &none).is_err());
        // The environment fills in what the string leaves out.
        let env = env_of(&[("PGSSLMODE", "require"), ("PGSSLROOTCERT", "/env.pem")]);
        let t = resolve(Some("host=h"), &env).unwrap();
        assert_eq!(t.tls.mode, Some(SslMode::Require));
        assert_eq!(t.tls.root_cert, Some(RootCert::File("/env.pem".into())));
        let t = resolve(Some("host=h sslmode=disable sslrootcert=/x.pem"), &env).unwrap();
        assert_eq!(t.tls.mode, Some(SslMode::Disable));
        assert_eq!(t.tls.root_cert, Some(RootCert::File("/x.pem".into())));
        assert!(resolve(Some("host=h"), &env_of(&[("PGSSLMODE", "nope")])).is_err());
        // libpq's default root file, only when it exists.
        let home = tempfile::tempdir().unwrap();
        let home_str = home.path().to_str().unwrap().to_string();
        let env = env_of(&[("HOME", &home_str)]);
        assert_eq!(resolve(Some("host=h"), &env).unwrap().tls.root_cert, None);
        std::fs::create_dir(home.path().join(".postgresql")).unwrap();
        std::fs::write(home.path().join(".postgresql/root.crt"), "x").unwrap();
        assert_eq!(
            resolve(Some("host=h"), &env).unwrap().tls.root_cert,
            Some(RootCert::File(home.path().join(".postgresql/root.crt")))
        );
    }
}
