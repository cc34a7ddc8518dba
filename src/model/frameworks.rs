//! Application frameworks, recognised by the bookkeeping tables their migration tools keep
//! in the database, and what each one's path to PostgreSQL is.
//!
//! A framework's own schema is the one its application runs on unchanged: for a detected
//! framework, lite2pg says how to let the framework make the PostgreSQL schema and load the
//! data into it (`migrate --data-only`), and treats the bookkeeping tables as the record of
//! which migrations made a schema.

use serde::Serialize;

/// A framework whose migration bookkeeping lite2pg recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framework {
    /// Django (`django_migrations`).
    Django,
    /// Ruby on Rails / ActiveRecord (`schema_migrations` and `ar_internal_metadata`).
    Rails,
    /// SQLAlchemy's Alembic (`alembic_version`).
    Alembic,
    /// SQLAlchemy without Alembic: `create_all()` keeps no bookkeeping, so only
    /// `--framework sqlalchemy` names it.
    SqlAlchemy,
    /// Prisma (`_prisma_migrations`).
    Prisma,
    /// Laravel (`migrations` with `migration` and `batch`).
    Laravel,
    /// Elixir's Ecto (`schema_migrations` with `inserted_at`).
    Ecto,
    /// Knex (`knex_migrations`).
    Knex,
    /// Sequelize (`SequelizeMeta`).
    Sequelize,
    /// TypeORM (`migrations` with `timestamp` and `name`).
    TypeOrm,
    /// Drizzle (`__drizzle_migrations`).
    Drizzle,
}

/// A framework's migration record: which table, and the columns that name one applied
/// migration (the same set on both sides means the same migrations made both schemas).
#[derive(Debug, Clone, Copy)]
pub struct Bookkeeping {
    /// The framework.
    pub framework: Framework,
    /// The table.
    pub table: &'static str,
    /// Columns naming an applied migration; empty: the table is the framework's own
    /// state (e.g. Rails' environment), kept as the target has it.
    pub key: &'static [&'static str],
    /// Columns the table must have (tells frameworks sharing a table name apart).
    pub has: &'static [&'static str],
}

/// Every bookkeeping table lite2pg knows.
pub const BOOKKEEPING: &[Bookkeeping] = &[
    Bookkeeping {
        framework: Framework::Django,
        table: "django_migrations",
        key: &["app", "name"],
        has: &["app", "name", "applied"],
    },
    Bookkeeping {
        framework: Framework::Rails,
        table: "schema_migrations",
        key: &["version"],
        has: &["version"],
    },
    Bookkeeping {
        framework: Framework::Rails,
        table: "ar_internal_metadata",
        key: &[],
        has: &["key", "value"],
    },
    Bookkeeping {
        framework: Framework::Alembic,
        table: "alembic_version",
        key: &["version_num"],
        has: &["version_num"],
    },
    Bookkeeping {
        framework: Framework::Prisma,
        table: "_prisma_migrations",
        key: &["migration_name"],
        has: &["migration_name", "checksum"],
    },
    Bookkeeping {
        framework: Framework::Laravel,
        table: "migrations",
        key: &["migration"],
        has: &["migration", "batch"],
    },
    Bookkeeping {
        framework: Framework::Ecto,
        table: "schema_migrations",
        key: &["version"],
        has: &["version", "inserted_at"],
    },
    Bookkeeping {
        framework: Framework::Knex,
        table: "knex_migrations",
        key: &["name"],
        has: &["name", "batch"],
    },
    Bookkeeping {
        framework: Framework::Knex,
        table: "knex_migrations_lock",
        key: &[],
        has: &["is_locked"],
    },
    Bookkeeping {
        framework: Framework::Sequelize,
        table: "SequelizeMeta",
        key: &["name"],
        has: &["name"],
    },
    Bookkeeping {
        framework: Framework::TypeOrm,
        table: "migrations",
        key: &["name"],
        has: &["timestamp", "name"],
    },
    Bookkeeping {
        framework: Framework::Drizzle,
        table: "__drizzle_migrations",
        key: &["hash"],
        has: &["hash", "created_at"],
    },
];

