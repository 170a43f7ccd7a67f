//! TLS for the loader's connection: libpq's `sslmode` on top of the
//! `postgres` crate, with `native-tls` (the system's OpenSSL on Linux).
//!
//! | `sslmode` | TLS | certificate check |
//! | --- | --- | --- |
//! | `disable` | never | – |
//! | `allow`, `prefer` (default) | when the server offers it, else unencrypted | none |
//! | `require` | required | none; chain only, when an `sslrootcert` file (or `~/.postgresql/root.crt`) is there |
//! | `verify-ca` | required | chain, against `sslrootcert` or else the system roots |
//! | `verify-full` | required | chain and host name, against `sslrootcert` or else the system roots |
//!
//! Unix-socket connections never use TLS, whatever `sslmode` says (as in
//! libpq). `allow` cannot try an unencrypted connection first with the
//! `postgres` crate, so it behaves as `prefer`.

use crate::dsn::{RootCert, SslMode, Target, TlsOptions};
use anyhow::{bail, Context, Result};
use postgres::config::{Host, SslMode as PgSslMode};
use postgres_native_tls::MakeTlsConnector;
use std::path::Path;

/// How the server's certificate is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Not at all: encryption against passive eavesdropping only.
    Nothing,
    /// The chain up to a trusted root; any host name.
    Chain(RootCert),
    /// The chain and the host name (the `host` the connection was made to).
    Full(RootCert),
}

/// What a connection does about TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The `sslmode` in force (the default `prefer` when none was given).
    pub mode: SslMode,
    /// What the `postgres` crate is told: try TLS, require it, or never.
    pub pg_mode: PgSslMode,
    /// The TLS connector's settings; `None` when TLS is never tried.
    pub verify: Option<Verify>,
}

/// Maps libpq's settings onto the `postgres` crate for the hosts given.
pub fn plan(tls: &TlsOptions, hosts: &[Host]) -> Result<Plan> {
    let mode = match (tls.mode, &tls.root_cert) {
        (Some(mode), _) => mode,
        // libpq: sslrootcert=system makes verify-full the default...
        (None, Some(RootCert::System)) => SslMode::VerifyFull,
        (None, _) => SslMode::Prefer,
    };
    // ...and refuses any weaker mode with it: any certificate from a public
    // CA would do.
    if tls.root_cert == Some(RootCert::System) && mode != SslMode::VerifyFull {
        bail!("sslmode={mode} may not be used with sslrootcert=system (use verify-full)");
    }
    let unix = hosts.iter().filter(|h| matches!(h, Host::Unix(_))).count();
    let plain = Plan {
        mode,
        pg_mode: PgSslMode::Disable,
        verify: None,
    };
    if mode == SslMode::Disable || (unix > 0 && unix == hosts.len()) {
        return Ok(plain);
    }
    let root = tls.root_cert.clone();
    let (pg_mode, verify) = match mode {
        SslMode::Disable => return Ok(plain),
        SslMode::Allow | SslMode::Prefer => (PgSslMode::Prefer, Verify::Nothing),
        SslMode::Require => (
            PgSslMode::Require,
            match root {
                Some(file @ RootCert::File(_)) => Verify::Chain(file),
                _ => Verify::Nothing,
            },
        ),
        SslMode::VerifyCa => (
            PgSslMode::Require,
            Verify::Chain(root.unwrap_or(RootCert::System)),
        ),
        SslMode::VerifyFull => (
            PgSslMode::Require,
            Verify::Full(root.unwrap_or(RootCert::System)),
        ),
    };
    if unix > 0 && pg_mode == PgSslMode::Require {
        // The postgres crate has one mode for all hosts, and a server
        // answers "no TLS" on its Unix socket.
        bail!(
            "sslmode={mode} with a host list that mixes Unix sockets and TCP hosts \
             is not supported; list only TCP hosts, or only socket directories"
        );
    }
    Ok(Plan {
        mode,
        pg_mode,
        verify: Some(verify),
    })
}

/// Reads trusted root certificates: PEM (any number) or one DER certificate.
pub fn read_root_certs(path: &Path) -> Result<Vec<native_tls::Certificate>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading sslrootcert {}", path.display()))?;
    let certs = match native_tls::Certificate::stack_from_pem(&bytes) {
        Ok(certs) if !certs.is_empty() => certs,
        _ => vec![native_tls::Certificate::from_der(&bytes).with_context(|| {
            format!(
                "sslrootcert {}: no PEM or DER certificate in it",
                path.display()
            )
        })?],
    };
    Ok(certs)
}

/// The TLS connector for `verify`.
pub fn connector(verify: &Verify) -> Result<MakeTlsConnector> {
    let mut builder = native_tls::TlsConnector::builder();
    // PostgreSQL's own default minimum (ssl_min_protocol_version).
    builder.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
    let roots = match verify {
        Verify::Nothing => {
            builder.danger_accept_invalid_certs(true);
            None
        }
        Verify::Chain(roots) => {
            builder.danger_accept_invalid_hostnames(true);
            Some(roots)
        }
        Verify::Full(roots) => Some(roots),
    };
    if let Some(RootCert::File(path)) = roots {
        builder.disable_built_in_roots(true);
        for cert in read_root_certs(path)? {
            builder.add_root_certificate(cert);
        }
    }
    let connector = builder.build().context("setting up TLS")?;
    Ok(MakeTlsConnector::new(connector))
}

