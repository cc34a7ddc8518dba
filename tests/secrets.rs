//! Passwords stay secret: a migration and a verification against a server that requires a
//! password (scram-sha-256), with the password in the URL, never print, log, report or
//! store it — terminal output, reports in every form, the reject file, the control schema.

mod common;

use common::{run_bin, sqlite};
use lite2pg::embedded::EmbeddedPg;

const PASSWORD: &str = "Sekr3t-Pa55word";

#[test]
fn a_password_in_the_url_appears_in_no_output_report_reject_file_or_control_table() {
    let pg = EmbeddedPg::start().unwrap();
    let admin = lite2pg::pg::connect(&pg.url("postgres")).unwrap();
    admin
        .batch_execute(
            "create the application role",
            &format!(
                "SET password_encryption = 'scram-sha-256';
                 CREATE ROLE app LOGIN PASSWORD '{PASSWORD}';"
            ),
        )
        .unwrap();
    admin
        .batch_execute("create its database", "CREATE DATABASE appdb OWNER app")
        .unwrap();
    pg.set_hba(
        "local all all trust\n\
         host all postgres 127.0.0.1/32 trust\n\
         host all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    let url = format!("postgres://app:{PASSWORD}@127.0.0.1:{}/appdb", pg.port());
    let wrong = format!(
        "postgres://app:not-{PASSWORD}@127.0.0.1:{}/appdb",
        pg.port()
    );

    let f = sqlite("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);");
    rusqlite::Connection::open(&f.path)
        .unwrap()
        .execute_batch(
            "INSERT INTO notes VALUES (1, 'one');
             INSERT INTO notes VALUES (2, 'a' || char(0) || 'b');",
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let mut seen = Vec::new();

    // A wrong password is refused, and neither password is shown.
    let (code, out, err) = run_bin(&["migrate", f.path.to_str().unwrap(), "--to", &wrong], &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("password authentication failed"), "{err}");
    seen.push(format!("{out}{err}"));

    let (code, out, err) = run_bin(
        &[
            "migrate",
            f.path.to_str().unwrap(),
            "--to",
            &url,
            "--report",
            &file("m.json"),
            "--report",
            &file("m.md"),
            "--reject-file",
            &file("rejects.jsonl"),
        ],
        &[],
    );
    assert_eq!(code, 1, "one row rejected: {out}{err}");
    assert!(
        out.contains("postgres://app:****@127.0.0.1"),
        "masked, not dropped: {out}"
    );
    seen.push(format!("{out}{err}"));
    let (code, out, err) = run_bin(
        &[
            "verify",
            f.path.to_str().unwrap(),
            "--to",
            &url,
            "--report",
            &file("v.json"),
            "--report",
            &file("v.md"),
            "--report",
            &file("v.html"),
        ],
        &[],
    );
    assert_eq!(code, 1, "the rejected row is missing: {out}{err}");
    seen.push(format!("{out}{err}"));
    // The same through the PG* variables and DATABASE_URL.
    let (code, out, err) = run_bin(
        &["verify", f.path.to_str().unwrap(), "--format", "json"],
        &[("DATABASE_URL", url.as_str())],
    );
    assert_eq!(code, 1, "{err}");
    seen.push(format!("{out}{err}"));

    let port = pg.port().to_string();
    let (code, out, err) = run_bin(
        &["verify", f.path.to_str().unwrap()],
        &[
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", port.as_str()),
            ("PGUSER", "app"),
            ("PGPASSWORD", PASSWORD),
            ("PGDATABASE", "appdb"),
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    seen.push(format!("{out}{err}"));

    for name in [
        "m.json",
        "m.md",
        "rejects.jsonl",
        "v.json",
        "v.md",
        "v.html",
    ] {
        let text = std::fs::read_to_string(file(name)).unwrap();
        assert!(!text.is_empty(), "{name} written");
        seen.push(text);
    }
    let control = lite2pg::pg::connect(&pg.url("appdb")).unwrap();
    for table in ["runs", "objects", "chunks", "rejects"] {
        let rows = control
            .query(
                "dump the control schema",
                &format!("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM lite2pg.{table} t"),
                &[],
            )
            .unwrap();
        seen.push(rows[0].get(0));
    }
    for (i, text) in seen.iter().enumerate() {
        assert!(
            !text.contains(PASSWORD),
            "output {i} shows the password:\n{text}"
        );
    }
}
