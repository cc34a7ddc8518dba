//! One policy table for PostgreSQL's SQLSTATE codes: what a server error means for the
//! run (retry the step, resume later, or stop), which exit code it earns (DESIGN.md rule
//! 7) and what to tell the user.
//!
//! Exit 3 is kept for the connection and the environment (privileges, a read-only or full
//! server); an error about the data is 1 and an error about an object or the state of
//! the target is 2, so a user is never sent to check the network for a missing table.

/// What a server error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The session is gone (class 08, a server shutting down).
    Connection,
    /// A conflict with concurrent work that succeeds when tried again (deadlock,
    /// serialization failure).
    Transient,
    /// The server or the role: privileges, a read-only server, disk, memory.
    Environment,
    /// A value the target refuses: a data exception or a violated constraint.
    Data,
    /// An object is missing, exists already, or is not in the state the step needs.
    Object,
    /// Anything else: the server's own failure.
    Internal,
}

/// What to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Run the same step again at once.
    Retry,
    /// Stop; what was committed is kept and the same command with `--resume` (or `sync`
    /// again) continues once the cause is fixed.
    Resume,
    /// Stop; the user has to change something first.
    Stop,
}

/// The classification of one SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    /// What the error is about.
    pub kind: Kind,
    /// What to do.
    pub policy: Policy,
    /// A remedy worth saying for this code, if there is one beyond the server's message.
    pub hint: Option<&'static str>,
}

impl Class {
    /// The exit code an error of this class ends a command with.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            Kind::Data => 1,
            Kind::Object => 2,
            Kind::Connection | Kind::Transient | Kind::Environment | Kind::Internal => 3,
        }
    }
}

/// Classifies a SQLSTATE (`None`: the driver gave none, e.g. an I/O failure).
pub fn classify(sqlstate: Option<&str>) -> Class {
    let Some(code) = sqlstate else {
        return class(Kind::Connection, Policy::Resume, None);
    };
    let hint = hint(code);
    let (kind, policy) = match code {
        c if c.starts_with("08") => (Kind::Connection, Policy::Resume),
        "57P01" | "57P02" | "57P03" => (Kind::Connection, Policy::Resume),
        "40001" | "40P01" => (Kind::Transient, Policy::Retry),
        "57014" | "55P03" => (Kind::Environment, Policy::Resume),
        "25006" | "42501" | "3D000" => (Kind::Environment, Policy::Stop),
        c if c.starts_with("28") => (Kind::Environment, Policy::Stop),
        c if c.starts_with("53") || c.starts_with("58") => (Kind::Environment, Policy::Resume),
        c if c.starts_with("22") || c.starts_with("23") || c.starts_with("44") => {
            (Kind::Data, Policy::Stop)
        }
        c if [
            "42", "3F", "0A", "2B", "55", "25", "P0", "2F", "39", "0L", "0P",
        ]
        .iter()
        .any(|p| c.starts_with(p)) =>
        {
            (Kind::Object, Policy::Stop)
        }
        _ => (Kind::Internal, Policy::Stop),
    };
    class(kind, policy, hint)
}

fn class(kind: Kind, policy: Policy, hint: Option<&'static str>) -> Class {
    Class { kind, policy, hint }
}

/// Remedies for the codes that are the target's setup, not the data: said once, here, for
/// every statement lite2pg sends.
fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "42501" => {
            "the role lite2pg connects as lacks this privilege: connect as the database owner, \
             or grant it (lite2pg needs CREATE on the database for its control schema `lite2pg` \
             and on the target schema, or ownership of existing tables for --data-only)"
        }
        "25006" => {
            "the target accepts no writes (a hot standby, or default_transaction_read_only is \
             on): point --to at the primary"
        }
        "53100" => {
            "the server's disk is full: free space on the server, then run again with --resume"
        }
        "53200" => "the server ran out of memory: lower --jobs, or give the server more memory",
        "42P01" => {
            "a table the step needs does not exist in the target: check --schema, or that an \
             earlier phase created it (see the findings)"
        }
        "42703" => {
            "a column the step needs does not exist in the target table: the target's schema \
             differs from the SQLite source"
        }
        "40001" | "40P01" => "a conflict with concurrent work: the step is tried again",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_of_sqlstate_earns_its_exit_code() {
        let exit = |c: &str| classify(Some(c)).exit_code();
        // connection and environment: 3
        assert_eq!(exit("08006"), 3);
        assert_eq!(exit("57P01"), 3);
        assert_eq!(exit("42501"), 3);
        assert_eq!(exit("25006"), 3);
        assert_eq!(exit("53100"), 3);
        assert_eq!(classify(None).exit_code(), 3);
        // data: 1
        assert_eq!(exit("23503"), 1);
        assert_eq!(exit("23505"), 1);
        assert_eq!(exit("22P02"), 1);
        // an object or the target's state: 2
        assert_eq!(exit("42P01"), 2);
        assert_eq!(exit("42703"), 2);
        assert_eq!(exit("42P07"), 2);
        assert_eq!(exit("2BP01"), 2);
        // transient conflicts are retried
        assert_eq!(classify(Some("40P01")).policy, Policy::Retry);
        assert_eq!(classify(Some("40001")).policy, Policy::Retry);
        assert_eq!(classify(Some("XX000")).kind, Kind::Internal);
    }

    #[test]
    fn privilege_read_only_and_missing_object_errors_say_what_to_do() {
        assert!(classify(Some("42501")).hint.unwrap().contains("privilege"));
        assert!(classify(Some("25006")).hint.unwrap().contains("primary"));
        assert!(classify(Some("42P01"))
            .hint
            .unwrap()
            .contains("does not exist"));
        assert!(classify(Some("23505")).hint.is_none());
    }

    #[test]
    fn server_shutdown_and_connection_errors_count_as_a_lost_session() {
        for code in ["57P01", "08006", "08003"] {
            assert_eq!(classify(Some(code)).kind, Kind::Connection, "{code}");
        }
        for code in ["23505", "42P01"] {
            assert_ne!(classify(Some(code)).kind, Kind::Connection, "{code}");
        }
    }
}