impl Framework {
    /// Its name for people.
    pub fn name(self) -> &'static str {
        match self {
            Framework::Django => "Django",
            Framework::Rails => "Rails (ActiveRecord)",
            Framework::Alembic => "SQLAlchemy with Alembic",
            Framework::SqlAlchemy => "SQLAlchemy",
            Framework::Prisma => "Prisma",
            Framework::Laravel => "Laravel",
            Framework::Ecto => "Ecto",
            Framework::Knex => "Knex",
            Framework::Sequelize => "Sequelize",
            Framework::TypeOrm => "TypeORM",
            Framework::Drizzle => "Drizzle",
        }
    }

    /// How the framework makes its schema on PostgreSQL.
    pub fn schema_command(self) -> &'static str {
        match self {
            Framework::Django => {
                "`python manage.py migrate` with the PostgreSQL DATABASES settings"
            }
            Framework::Rails => {
                "`bin/rails db:create db:schema:load` (or `db:migrate`) with the postgresql \
                 adapter in config/database.yml"
            }
            Framework::Alembic => {
                "`alembic upgrade head` against the PostgreSQL URL (or `metadata.create_all()`)"
            }
            Framework::SqlAlchemy => "`metadata.create_all()` against the PostgreSQL URL",
            Framework::Prisma => {
                "`prisma migrate deploy` with provider = \"postgresql\" (a new migration history \
                 for PostgreSQL: Prisma's SQLite migrations do not run there)"
            }
            Framework::Laravel => "`php artisan migrate` with DB_CONNECTION=pgsql",
            Framework::Ecto => "`mix ecto.create && mix ecto.migrate` with the Postgres adapter",
            Framework::Knex => "`knex migrate:latest` with the pg client",
            Framework::Sequelize => "`sequelize db:migrate` with dialect postgres",
            Framework::TypeOrm => "`typeorm migration:run` with type postgres",
            Framework::Drizzle => "`drizzle-kit migrate` with the PostgreSQL dialect",
        }
    }
}

/// Tables a framework fills itself when it makes a schema, from its models (Django's
/// content types and permissions): under `--data-only` the SQLite file's rows replace
/// them, since other rows refer to their ids.
pub const SEEDED: &[(Framework, &str)] = &[
    (Framework::Django, "django_content_type"),
    (Framework::Django, "auth_permission"),
];

/// The framework among `detected` that seeds `table`, if one does.
pub fn seeded(detected: &[Framework], table: &str) -> Option<Framework> {
    SEEDED
        .iter()
        .find(|(fw, t)| *t == table && detected.contains(fw))
        .map(|(fw, _)| *fw)
}

/// The framework a finding names ([`Framework::name`]).
pub fn by_name(name: &str) -> Option<Framework> {
    [
        Framework::Django,
        Framework::Rails,
        Framework::Alembic,
        Framework::SqlAlchemy,
        Framework::Prisma,
        Framework::Laravel,
        Framework::Ecto,
        Framework::Knex,
        Framework::Sequelize,
        Framework::TypeOrm,
        Framework::Drizzle,
    ]
    .into_iter()
    .find(|f| f.name() == name)
}

/// The bookkeeping entry a table is, given its name and columns.
pub fn bookkeeping(table: &str, columns: &[&str]) -> Option<&'static Bookkeeping> {
    // Entries sharing a table name are told apart by their columns; the most specific first.
    let mut found: Option<&'static Bookkeeping> = None;
    for b in BOOKKEEPING.iter().filter(|b| b.table == table) {
        if b.has.iter().all(|c| columns.contains(c))
            && found.is_none_or(|f| b.has.len() > f.has.len())
        {
            found = Some(b);
        }
    }
    found
}

/// The frameworks whose bookkeeping `schema` holds.
pub fn detect(schema: &super::Schema) -> Vec<Framework> {
    let mut out = Vec::new();
    for t in &schema.tables {
        let cols: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        if let Some(b) = bookkeeping(&t.name, &cols) {
            if !out.contains(&b.framework) {
                out.push(b.framework);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frameworks_sharing_a_table_name_are_told_apart_by_its_columns() {
        assert_eq!(
            bookkeeping("schema_migrations", &["version"]).map(|b| b.framework),
            Some(Framework::Rails)
        );
        assert_eq!(
            bookkeeping("schema_migrations", &["version", "inserted_at"]).map(|b| b.framework),
            Some(Framework::Ecto)
        );
        assert_eq!(
            bookkeeping("migrations", &["id", "migration", "batch"]).map(|b| b.framework),
            Some(Framework::Laravel)
        );
        assert_eq!(
            bookkeeping("migrations", &["id", "timestamp", "name"]).map(|b| b.framework),
            Some(Framework::TypeOrm)
        );
        assert!(bookkeeping("migrations", &["id", "note"]).is_none());
        assert!(bookkeeping("orders", &["id"]).is_none());
    }
}
