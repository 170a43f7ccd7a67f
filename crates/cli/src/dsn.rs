//! Working out which database to connect to.
//!
//! Precedence, as with libpq: the `--dsn` option, else `DATABASE_URL`; then
//! any setting still missing is taken from `PGHOST`, `PGPORT`, `PGUSER`,
//! `PGPASSWORD`, `PGDATABASE` and `PGAPPNAME`; then defaults: the first
//! Unix socket directory among `/var/run/postgresql`, `/tmp` that holds the
//! server's socket (else `localhost`), port 5432, user `$USER`, database =
//! user. Both `key=value` strings and `postgres://` URLs are accepted (a
//! URL's host always comes with a port, 5432 when not written, so `PGPORT`
//! does not apply to it).
//! Connections are made without TLS.

use anyhow::{Context, Result};
use postgres::config::Host;
use postgres::Config;
use std::path::Path;

/// Socket directories tried when no host is given.
const SOCKET_DIRS: &[&str] = &["/var/run/postgresql", "/tmp"];

/// Builds the connection settings from an explicit DSN and the environment
/// (`env` is `std::env::var` in the program, a map in tests).
pub fn resolve(dsn: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
    let dsn = dsn
        .map(str::to_string)
        .or_else(|| env("DATABASE_URL").filter(|s| !s.is_empty()));
    let mut config: Config = match &dsn {
        Some(s) => s
            .parse()
            .with_context(|| format!("invalid connection string {:?}", redact(s)))?,
        None => Config::new(),
    };
    let var = |name: &str| env(name).filter(|s| !s.is_empty());

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
    Ok(config)
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
            describe(&c),
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
        assert_eq!(describe(&c), "host=db.local port=6543 user=bob dbname=app");
        assert_eq!(c.get_password(), Some(&b"pw"[..]));
    }

    #[test]
    fn key_value_dsn_takes_port_from_env() {
        let env = env_of(&[("PGPORT", "5555")]);
        let c = resolve(Some("host=h user=u dbname=d"), &env).unwrap();
        assert_eq!(describe(&c), "host=h port=5555 user=u dbname=d");
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
            describe(&c),
            "host=/run/pg port=55499 user=postgres dbname=x"
        );
        assert_eq!(c.get_application_name(), Some("codevec"));
    }

    #[test]
    fn defaults_user_and_db() {
        let env = env_of(&[("USER", "carol"), ("PGHOST", "localhost")]);
        let c = resolve(None, &env).unwrap();
        assert_eq!(
            describe(&c),
            "host=localhost port=5432 user=carol dbname=carol"
        );
    }

    #[test]
    fn bad_dsn_is_an_error_without_password() {
        let err = resolve(Some("host=x password=secret bogus"), &env_of(&[])).unwrap_err();
        let msg = format!("{err:#}");
        assert!(!msg.contains("secret"), "{msg}");
    }
}