/// Connects to `target` as its TLS settings say.
pub fn connect(target: &Target) -> Result<(postgres::Client, Plan)> {
    let plan = plan(&target.tls, target.config.get_hosts())?;
    let mut config = target.config.clone();
    config.ssl_mode(plan.pg_mode);
    let client = match &plan.verify {
        None => config.connect(postgres::NoTls)?,
        Some(verify) => config.connect(connector(verify)?)?,
    };
    Ok((client, plan))
}

/// Whether the session is encrypted, from `pg_stat_ssl` (`None` if the
/// server cannot say).
pub fn session_uses_tls(client: &mut postgres::Client) -> Option<bool> {
    client
        .query_opt(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .ok()
        .flatten()
        .and_then(|row| row.try_get(0).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn opts(mode: Option<SslMode>, root: Option<RootCert>) -> TlsOptions {
        TlsOptions {
            mode,
            root_cert: root,
        }
    }

    fn tcp() -> Vec<Host> {
        vec![Host::Tcp("db.example".into())]
    }

    fn file() -> RootCert {
        RootCert::File(PathBuf::from("/etc/ca.pem"))
    }

    #[test]
    fn modes_map_onto_the_postgres_crate() {
        let cases = [
            (None, None, PgSslMode::Prefer, Some(Verify::Nothing)),
            (Some(SslMode::Disable), None, PgSslMode::Disable, None),
            (
                Some(SslMode::Allow),
                None,
                PgSslMode::Prefer,
                Some(Verify::Nothing),
            ),
            (
                Some(SslMode::Prefer),
                Some(file()),
                PgSslMode::Prefer,
                Some(Verify::Nothing),
            ),
            (
                Some(SslMode::Require),
                None,
                PgSslMode::Require,
                Some(Verify::Nothing),
            ),
            (
                Some(SslMode::Require),
                Some(file()),
                PgSslMode::Require,
                Some(Verify::Chain(file())),
            ),
            (
                Some(SslMode::VerifyCa),
                None,
                PgSslMode::Require,
                Some(Verify::Chain(RootCert::System)),
            ),
            (
                Some(SslMode::VerifyCa),
                Some(file()),
                PgSslMode::Require,
                Some(Verify::Chain(file())),
            ),
            (
                Some(SslMode::VerifyFull),
                None,
                PgSslMode::Require,
                Some(Verify::Full(RootCert::System)),
            ),
            (
                Some(SslMode::VerifyFull),
                Some(file()),
                PgSslMode::Require,
                Some(Verify::Full(file())),
            ),
            (
                None,
                Some(RootCert::System),
                PgSslMode::Require,
                Some(Verify::Full(RootCert::System)),
            ),
        ];
        for (mode, root, pg_mode, verify) in cases {
            let p = plan(&opts(mode, root.clone()), &tcp()).unwrap();
            assert_eq!(
                (p.pg_mode, &p.verify),
                (pg_mode, &verify),
                "{mode:?} {root:?}"
            );
        }
        assert_eq!(
            plan(&opts(None, None), &tcp()).unwrap().mode,
            SslMode::Prefer
        );
    }

    #[test]
    fn system_roots_need_verify_full() {
        for mode in [
            SslMode::Disable,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
        ] {
            let err = plan(&opts(Some(mode), Some(RootCert::System)), &tcp()).unwrap_err();
            assert!(err.to_string().contains("verify-full"), "{err}");
        }
    }

    #[test]
    fn unix_sockets_never_use_tls() {
        let unix = vec![Host::Unix(PathBuf::from("/run/postgresql"))];
        for mode in [
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            let p = plan(&opts(Some(mode), None), &unix).unwrap();
            assert_eq!((p.pg_mode, p.verify), (PgSslMode::Disable, None), "{mode}");
            assert_eq!(p.mode, mode);
        }
        let mixed = vec![unix[0].clone(), tcp()[0].clone()];
        assert!(plan(&opts(Some(SslMode::Require), None), &mixed).is_err());
        assert!(plan(&opts(Some(SslMode::VerifyFull), None), &mixed).is_err());
        let p = plan(&opts(None, None), &mixed).unwrap();
        assert_eq!(p.pg_mode, PgSslMode::Prefer);
    }

    #[test]
    fn connectors_build() {
        for verify in [
            Verify::Nothing,
            Verify::Chain(RootCert::System),
            Verify::Full(RootCert::System),
        ] {
            connector(&verify).unwrap();
        }
        let missing = Verify::Full(RootCert::File(PathBuf::from("/nonexistent/ca.pem")));
        let err = connector(&missing).err().unwrap();
        assert!(
            format!("{err:#}").contains("/nonexistent/ca.pem"),
            "{err:#}"
        );
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let err = read_root_certs(&junk).err().unwrap();
        assert!(format!("{err:#}").contains("no PEM or DER"), "{err:#}");
    }
}
