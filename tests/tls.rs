//! TLS against a local cluster with `ssl=on` and a certificate authority made here:
//! `verify-full` succeeds with the CA and fails clearly without it or for another host
//! name, `verify-ca` ignores the name, `require` encrypts without checking, `disable` is
//! refused by a server that only accepts TLS, and a client certificate logs in where the
//! server asks for one.

mod common;

use common::{run_bin, sqlite};
use lite2pg::embedded::EmbeddedPg;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

struct Pki {
    ca_pem: String,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

fn ca(name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let ca = params.self_signed(&ca_key).unwrap();
    Pki {
        ca_pem: ca.pem(),
        ca,
        ca_key,
    }
}

/// A certificate and key signed by `pki`, for `names` (server) or common name `cn` (client).
fn leaf(pki: &Pki, names: &[&str], cn: &str) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.signed_by(&key, &pki.ca, &pki.ca_key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A cluster that accepts only TLS connections over TCP, with a certificate for
/// `localhost` signed by a CA of its own.
fn tls_server(pki: &Pki) -> EmbeddedPg {
    let pg = EmbeddedPg::start().unwrap();
    let (cert, key) = leaf(pki, &["localhost"], "localhost");
    pg.install_file("server.crt", cert.as_bytes()).unwrap();
    pg.install_file("server.key", key.as_bytes()).unwrap();
    pg.install_file("ca.crt", pki.ca_pem.as_bytes()).unwrap();
    let admin = lite2pg::pg::connect(&format!("{}?sslmode=disable", pg.url("postgres"))).unwrap();
    for setting in [
        "ssl_cert_file = 'server.crt'",
        "ssl_key_file = 'server.key'",
        "ssl_ca_file = 'ca.crt'",
        "ssl = on",
    ] {
        admin
            .batch_execute("turn TLS on", &format!("ALTER SYSTEM SET {setting}"))
            .unwrap();
    }
    pg.set_hba(
        "local all all trust\n\
         hostssl all all 127.0.0.1/32 trust\n\
         hostssl all all ::1/128 trust\n\
         host all all all reject\n",
    )
    .unwrap();
    pg
}

/// `plan --to URL` test-applies the plan on the server: exit 0 means it connected.
fn connect_with(db: &std::path::Path, url: &str) -> (i32, String) {
    let (code, out, err) = run_bin(
        &[
            "plan",
            db.to_str().unwrap(),
            "--format",
            "sql",
            "-o",
            "/dev/null",
            "--to",
            url,
        ],
        &[("HOME", "/nonexistent")],
    );
    (code, format!("{out}{err}"))
}

#[test]
fn sslmodes_against_a_server_with_its_own_certificate_authority() {
    let pki = ca("lite2pg test CA");
    let other = ca("some other CA");
    let pg = tls_server(&pki);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    let other_file = dir.path().join("other.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    std::fs::write(&other_file, &other.ca_pem).unwrap();
    let f =
        sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'x');");
    let port = pg.port();
    let url = |host: &str, opts: &str| format!("postgres://postgres@{host}:{port}/postgres?{opts}");
    let ca = ca_file.display();

    // verify-full with the CA: a whole migration and its verification over TLS.
    let full = url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let (code, out, err) = run_bin(
        &[
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            &full,
            "--quiet",
        ],
        &[],
    );
    assert_eq!(code, 0, "verify-full with the CA: {out}{err}");

    // verify-full signed by another CA, or with no CA at all: refused, saying why.
    let (code, out) = connect_with(
        &f.path,
        &url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={}", other_file.display()),
        ),
    );
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("certificate") && out.contains("sslrootcert"),
        "{out}"
    );
    let (code, out) = connect_with(&f.path, &url("localhost", "sslmode=verify-full"));
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("needs the root certificate"), "{out}");

    // The certificate names localhost, not 127.0.0.1: verify-full refuses, verify-ca does not.
    let (code, out) = connect_with(
        &f.path,
        &url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
    );
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("certificate"), "{out}");
    let (code, out) = connect_with(
        &f.path,
        &url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")),
    );
    assert_eq!(code, 0, "{out}");

    // require encrypts without checking; prefer takes TLS when offered; disable is refused
    // by a server that accepts only TLS.
    assert_eq!(
        connect_with(&f.path, &url("127.0.0.1", "sslmode=require")).0,
        0
    );
    assert_eq!(
        connect_with(&f.path, &url("127.0.0.1", "sslmode=prefer")).0,
        0
    );
    let (code, out) = connect_with(&f.path, &url("127.0.0.1", "sslmode=disable"));
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("pg_hba.conf"), "{out}");

    // The PG* variables carry the same options.
    let (code, out, err) = run_bin(
        &[
            "plan",
            f.path.to_str().unwrap(),
            "--format",
            "sql",
            "-o",
            "/dev/null",
            "--to",
            &format!("postgres://postgres@localhost:{port}/postgres"),
        ],
        &[
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", &ca_file.display().to_string()),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out) = connect_with(&f.path, &url("localhost", "sslmode=bogus"));
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("sslmode=bogus"), "{out}");
}

#[test]
fn a_client_certificate_logs_in_where_the_server_asks_for_one() {
    let pki = ca("lite2pg test CA");
    let pg = tls_server(&pki);
    pg.set_hba(
        "local all all trust\n\
         hostssl all all 127.0.0.1/32 cert\n\
         hostssl all all ::1/128 cert\n\
         host all all all reject\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = leaf(&pki, &[], "postgres");
    let (ca_file, cert_file, key_file) = (
        dir.path().join("ca.pem"),
        dir.path().join("client.crt"),
        dir.path().join("client.key"),
    );
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let f = sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY);");
    let base = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        pg.port(),
        ca_file.display()
    );
    let (code, out) = connect_with(
        &f.path,
        &format!(
            "{base}&sslcert={}&sslkey={}",
            cert_file.display(),
            key_file.display()
        ),
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = connect_with(&f.path, &base);
    assert_eq!(code, 3, "without the client certificate: {out}");
    let (code, out) = connect_with(&f.path, &format!("{base}&sslcert={}", cert_file.display()));
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("sslkey"), "{out}");
}
