//! A plan known to run: built by the translator, then test-applied on a PostgreSQL in a
//! rolled-back scratch schema, with whatever the server refuses left out and reported.

use std::collections::HashMap;
use std::path::Path;

use super::load::load;
use crate::embedded::EmbeddedPg;
use crate::error::Result;
use crate::model::Schema;
use crate::plan::{validate, Plan, PlanOptions};
use crate::sqlite::profile::TableProfile;

/// Where the DDL is test-applied before it is printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// On this server, in a rolled-back transaction.
    Url(String),
    /// On a throwaway local server, when server binaries are installed.
    Local,
    /// Not at all.
    Off,
}

/// Builds a plan and test-applies it on `client` in a scratch schema, rolled back;
/// statements PostgreSQL refuses are left out and reported.
pub fn plan_checked(
    source: &str,
    schema: &Schema,
    profiles: &HashMap<String, TableProfile>,
    options: &PlanOptions,
    client: &crate::pg::Client,
    place: &str,
) -> Result<Plan> {
    let mut plan = super::build_plan(source, schema, profiles, options);
    // The scratch-schema twin is built only when something will run it.
    let scratch_schema = format!("lite2pg_check_{}", uuid::Uuid::new_v4().simple());
    let scratch_opts = PlanOptions {
        schema: scratch_schema.clone(),
        ..options.clone()
    };
    let scratch = super::build_plan(source, schema, profiles, &scratch_opts);
    let refused = validate::test_apply(client, &scratch, &scratch_schema)?;
    validate::apply_refusals(&mut plan, &refused, place);
    Ok(plan)
}

/// Builds a plan and, per `check`, test-applies it.
pub fn make_plan(source: &Path, options: &PlanOptions, check: &Check) -> Result<Plan> {
    let (schema, profiles) = load(source)?;
    let display = source.display().to_string();
    match check {
        Check::Off => Ok(super::build_plan(&display, &schema, &profiles, options)),
        Check::Url(url) => {
            let client = crate::pg::connect(url)?;
            let place = client.target().to_string();
            plan_checked(&display, &schema, &profiles, options, &client, &place)
        }
        Check::Local => match EmbeddedPg::start() {
            Ok(pg) => {
                let client = crate::pg::connect(&pg.url("postgres"))?;
                plan_checked(
                    &display,
                    &schema,
                    &profiles,
                    options,
                    &client,
                    "a throwaway local PostgreSQL",
                )
            }
            Err(e) => {
                let mut plan = super::build_plan(&display, &schema, &profiles, options);
                plan.validation = Some(format!(
                    "DDL not test-applied ({e}); pass --to URL to check it against a server"
                ));
                Ok(plan)
            }
        },
    }
}
